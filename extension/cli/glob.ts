/**
 * A deliberately small glob for `--checkpoints`: `*` (any run of characters but '/') and `?` (one
 * character) within a path segment, nothing else (no `**`, braces or classes). Only directories are
 * listed (readdir), no shell runs, hidden entries match only a pattern segment that starts with '.',
 * and results are sorted in natural order (epoch-2 before epoch-10).
 */
import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { InputError } from '../errors.js';

/** Most paths one pattern may match. */
export const MAX_MATCHES = 1000;

export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true, sensitivity: 'variant' }) || (a < b ? -1 : a > b ? 1 : 0);
}

const hasWildcard = (s: string) => /[*?]/.test(s);

function segmentRegex(seg: string): RegExp {
  const body = seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/** The files matching `pattern` (relative to `cwd`), in natural order, as written (relative stays relative). */
export function expandGlob(pattern: string, cwd = process.cwd()): string[] {
  if (pattern.includes('**')) throw new InputError(pattern, '`**` is not supported in --checkpoints; use one `*` per folder level, e.g. runs/epoch-*/model.json');
  if (/[[\]{}]/.test(pattern)) throw new InputError(pattern, '--checkpoints supports only `*` and `?` wildcards');
  const segs = pattern.split(/[\\/]+/);
  const absolute = isAbsolute(pattern);
  let current: string[] = [absolute ? (segs.shift(), '/') : ''];
  segs.forEach((seg, k) => {
    const last = k === segs.length - 1;
    const next: string[] = [];
    for (const dir of current) {
      const names = !hasWildcard(seg)
        ? [seg]
        : listDir(resolve(cwd, dir || '.')).filter((n) => segmentRegex(seg).test(n) && (!n.startsWith('.') || seg.startsWith('.')));
      for (const name of names) {
        const rel = dir === '' ? name : join(dir, name);
        const st = statOrNull(resolve(cwd, rel));
        if (st && (last ? st.isFile() : st.isDirectory())) next.push(rel);
        if (next.length > MAX_MATCHES) throw new InputError(pattern, `matches more than ${MAX_MATCHES} paths; narrow the pattern`);
      }
    }
    current = next;
  });
  return current.sort(naturalCompare);
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function statOrNull(p: string) {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}
