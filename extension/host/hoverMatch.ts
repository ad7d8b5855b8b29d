/**
 * Which layer of the latest result, if any, the text under the cursor names. Pure (no vscode), so the
 * rules are unit-tested (test/hover.test.ts). Layer names are those of the result: Keras names
 * (`dense_1`, `encoder`) or PyTorch module paths from ONNX initializers (`fc1`, `features.0`).
 *
 *   `fc1 = nn.Linear(…)`, `encoder`      a bare identifier equal to a layer name
 *   `self.fc1`, `self.encoder.fc1`       the path after `self.`/`this.`; else the one layer whose module
 *                                        path ends with it (a submodule's own `self.fc1`)
 *   `model.features[0]`, `net.fc1.weight` the path after its receiver (`features.0`, `fc1`), indexes as
 *                                        path segments; a trailing `.weight`/`.bias` names the layer
 *   `layers.Dense(64, name="encoder")`   the callee of a call whose `name=` is a layer name
 *   `"features.0.weight"`, `"dense/kernel"` a string literal naming a layer or one of its weights
 *
 * Words in Python comments and in strings that are not a name (`"the encoder"`) match nothing, and
 * other receivers' attributes (`np.linalg.norm` when a layer is called `norm`) do not either.
 */

export interface LayerHit {
  /** The layer's name in the result. */
  name: string;
  /** Character range in the line of the text that named it. */
  start: number;
  end: number;
}

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const WEIGHT_SUFFIX = /(?:[./](?:weight|bias|kernel|gamma|beta|embeddings|depthwise_kernel|moving_mean|moving_variance|running_mean|running_var)(?::\d+)?)$/;

export function layerAtPosition(line: string, ch: number, layers: readonly string[], languageId = ''): LayerHit | null {
  if (layers.length === 0 || ch < 0 || ch > line.length) return null;
  const names = new Set(layers);
  const lit = literalAt(line, ch, languageId);
  if (lit === 'comment') return null;
  if (lit) {
    const text = line.slice(lit.start, lit.end);
    const name = names.has(text) ? text : names.has(text.replace(WEIGHT_SUFFIX, '')) ? text.replace(WEIGHT_SUFFIX, '') : null;
    return name ? { name, start: lit.start, end: lit.end } : null;
  }
  const path = pathAt(line, ch);
  if (!path) return null;
  const { parts, seg, afterDot, end } = path;
  const upTo = parts.slice(0, seg + 1).map((p) => p.text);
  const range = { start: parts[seg].start, end: parts[seg].end };
  const hit = (name: string | undefined): LayerHit | null => (name !== undefined && names.has(name) ? { name, ...range } : null);
  const tryPath = (segs: string[]): LayerHit | null => {
    if (segs.length === 0) return null;
    if (afterDot) return hit(segs.join('.'));
    if (segs.length === 1) return hit(segs[0]);
    if (segs[0] === 'self' || segs[0] === 'this') {
      const rest = segs.slice(1).join('.');
      if (names.has(rest)) return hit(rest);
      const owners = layers.filter((n) => n.endsWith(`.${rest}`));
      return owners.length === 1 ? hit(owners[0]) : null;
    }
    return hit(segs.join('.')) ?? hit(segs.slice(1).join('.'));
  };
  let found = tryPath(upTo);
  // `.weight` / `.bias` after a layer's path names that layer.
  if (!found && seg === parts.length - 1 && WEIGHT_SUFFIX.test(`.${upTo[upTo.length - 1]}`)) found = tryPath(upTo.slice(0, -1));
  if (found) return found;
  // The callee of `layers.Dense(…, name="encoder")`.
  if (seg === parts.length - 1) {
    const call = /^\s*\(/.exec(line.slice(end));
    if (call) {
      const named = /\bname\s*=\s*(["'])([^"'\\]*)\1/.exec(line.slice(end + call[0].length));
      if (named && names.has(named[2])) return { name: named[2], ...range };
    }
  }
  return null;
}

interface Part {
  text: string;
  start: number;
  end: number;
}

/**
 * The dotted path around `ch` (`a.b[0].c`), split into segments, with the index of the segment under the
 * cursor; null when the cursor is on no identifier or index.
 */
function pathAt(line: string, ch: number): { parts: Part[]; seg: number; afterDot: boolean; end: number } | null {
  // Walk left to the path's start: identifiers, digits, dots and brackets.
  let s = ch;
  while (s > 0 && /[A-Za-z0-9_.[\]]/.test(line[s - 1])) s--;
  const parts: Part[] = [];
  let i = s;
  // A path that starts mid-expression (`f().x`, `a[i].x`) keeps only what follows the last `.` we can read.
  while (i < line.length) {
    if (line[i] === '.' || line[i] === '[' || line[i] === ']') {
      i++;
      continue;
    }
    IDENT.lastIndex = i;
    const id = IDENT.exec(line);
    const num = id ? null : /^\d+/.exec(line.slice(i));
    const text = id ? id[0] : num ? num[0] : null;
    if (!text) break;
    parts.push({ text, start: i, end: i + text.length });
    i += text.length;
    if (!/[.[\]]/.test(line[i] ?? '')) break;
  }
  const seg = parts.findIndex((p) => ch >= p.start && ch < p.end);
  if (seg < 0) return null;
  // Bracketed non-numeric indexes (`a[i]`) and numeric first segments are not module paths.
  if (/^\d/.test(parts[0].text)) return null;
  const afterDot = s > 0 && line[s - 1] === ')';
  return { parts, seg, afterDot, end: parts[parts.length - 1].end + (line[parts[parts.length - 1].end] === ']' ? 1 : 0) };
}

/** The string literal's content range around `ch`, 'comment' in a Python/JS comment, else null. */
function literalAt(line: string, ch: number, languageId: string): { start: number; end: number } | 'comment' | null {
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\') {
        i++;
        continue;
      }
      if (c === quote) {
        if (ch >= start && ch < i) return { start, end: i };
        quote = null;
      }
      continue;
    }
    if (i >= ch) return null;
    if (c === '"' || c === "'" || c === '`') {
      quote = c;
      start = i + 1;
    } else if (c === '#' && languageId === 'python') {
      return 'comment';
    } else if (c === '/' && line[i + 1] === '/' && languageId !== 'python' && languageId !== 'json') {
      return 'comment';
    }
  }
  return quote && ch >= start ? { start, end: line.length } : null;
}
