/**
 * Number formatting for the Curvature panel. Pure (no DOM): the panel, its charts and the tests share it.
 * Minus signs are U+2212 ("−") so that columns of signed numbers line up and read as numbers; every
 * number shown in a table also carries its full-precision value in a `data-value` attribute.
 */

export const MINUS = '\u2212';
export const DASH = '\u2014';

const SUPERSCRIPT: Record<string, string> = { '-': '\u207b', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹' };

/** Replaces ASCII hyphen-minus signs by U+2212 (numbers only: "1e-5" → "1e−5", "-3" → "−3"). */
function minus(s: string): string {
  return s.replace(/-/g, MINUS);
}

/**
 * A number to `sig` significant digits: fixed notation for 1e−3 ≤ |x| < 1e6, "1.23e−7" otherwise;
 * trailing zeros dropped; null, undefined and NaN as "—"; ±Infinity as "±∞".
 */
export function formatNumber(x: number | null | undefined, sig = 4): string {
  if (x == null || Number.isNaN(x)) return DASH;
  if (!Number.isFinite(x)) return x > 0 ? '∞' : `${MINUS}∞`;
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e6) {
    const digits = Math.max(0, sig - 1 - Math.floor(Math.log10(a)));
    let s = x.toFixed(Math.min(digits, 20));
    // Trailing zeros go (also those left when toFixed rounds up a decade: 9.99996 → "10.000" → "10").
    if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
    return minus(s);
  }
  const [mant, exp] = x.toExponential(Math.max(0, sig - 1)).split('e');
  const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
  return minus(`${m}e${exp.replace('+', '')}`);
}

/** "1.23×10⁻⁷"-style exponent, for axis labels where it reads better than "e−7". */
export function formatPower(x: number, sig = 3): string {
  const s = formatNumber(x, sig);
  const m = /^(.*)e(.*)$/.exec(s.replace(new RegExp(MINUS, 'g'), '-'));
  if (!m) return s;
  const exp = [...m[2]].map((c) => SUPERSCRIPT[c] ?? c).join('');
  return `${minus(m[1])}×10${exp}`;
}

/**
 * A value with its standard error: 199.52, 15.71 → "200 ± 16"; 11.10, 3.42 → "11.1 ± 3.4". The error gets
 * two significant digits and the value is given to the same decimal place (or to `minSig` significant
 * digits, at most two places beyond the error's), in fixed notation when the value is in [1e−3, 1e6)
 * and the error in [1e−6, 1e6); otherwise each gets its own `formatNumber`. Without a stderr, just the
 * value.
 */
export function formatPm(value: number | null | undefined, stderr: number | null | undefined, minSig = 3): string {
  if (value == null || Number.isNaN(value)) return DASH;
  if (stderr == null || !Number.isFinite(stderr) || stderr < 0) return formatNumber(value, 4);
  if (stderr === 0) return `${formatNumber(value, 4)} ± 0`;
  const a = Math.abs(value);
  const inRange = (y: number) => y === 0 || (y >= 1e-3 && y < 1e6);
  if (Number.isFinite(value) && inRange(a) && stderr >= 1e-6 && stderr < 1e6) {
    const errDecimals = 1 - Math.floor(Math.log10(stderr));
    const valDecimals = a > 0 ? minSig - 1 - Math.floor(Math.log10(a)) : 0;
    const d = Math.max(0, Math.min(12, Math.max(errDecimals, Math.min(valDecimals, errDecimals + 2))));
    return `${minus(value.toFixed(d))} ± ${stderr.toFixed(Math.max(0, Math.min(12, errDecimals)))}`;
  }
  return `${formatNumber(value, 4)} ± ${formatNumber(stderr, 2)}`;
}

/** Seconds as "0.4 s", "12 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return DASH;
  if (seconds < 10) return `${(Math.round(seconds * 10) / 10).toString()} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** An integer count with thin-space thousands groups: 1234567 → "1 234 567". */
export function formatCount(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return DASH;
  const s = Math.round(Math.abs(n)).toString().replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
  return n < 0 ? MINUS + s : s;
}

/** A tensor shape as "[3, 3, 1, 8]". */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Parses what formatNumber/formatPm printed back into a number (U+2212 understood); NaN if none. */
export function parseShown(s: string): number {
  const m = /[-\u2212]?(\d+(\.\d*)?|\.\d+)(e[-\u2212+]?\d+)?/i.exec(s);
  return m ? Number(m[0].replace(/\u2212/g, '-')) : Number.NaN;
}
