/** Writing .npy bytes in tests (format 1.0, C order), as numpy does, with the header padded to 64 bytes. */

export function npy(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, h.length, true);
  out.set(h, 10);
  out.set(data, 10 + h.length);
  return out;
}

/** Little-endian float32 bytes. */
export const f32 = (a: ArrayLike<number>) => new Uint8Array(Float32Array.from(a).buffer);
/** Little-endian int64 bytes. */
export const i64 = (a: ArrayLike<number>) => new Uint8Array(BigInt64Array.from(Array.from(a, (v) => BigInt(v))).buffer);
