/**
 * Reader for numpy's `.npz` archives: a zip of `.npy` members, stored (`np.savez`) or deflated
 * (`np.savez_compressed`), read with the zip reader of zip.ts (numpy writes members with
 * `force_zip64=True`, so local headers carry 0xFFFFFFFF sizes). Arrays keep zip order, named as numpy
 * names them (member name less `.npy`). Every problem is an InputError.
 */
import { InputError } from '../errors.js';
import { reserve } from './alloc.js';
import { DEFAULT_LIMITS, decodeNpy, printable, readInput, tooBig, type NdArray, type ReadLimits } from './npy.js';
import { zipEntries, zipExtract } from './zip.js';

export { crc32 } from './zip.js';

const NOT_A_ZIP = 'not an .npz (zip) archive, or truncated: no end-of-central-directory record; save it with np.savez';

export function parseNpz(bytes: Uint8Array, file: string, limits: ReadLimits = DEFAULT_LIMITS): Map<string, NdArray> {
  const fail = (detail: string): never => {
    throw new InputError(file, detail);
  };
  if (bytes.length > limits.maxBytes) fail(tooBig('the file is', bytes.length, limits));
  const out = new Map<string, NdArray>();
  // All members together may not unpack to more than this (a zip bomb of many members, each under maxBytes).
  const maxTotal = limits.maxDecompressedBytes ?? limits.maxBytes;
  let total = 0;
  for (const entry of zipEntries(bytes, fail, NOT_A_ZIP)) {
    const member = (detail: string): never => fail(`member '${printable(entry.name)}': ${detail}`);
    if (!entry.name.endsWith('.npy')) member('not a .npy array; an .npz must hold only arrays saved by np.savez');
    const name = entry.name.slice(0, -4);
    if (out.has(name)) member('appears twice in the archive; save each array once');
    if (entry.size > limits.maxBytes) member(tooBig('declares an uncompressed size of', entry.size, limits));
    total += entry.size;
    reserve(total, maxTotal, member, "unpacking the archive's members (up to this one)");
    out.set(name, decodeNpy(zipExtract(bytes, entry, limits, member, 'numpy'), member, limits));
  }
  return out;
}

export function readNpz(path: string, limits: ReadLimits = DEFAULT_LIMITS): Map<string, NdArray> {
  return parseNpz(readInput(path, limits, '.npz'), path, limits);
}
