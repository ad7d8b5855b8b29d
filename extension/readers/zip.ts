/**
 * A zip archive reader for the formats that are zips (numpy's `.npz`, Keras' `.keras`). Sizes and
 * offsets are taken from the central directory (with its zip64 extra fields and the zip64 end record
 * when present), never from local headers, since numpy writes local headers with 0xFFFFFFFF sizes.
 * Each member is size-checked before inflating (zip-bomb guard) and CRC-checked. Every problem goes
 * to the caller's `fail`, which throws an InputError naming the file.
 */
import { inflateRawSync } from 'node:zlib';
import { reserve } from './alloc.js';
import { printable, tooBig, type ReadLimits } from './npy.js';

type Fail = (detail: string) => never;

export interface ZipEntry {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

/** Little-endian reads that fail (as "truncated") instead of reading past the end. */
class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array, private readonly fail: Fail) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(offset: number, length: number, what: string): void {
    if (offset < 0 || offset + length > this.bytes.length) {
      this.fail(`truncated or corrupt archive: ${what} at offset ${offset} runs past the end of the file (${this.bytes.length} bytes)`);
    }
  }
  u16(offset: number): number {
    return this.view.getUint16(offset, true);
  }
  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }
  u64(offset: number, what: string): number {
    const v = this.view.getUint32(offset + 4, true) * 2 ** 32 + this.view.getUint32(offset, true);
    if (!Number.isSafeInteger(v)) this.fail(`corrupt archive: ${what} ${v} is impossibly large`);
    return v;
  }
}

/**
 * The archive's members as its central directory lists them (zip64 fields applied). `notAZip` is the
 * message when there is no end-of-central-directory record (the file is no zip, or truncated).
 */
export function zipEntries(bytes: Uint8Array, fail: Fail, notAZip: string): ZipEntry[] {
  const r = new Reader(bytes, fail);
  // The end record is the last 22 bytes, unless an archive comment (at most 65535 bytes) follows it.
  let eocd = -1;
  for (let p = bytes.length - 22; p >= 0 && p >= bytes.length - 22 - 0xffff; p--) {
    if (r.u32(p) === EOCD_SIG && p + 22 + r.u16(p + 20) <= bytes.length) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) fail(notAZip);
  if (r.u16(eocd + 4) !== 0 || r.u16(eocd + 6) !== 0) fail('multi-disk (split) zip archives are not supported');
  let count = r.u16(eocd + 10);
  let cdSize = r.u32(eocd + 12);
  let cdOffset = r.u32(eocd + 16);

  const loc = eocd - 20;
  if (loc >= 0 && r.u32(loc) === ZIP64_LOCATOR_SIG) {
    const z = r.u64(loc + 8, 'zip64 end record offset');
    r.need(z, 56, 'zip64 end record');
    if (r.u32(z) !== ZIP64_EOCD_SIG) fail('corrupt archive: zip64 locator points to no zip64 end record');
    count = r.u64(z + 32, 'entry count');
    cdSize = r.u64(z + 40, 'central directory size');
    cdOffset = r.u64(z + 48, 'central directory offset');
  }
  r.need(cdOffset, cdSize, 'central directory');

  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    r.need(p, 46, 'central directory entry');
    if (r.u32(p) !== CENTRAL_SIG) fail(`corrupt archive: bad central directory entry signature at offset ${p}`);
    const nameLen = r.u16(p + 28);
    const extraLen = r.u16(p + 30);
    const commentLen = r.u16(p + 32);
    r.need(p, 46 + nameLen + extraLen + commentLen, 'central directory entry');
    const flags = r.u16(p + 8);
    const entry: ZipEntry = {
      name: decodeName(bytes.subarray(p + 46, p + 46 + nameLen), flags, fail),
      flags,
      method: r.u16(p + 10),
      crc: r.u32(p + 16),
      compressedSize: r.u32(p + 20),
      size: r.u32(p + 24),
      localOffset: r.u32(p + 42),
    };
    applyZip64Extra(r, p + 46 + nameLen, extraLen, entry, r.u16(p + 34), fail);
    entries.push(entry);
    p += 46 + nameLen + extraLen + commentLen;
  }
  if (p > cdOffset + cdSize) fail('corrupt archive: central directory entries overrun its declared size');
  return entries;
}

/** Replaces 0xFFFFFFFF fields with the 64-bit values of the zip64 extra field (id 0x0001), in spec order. */
function applyZip64Extra(r: Reader, start: number, length: number, e: ZipEntry, disk: number, fail: Fail): void {
  const FULL = 0xffffffff;
  for (let p = start; p + 4 <= start + length;) {
    const id = r.u16(p);
    const size = r.u16(p + 2);
    if (p + 4 + size > start + length) fail(`corrupt archive: extra field of '${printable(e.name)}' overruns its entry`);
    if (id === 0x0001) {
      let q = p + 4;
      const take = (what: string): number => {
        if (q + 8 > p + 4 + size) fail(`corrupt archive: zip64 extra field of '${printable(e.name)}' lacks the ${what}`);
        const v = r.u64(q, what);
        q += 8;
        return v;
      };
      if (e.size === FULL) e.size = take('uncompressed size');
      if (e.compressedSize === FULL) e.compressedSize = take('compressed size');
      if (e.localOffset === FULL) e.localOffset = take('local header offset');
      if (disk === 0xffff && q + 4 <= p + 4 + size) disk = r.u32(q);
    }
    p += 4 + size;
  }
  if (disk !== 0) fail('multi-disk (split) zip archives are not supported');
}

/**
 * The member's uncompressed bytes, with its declared size checked first and its CRC checked last.
 * `writer` names what writes such archives, for the hints ("numpy", "Keras").
 */
export function zipExtract(bytes: Uint8Array, e: ZipEntry, limits: ReadLimits, fail: Fail, writer: string): Uint8Array {
  const r = new Reader(bytes, fail);
  if (e.flags & 0x1) fail(`is encrypted; ${writer} never writes encrypted archives`);
  if (e.size > limits.maxBytes) fail(tooBig('declares an uncompressed size of', e.size, limits));
  if (e.method === 8) reserve(e.size, limits.maxBytes, fail, 'inflating the member');
  r.need(e.localOffset, 30, 'local header');
  if (r.u32(e.localOffset) !== LOCAL_SIG) fail(`corrupt archive: no local header at offset ${e.localOffset}`);
  const start = e.localOffset + 30 + r.u16(e.localOffset + 26) + r.u16(e.localOffset + 28);
  r.need(start, e.compressedSize, 'member data');
  const packed = bytes.subarray(start, start + e.compressedSize);

  let data: Uint8Array;
  if (e.method === 0) {
    if (e.compressedSize !== e.size) fail(`corrupt archive: stored member has ${e.compressedSize} bytes but declares ${e.size}`);
    data = packed;
  } else if (e.method === 8) {
    try {
      data = inflateRawSync(packed, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      const code = (err as { code?: string }).code;
      return fail(code === 'ERR_BUFFER_TOO_LARGE'
        ? `inflates to more than its declared ${e.size} bytes (corrupt, or a zip bomb)`
        : `corrupt deflate stream (${(err as Error).message}); the file is damaged, re-save it`);
    }
    if (data.length !== e.size) fail(`inflates to ${data.length} bytes but declares ${e.size} (corrupt or truncated)`);
  } else {
    return fail(`compression method ${e.method} is not supported (${writer} writes stored or deflate); re-save the file with ${writer}`);
  }
  const crc = crc32(data);
  if (crc !== e.crc) fail(`CRC-32 mismatch (computed ${hex(crc)}, archive says ${hex(e.crc)}): the file is damaged`);
  return data;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

// Code page 437, bytes 0x80-0xFF: the encoding of zip names without the UTF-8 flag (bit 11).
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
  'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

function decodeName(raw: Uint8Array, flags: number, fail: Fail): string {
  if (flags & 0x800) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      return fail('corrupt archive: a member name is not valid UTF-8');
    }
  }
  let s = '';
  for (const b of raw) s += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80];
  return s;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, as zip uses it). Node 20's zlib has no crc32. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
