/**
 * Tests of the .npy/.npz readers against files numpy wrote (test/fixtures/npz, made by
 * scripts/make_npz_fixtures.py, with the values numpy saw in expected.json), hand-built zips for the
 * paths numpy rarely takes (zip64 central directory), corruptions that must each end in a specific
 * InputError, and a seeded fuzz loop that may only ever produce an InputError or a consistent result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { InputError } from '../extension/errors.js';
import { parseNpy, readNpy, type NdArray } from '../extension/readers/npy.js';
import { crc32, parseNpz, readNpz } from '../extension/readers/npz.js';

const DIR = 'test/fixtures/npz';
const fixture = (name: string) => new Uint8Array(readFileSync(`${DIR}/${name}`));
type Expected = Record<string, { name: string; dtype: string; shape: number[]; values: (number | boolean)[] }[]>;
const expected = JSON.parse(readFileSync(`${DIR}/expected.json`, 'utf8')) as Expected;

/** Asserts that fn throws an InputError whose message matches re. */
function rejects(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

function checkArray(a: NdArray, want: Expected[string][number]): void {
  assert.equal(a.dtype, want.dtype, want.name);
  assert.deepEqual(a.shape, want.shape, want.name);
  assert.deepEqual(Array.from(a.data), want.values.map(Number), want.name);
}

// ---- builders for hand-made files ----

function npy(header: string, data: Uint8Array = new Uint8Array(0), version = 1): Uint8Array {
  const h = new TextEncoder().encode(header + '\n');
  const pre = version === 1 ? 10 : 12;
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const v = new DataView(out.buffer);
  if (version === 1) v.setUint16(8, h.length, true);
  else v.setUint32(8, h.length, true);
  out.set(h, pre);
  out.set(data, pre + h.length);
  return out;
}
const f32npy = (values: number[]) =>
  npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (${values.length},), }`, new Uint8Array(new Float32Array(values).buffer));

interface Member { name: string; data: Uint8Array; deflate?: boolean; size?: number; flags?: number; method?: number }

/** A zip as numpy's zipfile would write it; zip64 puts all sizes/offsets in zip64 extras and a zip64 end record. */
function zip(members: Member[], zip64 = false): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = new TextEncoder().encode(m.name);
    const packed = m.deflate ? deflateRawSync(m.data) : m.data;
    const size = m.size ?? m.data.length;
    const method = m.method ?? (m.deflate ? 8 : 0);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(6, m.flags ?? 0, true);
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc32(m.data), true);
    lv.setUint32(18, packed.length, true);
    lv.setUint32(22, size, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const extra = zip64 ? 28 : 0;
    const cd = new Uint8Array(46 + name.length + extra);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(8, m.flags ?? 0, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc32(m.data), true);
    cv.setUint32(20, zip64 ? 0xffffffff : packed.length, true);
    cv.setUint32(24, zip64 ? 0xffffffff : size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, extra, true);
    cv.setUint32(42, zip64 ? 0xffffffff : offset, true);
    cd.set(name, 46);
    if (zip64) {
      const e = 46 + name.length;
      cv.setUint16(e, 0x0001, true);
      cv.setUint16(e + 2, 24, true);
      cv.setBigUint64(e + 4, BigInt(size), true); // spec order: uncompressed, compressed, offset
      cv.setBigUint64(e + 12, BigInt(packed.length), true);
      cv.setBigUint64(e + 20, BigInt(offset), true);
    }
    parts.push(local, packed);
    central.push(cd);
    offset += local.length + packed.length;
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const tail: Uint8Array[] = [];
  if (zip64) {
    const z = new DataView(new ArrayBuffer(56 + 20));
    z.setUint32(0, 0x06064b50, true);
    z.setBigUint64(4, 44n, true);
    z.setBigUint64(24, BigInt(members.length), true);
    z.setBigUint64(32, BigInt(members.length), true);
    z.setBigUint64(40, BigInt(cdSize), true);
    z.setBigUint64(48, BigInt(offset), true);
    z.setUint32(56, 0x07064b50, true);
    z.setBigUint64(56 + 8, BigInt(offset + cdSize), true);
    z.setUint32(56 + 16, 1, true);
    tail.push(new Uint8Array(z.buffer));
  }
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, zip64 ? 0xffff : members.length, true);
  end.setUint16(10, zip64 ? 0xffff : members.length, true);
  end.setUint32(12, zip64 ? 0xffffffff : cdSize, true);
  end.setUint32(16, zip64 ? 0xffffffff : offset, true);
  tail.push(new Uint8Array(end.buffer));
  return new Uint8Array(Buffer.concat([...parts, ...central, ...tail]));
}

/** Offset of the first central directory entry of a (non-zip64-end) zip. */
const cdOffset = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(b.length - 22 + 16, true);
/** Data offset of the first member (numpy's local header: 30 bytes + name + 20-byte zip64 extra). */
const firstData = (b: Uint8Array) => {
  const v = new DataView(b.buffer, b.byteOffset);
  return 30 + v.getUint16(26, true) + v.getUint16(28, true);
};
const withByte = (b: Uint8Array, at: number, value: number) => {
  const c = b.slice();
  c[at] = value;
  return c;
};

// ---- what numpy wrote reads back exactly ----

for (const name of ['stored.npz', 'compressed.npz', 'positional.npz']) {
  test(`${name} reads back as numpy wrote it, in zip order`, () => {
    const arrays = readNpz(`${DIR}/${name}`);
    assert.deepEqual([...arrays.keys()], expected[name].map((a) => a.name));
    for (const want of expected[name]) checkArray(arrays.get(want.name)!, want);
  });
}

for (const name of ['v1.npy', 'v2.npy', 'v3.npy']) {
  test(`${name} (format version ${name[1]}.0) reads back`, () => {
    checkArray(readNpy(`${DIR}/${name}`), expected[name][0]);
  });
}

test('int64 comes as Float64Array, 0-d and empty arrays keep their shapes', () => {
  const a = readNpz(`${DIR}/compressed.npz`);
  assert.ok(a.get('labels')!.data instanceof Float64Array);
  assert.deepEqual(a.get('scalar')!.shape, []);
  assert.equal(a.get('scalar')!.data.length, 1);
  assert.deepEqual(a.get('empty2d')!.shape, [2, 0]);
  assert.equal(a.get('empty2d')!.data.length, 0);
  assert.ok(a.get('mask')!.data instanceof Uint8Array);
});

test('data at an unaligned offset is copied into an aligned buffer', () => {
  const v1 = fixture('v1.npy');
  const shifted = new Uint8Array(v1.length + 1);
  shifted.set(v1, 1);
  const a = parseNpy(shifted.subarray(1), 'v1.npy');
  checkArray(a, expected['v1.npy'][0]);
  assert.equal(a.data.byteOffset, 0);
});

test('zip64 central directory extras and zip64 end record are honoured', () => {
  const members = [
    { name: 'a.npy', data: f32npy([1, 2, 3]), deflate: true },
    { name: 'b.npy', data: f32npy([4]) },
  ];
  const arrays = parseNpz(zip(members, true), 'z64.npz');
  assert.deepEqual([...arrays.keys()], ['a', 'b']);
  assert.deepEqual(Array.from(arrays.get('a')!.data), [1, 2, 3]);
  assert.deepEqual(Array.from(arrays.get('b')!.data), [4]);
});

// ---- files numpy can write but we refuse ----

test('unsupported numpy files are refused with the reason', () => {
  rejects(() => readNpy(`${DIR}/fortran.npy`), /fortran_order arrays are not supported; save np\.ascontiguousarray/);
  rejects(() => readNpy(`${DIR}/bigendian.npy`), /big-endian dtype '>f4' is not supported.*astype\('<f4'\)/);
  rejects(() => readNpy(`${DIR}/float16.npy`), /unsupported dtype '<f2'/);
  rejects(() => readNpy(`${DIR}/object.npy`), /object arrays \(dtype '\|O', pickled\) are not supported/);
  rejects(() => readNpy(`${DIR}/structured.npy`), /structured dtypes \(record arrays\) are not supported/);
  rejects(() => readNpy(`${DIR}/int64_overflow.npy`), /int64 value at index 1 is beyond ±2\^53/);
});

// ---- files and paths that are wrong ----

test('missing file, a directory, not a zip', () => {
  rejects(() => readNpz(`${DIR}/nope.npz`), /nope\.npz: file not found/);
  rejects(() => readNpy(DIR), /is not a file/);
  rejects(() => readNpz(`${DIR}/v1.npy`), /not an \.npz \(zip\) archive/);
  rejects(() => parseNpz(new Uint8Array(0), 'empty.npz'), /not an \.npz \(zip\) archive/);
});

test('truncated archives at several offsets', () => {
  for (const name of ['stored.npz', 'compressed.npz']) {
    const b = fixture(name);
    for (const at of [0, 3, 30, 100, b.length >> 1, b.length - 23, b.length - 1]) {
      rejects(() => parseNpz(b.subarray(0, at), name), /not an \.npz \(zip\) archive, or truncated/);
    }
  }
});

test('truncated .npy at several offsets', () => {
  const b = fixture('v1.npy');
  rejects(() => parseNpy(b.subarray(0, 4), 'v1.npy'), /truncated \.npy: only 4 bytes/);
  rejects(() => parseNpy(b.subarray(0, 9), 'v1.npy'), /truncated \.npy: only 9 bytes/);
  rejects(() => parseNpy(b.subarray(0, 50), 'v1.npy'), /truncated \.npy: header of 118 bytes runs past the end/);
  rejects(() => parseNpy(b.subarray(0, b.length - 1), 'v1.npy'), /shape \(4, 3\) of <f4 needs 48 data bytes but the file has 47 \(truncated\?\)/);
});

test('a central directory that points past the end, or at garbage', () => {
  const b = fixture('stored.npz');
  const cd = cdOffset(b);
  rejects(() => parseNpz(withByte(b, cd, 0x51), 'x.npz'), /bad central directory entry signature/);
  rejects(() => parseNpz(withByte(b, 0, 0x51), 'x.npz'), /member 'x4d\.npy': corrupt archive: no local header at offset 0/);
  const far = b.slice();
  new DataView(far.buffer).setUint32(far.length - 22 + 16, 0x7fffffff, true);
  rejects(() => parseNpz(far, 'x.npz'), /truncated or corrupt archive: central directory at offset 2147483647 runs past the end/);
});

test('flipped bytes in stored data and in the deflate stream', () => {
  const s = fixture('stored.npz');
  const at = firstData(s) + 140; // inside x4d's float data
  rejects(() => parseNpz(withByte(s, at, s[at] ^ 0x10), 's.npz'), /member 'x4d\.npy': CRC-32 mismatch \(computed 0x[0-9a-f]{8}, archive says 0x[0-9a-f]{8}\)/);
  const c = fixture('compressed.npz');
  const seen = new Set<string>();
  for (const off of [0, 5, 20, 40, 60]) {
    const at = firstData(c) + off;
    try {
      parseNpz(withByte(c, at, c[at] ^ 0xff), 'c.npz');
      assert.fail('a flipped deflate byte went unnoticed');
    } catch (e) {
      assert.ok(e instanceof InputError);
      assert.match(e.message, /member 'x4d\.npy': (corrupt deflate stream \(.*\); the file is damaged|CRC-32 mismatch|inflates to (more than its declared )?\d+ bytes)/);
      seen.add(e.message.includes('deflate') ? 'deflate' : 'other');
    }
  }
  assert.ok(seen.has('deflate'), 'at least one flip breaks the deflate stream itself');
});

test('flipped bytes in the .npy header', () => {
  const b = fixture('v1.npy');
  rejects(() => parseNpy(withByte(b, 10, 0x5b), 'v1.npy'), /corrupt \.npy header: expected '\{' at character 0/); // '{' -> '['
  rejects(() => parseNpy(withByte(b, 0, 0x92), 'v1.npy'), /bad magic \(expected \\x93NUMPY\)/);
  rejects(() => parseNpy(withByte(b, 6, 4), 'v1.npy'), /unsupported \.npy format version 4\.0/);
  rejects(() => parseNpy(withByte(b, 8, 0xff), 'v1.npy'), /header of 255 bytes runs past the end/);
  const at = new TextDecoder().decode(b).indexOf('(4, 3)') + 1; // shape (4, 3) -> (5, 3)
  rejects(() => parseNpy(withByte(b, at, 0x35), 'v1.npy'), /shape \(5, 3\) of <f4 needs 60 data bytes but the file has 48/);
  // Inside an archive the CRC catches it first; with a fresh CRC the npy parser does, naming the member.
  const bad = withByte(b, 10, 0x5b);
  rejects(() => parseNpz(zip([{ name: 'w.npy', data: bad, deflate: true }]), 'x.npz'), /member 'w\.npy': corrupt \.npy header/);
});

test('header dicts are parsed strictly, never evaluated', () => {
  const h = (s: string) => () => parseNpy(npy(s), 'h.npy');
  rejects(h("{'descr': '<f4', 'shape': (0,)}"), /keys are \{descr,shape\}, expected exactly descr, fortran_order, shape/);
  rejects(h("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), 'x': 1}"), /keys are/);
  rejects(h("{'descr': __import__('os'), 'fortran_order': False, 'shape': ()}"), /corrupt \.npy header: unexpected '_'/);
  rejects(h("{'descr': '<f4', 'fortran_order': 0, 'shape': ()}"), /'fortran_order' is not True or False/);
  rejects(h("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"), /'shape' is not a tuple of non-negative integers/);
  rejects(h("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk"), /unexpected text after the dict/);
  rejects(h("{'descr': '<f4', 'fortran_order': False, 'shape': (2,"), /unexpected end/);
  // Python 2's longs (3L) and double quotes are fine.
  const a = parseNpy(npy(`{"descr": "<f4", "fortran_order": False, "shape": (1L, 2L)}`, new Uint8Array(8), 2), 'h.npy');
  assert.deepEqual(a.shape, [1, 2]);
});

test('data length must match shape × itemsize', () => {
  const hdr = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
  rejects(() => parseNpy(npy(hdr, new Uint8Array(8)), 'n.npy'), /shape \(3\) of <i4 needs 12 data bytes but the file has 8/);
  rejects(() => parseNpy(npy(hdr, new Uint8Array(16)), 'n.npy'), /needs 12 data bytes but the file has 16$/);
});

// ---- sizes: checked before anything is allocated ----

test('a member whose declared uncompressed size is huge', () => {
  const c = fixture('compressed.npz');
  const huge = c.slice();
  new DataView(huge.buffer).setUint32(cdOffset(c) + 24, 0xfffffff0, true);
  rejects(() => parseNpz(huge, 'h.npz'), /member 'x4d\.npy': declares an uncompressed size of 4294967280 bytes, above the limit of 2147483648 bytes/);
  const z64 = zip([{ name: 'a.npy', data: f32npy([1]), size: 2 ** 40, deflate: true }], true);
  rejects(() => parseNpz(z64, 'h.npz'), /declares an uncompressed size of 1099511627776 bytes, above the limit/);
});

test('a deflate stream that inflates past its declared size (zip bomb)', () => {
  const bomb = zip([{ name: 'b.npy', data: new Uint8Array(1 << 20), size: 1000, deflate: true }]);
  rejects(() => parseNpz(bomb, 'b.npz'), /member 'b\.npy': inflates to more than its declared 1000 bytes \(corrupt, or a zip bomb\)/);
});

test('a shape far above the limit is refused from the header alone', () => {
  const big = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }");
  const limits = { maxBytes: 1 << 20 };
  rejects(() => parseNpy(big, 'big.npy', limits), /shape \(100000, 100000\) declares 80000000000 bytes, above the limit of 1048576 bytes/);
  rejects(() => parseNpz(zip([{ name: 'big.npy', data: big, deflate: true }]), 'big.npz', limits), /member 'big\.npy': shape \(100000, 100000\) declares/);
  const absurd = npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (${2 ** 40}, ${2 ** 40}, ${2 ** 40}), }`);
  rejects(() => parseNpy(absurd, 'a.npy'), /above the limit of 2147483648 bytes/);
  rejects(() => parseNpz(fixture('stored.npz'), 's.npz', { maxBytes: 1000 }), /the file is 3153 bytes, above the limit of 1000 bytes/);
  rejects(() => readNpy(`${DIR}/v1.npy`, { maxBytes: 100 }), /the file is 176 bytes, above the limit/);
});

// ---- archives numpy would not write ----

test('members that are not .npy arrays, duplicates, bad npy magic, methods, encryption', () => {
  const ok = f32npy([1]);
  rejects(() => parseNpz(zip([{ name: 'readme.txt', data: ok }]), 'x.npz'), /member 'readme\.txt': not a \.npy array; an \.npz must hold only arrays/);
  rejects(() => parseNpz(zip([{ name: 'a.npy', data: ok }, { name: 'a.npy', data: ok }]), 'x.npz'), /member 'a\.npy': appears twice/);
  rejects(() => parseNpz(zip([{ name: 'a.npy', data: new TextEncoder().encode('hello, world') }]), 'x.npz'), /member 'a\.npy': not a \.npy array: bad magic/);
  rejects(() => parseNpz(zip([{ name: 'a.npy', data: ok, method: 12 }]), 'x.npz'), /compression method 12 is not supported/);
  rejects(() => parseNpz(zip([{ name: 'a.npy', data: ok, flags: 1 }]), 'x.npz'), /member 'a\.npy': is encrypted/);
  // Names and header text from the file are escaped, so a message stays one line.
  rejects(() => parseNpz(zip([{ name: 'a\nb.txt', data: ok }]), 'x.npz'), /^x\.npz: member 'a\\x0ab\.txt': not a \.npy array/);
  rejects(() => parseNpy(npy("{'descr': '<\u0007\n', 'fortran_order': False, 'shape': ()}"), 'x.npy'), /unsupported dtype '<\\x07\\x0a'/);
});

// ---- fuzz: random mutations and truncations never escape as anything but InputError ----

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('seeded random mutations give an InputError or a consistent result', () => {
  const rand = mulberry32(12345);
  const int = (n: number) => Math.floor(rand() * n);
  // The npy target is wrapped with a fresh CRC after mutation, so the fuzzing reaches the npy parser.
  const targets: [string, (b: Uint8Array) => unknown][] = [
    ['stored.npz', (b) => parseNpz(b, 'f.npz', { maxBytes: 1 << 20 })],
    ['compressed.npz', (b) => parseNpz(b, 'f.npz', { maxBytes: 1 << 20 })],
    ['v1.npy', (b) => parseNpz(zip([{ name: 'm.npy', data: b, deflate: true }]), 'f.npz', { maxBytes: 1 << 20 })],
  ];
  const outcomes = new Map<string, number>();
  for (let i = 0; i < 240; i++) {
    const [name, parse] = targets[i % targets.length];
    let b = fixture(name);
    const kind = int(3);
    if (kind !== 1) for (let k = 1 + int(4); k > 0; k--) b[int(b.length)] = int(256); // flip bytes
    if (kind !== 0) b = b.subarray(0, int(b.length + 1)); // truncate
    try {
      const result = parse(b) as Map<string, NdArray>;
      for (const a of result.values()) assert.equal(a.data.length, a.shape.reduce((x, y) => x * y, 1));
      outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1);
    } catch (e) {
      assert.ok(e instanceof InputError, `case ${i} (${name}): ${e instanceof Error ? e.stack : String(e)}`);
      assert.doesNotMatch(e.message, /[\r\n]/, `case ${i}: one-line message`);
      const key = e.detail.replace(/member '[^']*': /, '').replace(/[\d(].*$/, '');
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
  }
  assert.ok(outcomes.size > 4, `varied outcomes: ${[...outcomes.keys()].join(' | ')}`);
});
