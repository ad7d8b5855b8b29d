/**
 * The hover's Markdown for one layer, as a string (no vscode import, so it is tested in plain node).
 * Layer and class names come from untrusted model files: every Markdown and HTML character in them is
 * backslash-escaped so they show as text, and the command link's argument is percent-encoded whole
 * (parentheses included) so that no name can end the link early.
 */
import type { LayerResult } from '../protocol.js';

const f = (v: number | null | undefined) => (v == null || !Number.isFinite(v) ? 'n/a' : Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(3) : v.toPrecision(4));

/** Text shown literally in Markdown: control characters flattened, every punctuation Markdown or HTML reads escaped. */
export function hoverEscape(s: string): string {
  return s.replace(/[\u0000-\u001F\u007F\u2028\u2029]+/g, ' ').replace(/[\\`*_{}[\]()#+\-.!|<>&~="':;/]/g, '\\$&');
}

/** encodeURIComponent, plus the characters it leaves alone that end or alter a Markdown link. */
export function linkArg(value: unknown): string {
  return encodeURIComponent(JSON.stringify(value)).replace(/[()'!*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function layerHoverText(l: LayerResult): string {
  const d = l.tensors.map((t) => t.diagonal);
  const min = Math.min(...d.map((x) => x.min));
  const max = Math.max(...d.map((x) => x.max));
  const mean = d.reduce((s, x, i) => s + x.mean * l.tensors[i].shape.reduce((a, b) => a * b, 1), 0) / l.parameters;
  const t = l.trace;
  return [
    `**${hoverEscape(l.name)}** (${hoverEscape(l.className)}) · curvature\n\n`,
    '| | |\n|---|---|\n',
    `| parameters | ${l.parameters} |\n`,
    `| trace | ${f(t.value)}${t.stderr != null ? ` ± ${f(t.stderr)}` : ' (exact)'} |\n`,
    `| diagonal mean / min / max | ${f(mean)} / ${f(min)} / ${f(max)} |\n`,
    `| top eigenvalues | ${l.eigenvalues.top.map((e) => f(e.value)).join(', ')} |\n`,
    `| bottom eigenvalues | ${l.eigenvalues.bottom.map((e) => f(e.value)).join(', ')} |\n\n`,
    `[Show in Curvature panel](command:curvatureLens.showLayer?${linkArg([l.name])})`,
  ].join('');
}
