/**
 * A small, checked view of an HDF5 file (the weights of Keras `.keras` archives and legacy `.h5` models),
 * read with jsfive (npm, pure JavaScript). The file is untrusted: every failure of the parser (it throws
 * strings as well as Errors) becomes the caller's `fail`, string attributes lose HDF5's NUL padding, and
 * a dataset's size is checked against the caller's byte budget before its values are read.
 */
import * as jsfive from 'jsfive';

type Fail = (detail: string) => never;

export interface H5Dataset {
  path: string;
  shape: number[];
  dtype: string;
  /** Values as float32, read only after the element count and budget are checked. */
  read(budget: { bytesLeft: number }): Float32Array;
}

export interface H5File {
  /** Whether `path` names a group or dataset (never throws). */
  has(path: string): boolean;
  isGroup(path: string): boolean;
  /** Member names of the group at `path`, in the file's order. */
  keys(path: string): string[];
  /** An attribute: strings (NUL padding removed), string lists, numbers; undefined when absent. */
  attr(path: string, name: string): unknown;
  dataset(path: string): H5Dataset;
}

const FLOAT_TYPES: Record<string, number> = { '<f4': 4, '>f4': 4, '<f8': 8, '>f8': 8 };

const reason = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200);

const clean = (v: unknown): unknown => {
  if (typeof v === 'string') return v.replace(/\0+$/, '');
  if (Array.isArray(v)) return v.map(clean);
  return v;
};

export function openHdf5(bytes: Uint8Array, name: string, fail: Fail): H5File {
  const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 8 || HDF5_MAGIC.some((b, i) => bytes[i] !== b)) {
    fail('not an HDF5 file (no HDF5 signature at its start); the file is damaged or not a Keras model');
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let file: jsfive.File;
  try {
    file = new jsfive.File(buffer, name);
  } catch (e) {
    return fail(`corrupt HDF5 file (${reason(e)})`);
  }
  const guard = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      return fail(`corrupt HDF5 file: cannot read ${what} (${reason(e)})`);
    }
  };
  const get = (path: string): jsfive.Group | jsfive.Dataset | null => {
    if (path === '' || path === '/') return file;
    // Walk member by member so that a missing name is "absent", not a parser error.
    let node: jsfive.Group | jsfive.Dataset = file;
    for (const part of path.split('/').filter((p) => p !== '')) {
      if (!(node instanceof jsfive.Group)) return null;
      const g: jsfive.Group = node;
      if (!guard(`the members of "${g === file ? '/' : path}"`, () => g.keys).includes(part)) return null;
      const next = guard(`"${path}"`, () => g.get(part));
      if (!next) return null;
      node = next;
    }
    return node;
  };
  return {
    has: (path) => get(path) !== null,
    isGroup: (path) => get(path) instanceof jsfive.Group,
    keys(path) {
      const g = get(path);
      if (!(g instanceof jsfive.Group)) return fail(`HDF5 group "${path}" is missing`);
      return guard(`the members of "${path}"`, () => g.keys);
    },
    attr(path, key) {
      const node = get(path);
      if (!node) return undefined;
      const attrs = guard(`the attributes of "${path || '/'}"`, () => node.attrs);
      return key in attrs ? clean(attrs[key]) : undefined;
    },
    dataset(path) {
      const d = get(path);
      if (!(d instanceof jsfive.Dataset)) return fail(`HDF5 dataset "${path}" is missing`);
      const shape = guard(`the shape of "${path}"`, () => d.shape) ?? [];
      const rawType = guard(`the type of "${path}"`, () => d.dtype);
      const dtype = typeof rawType === 'string' ? rawType : JSON.stringify(rawType);
      return {
        path,
        shape: [...shape],
        dtype,
        read(budget) {
          const item = FLOAT_TYPES[dtype];
          if (!item) fail(`dataset "${path}" has type ${dtype}; weights must be float32 or float64`);
          if (!shape.every((s) => Number.isSafeInteger(s) && s >= 0)) fail(`dataset "${path}" has an invalid shape [${shape}]`);
          const count = shape.reduce((a, s) => a * s, 1);
          if (count * 4 > budget.bytesLeft) fail(`dataset "${path}" ([${shape}]) takes the weights past the size limit; the model is too large`);
          budget.bytesLeft -= count * 4;
          const values = guard(`the values of "${path}"`, () => d.value);
          if (!values || values.length !== count) fail(`dataset "${path}" holds ${values?.length ?? 0} values but its shape [${shape}] needs ${count}`);
          const out = Float32Array.from(values as ArrayLike<number>);
          const bad = out.findIndex((v) => !Number.isFinite(v));
          if (bad >= 0) fail(`weight "${path}" has a non-finite value (${out[bad]}) at flat index ${bad}`);
          return out;
        },
      };
    },
  };
}
