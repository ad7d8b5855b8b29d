/**
 * Reader for data as JSON: `{"x": [...nested numbers...], "y": [...]}`.
 *
 * The file size is checked before anything is read (JSON is parsed whole, so it has a lower limit than
 * the binary formats), the bracket nesting is checked before parsing, and the nested arrays must be
 * rectangular: every array at one depth has the same length, and the leaves are numbers. Errors name the
 * first offending element by its path (`x[3][1] has 4 entries, x[0][1] has 5`). x becomes float32; y
 * becomes int64 when every value is an integer (so that sparse labels are recognised), else float64.
 * Every problem is an InputError.
 */
import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { allocate } from './alloc.js';
import { jsonDepthExceeded } from './jsonDepth.js';
import { DEFAULT_LIMITS, printable, type NdArray, type ReadLimits } from './npy.js';

/** JSON is parsed whole (text, then a tree of JS values): refuse files above this before reading them. */
export const JSON_MAX_BYTES = 256 * 2 ** 20;
/** At most this many array dimensions (numpy's own limit), so at most one more level of nesting. */
export const JSON_MAX_DIMS = 32;

type Fail = (detail: string) => never;

export function readJsonData(path: string, limits: ReadLimits = DEFAULT_LIMITS): { x: NdArray; y: NdArray } {
  const fail: Fail = (detail) => {
    throw new InputError(path, detail);
  };
  const max = Math.min(limits.maxBytes, JSON_MAX_BYTES);
  const size = fileSize(path, '.json', fail);
  if (size > max) {
    fail(`the file is ${size} bytes, above the limit of ${max} bytes for .json data (it is parsed whole); save large data as .npy, .npz or .csv`);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    return fail(`cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseJsonData(bytes, path, limits);
}

/** Parses the bytes of a JSON data file (named `file` in errors). */
export function parseJsonData(bytes: Uint8Array, file: string, limits: ReadLimits = DEFAULT_LIMITS): { x: NdArray; y: NdArray } {
  const fail: Fail = (detail) => {
    throw new InputError(file, detail);
  };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); // drops a leading BOM
  } catch {
    return fail('is not valid UTF-8 text; save the JSON as UTF-8');
  }
  if (text.trim() === '') fail('is empty; expected {"x": [...], "y": [...]}');
  checkNesting(text, fail);
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    const why = String((e as Error).message).replace(/[\x00-\x1f\x7f-\x9f]+/g, ' ');
    return fail(`is not valid JSON (${why.length > 120 ? `${why.slice(0, 120)}...` : why})`);
  }
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    fail(`is not a data object: expected {"x": [...], "y": [...]}, found ${describe(root)}`);
  }
  const obj = root as Record<string, unknown>;
  for (const name of ['x', 'y']) {
    if (!Object.prototype.hasOwnProperty.call(obj, name)) {
      const keys = Object.keys(obj);
      fail(`has no "${name}" array; expected {"x": [...], "y": [...]} (found keys: ${keys.length ? printable(keys.slice(0, 8).join(', ')) : 'none'})`);
    }
  }
  const x = toArray(obj.x, 'x', fail, limits);
  const y = toArray(obj.y, 'y', fail, limits);
  const xf = allocate('float32', x.values.length, limits.maxBytes, file, '"x" as float32');
  xf.set(x.values);
  return { x: { dtype: 'float32', shape: x.shape, data: xf }, y: labels(y) };
}

function labels(a: { shape: number[]; values: Float64Array }): NdArray {
  const integer = a.values.every((v) => Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER);
  return { dtype: integer ? 'int64' : 'float64', shape: a.shape, data: a.values };
}

/** Refuses nesting deeper than the dimension limit before JSON.parse builds the tree (strings skipped). */
function checkNesting(text: string, fail: Fail): void {
  // the object holding x and y is one level, then at most JSON_MAX_DIMS levels of arrays
  const at = jsonDepthExceeded(text, JSON_MAX_DIMS + 1);
  if (at >= 0) fail(`nests arrays more than ${JSON_MAX_DIMS} levels deep (at character ${at}); x and y may have at most ${JSON_MAX_DIMS} dimensions`);
}

/** A rectangular nested array of numbers: its shape (from the first element at each depth) and values. */
function toArray(v: unknown, name: string, fail: Fail, limits: ReadLimits): { shape: number[]; values: Float64Array } {
  if (!Array.isArray(v)) fail(`"${name}" must be an array (one entry per example), found ${describe(v)}`);
  const shape: number[] = [];
  for (let a: unknown = v; Array.isArray(a); a = a[0]) {
    shape.push(a.length);
    if (a.length === 0) break;
  }
  if (shape[0] === 0) fail(`"${name}" is an empty array: it has no examples`);
  const count = shape.reduce((p, d) => p * d, 1);
  // The shape comes from the first element at each depth: check that the whole array is rectangular
  // (a first pass that stores nothing) before allocating, so a small file cannot declare a huge array.
  let values: Float64Array | null = null;
  const index: number[] = [];
  let k = 0;
  const path = (idx: number[]) => `${name}${idx.map((i) => `[${i}]`).join('')}`;
  /** Where the element at `idx` should have been like: the same place in example 0, else the first at its depth. */
  const reference = (idx: number[]) => path(idx[0] !== 0 ? [0, ...idx.slice(1)] : idx.map(() => 0));
  const walk = (a: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof a === 'number') {
        if (values) values[k] = a;
        k++;
        return;
      }
      if (Array.isArray(a)) fail(`${path(index)} is an array, but ${reference(index)} is a number: "${name}" is not rectangular`);
      fail(`${path(index)} is ${describe(a)}, not a number; "${name}" must hold numbers only`);
    }
    if (!Array.isArray(a)) {
      if (typeof a === 'number') fail(`${path(index)} is a number, but ${reference(index)} is an array: "${name}" is not rectangular`);
      fail(`${path(index)} is ${describe(a)}, not a number or an array; "${name}" must hold numbers only`);
    }
    if (a.length !== shape[depth]) {
      const entries = (k: number) => `${k} ${k === 1 ? 'entry' : 'entries'}`;
      fail(`${path(index)} has ${entries(a.length)}, ${reference(index)} has ${entries(shape[depth])}: "${name}" is not rectangular`);
    }
    index.push(0);
    for (let i = 0; i < a.length; i++) {
      index[depth] = i;
      walk(a[i], depth + 1);
    }
    index.pop();
  };
  walk(v, 0);
  values = allocate('float64', count, limits.maxBytes, fail, `"${name}" of shape [${shape}] as float64`);
  k = 0;
  walk(v, 0);
  return { shape, values };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string':
      return `the string ${printable(JSON.stringify(v))}`;
    case 'boolean':
      return `${v}`;
    case 'number':
      return `the number ${v}`;
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

/** The size of an input file, with one-line errors for a missing or unreadable one. */
export function fileSize(path: string, kind: string, fail: Fail): number {
  try {
    const st = statSync(path);
    if (!st.isFile()) fail(`is not a file; expected a ${kind} file`);
    return st.size;
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? `file not found; check the path to the ${kind} file` : `cannot read the file (${code ?? String(e)})`);
  }
}
