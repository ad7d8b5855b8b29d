/**
 * Nesting depth of JSON text, measured on the text before JSON.parse builds a tree: files from anywhere
 * may nest brackets thousands deep, and every recursive walk of the parsed tree (ours, JSON.stringify in
 * a message) would then overflow the stack. Brackets inside strings do not count.
 */

/** The character index where the nesting first exceeds `max` levels, or -1 when it never does. */
export function jsonDepthExceeded(text: string, max: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: skip to its closing quote (escapes skip one character)
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return -1;
}
