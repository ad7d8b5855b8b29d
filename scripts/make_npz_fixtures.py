#!/usr/bin/env python3
"""Writes the .npz/.npy fixtures of test/npz.test.ts into test/fixtures/npz/, plus expected.json:
for every file, every array's name, dtype, shape and values (flattened, C order) as numpy sees them.

Run from the repository root:  python3 scripts/make_npz_fixtures.py
Deterministic (seeded), a few KB in all. The files the reader must refuse (fortran.npy, bigendian.npy,
float16.npy, object.npy, structured.npy, int64_overflow.npy) are not in expected.json.
"""
import json
import os

import numpy as np
from numpy.lib import format as npformat

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'npz')
rng = np.random.default_rng(20240607)


def arrays():
    """The arrays that go into the main .npz files, in the order given to np.savez (= zip order)."""
    return dict(
        x4d=rng.standard_normal((2, 3, 2, 2)).astype('<f4'),
        f64=rng.standard_normal((3, 2)),
        labels=np.array([0, 3, 1, 2, -7, 2**53, -(2**53)]),  # numpy's default int: int64
        i32=np.array([[1, -2, 2**31 - 1], [-(2**31), 0, 5]], dtype='<i4'),
        i16=np.array([-32768, 0, 32767], dtype='<i2'),
        u16=np.array([0, 1, 65535], dtype='<u2'),
        i8=np.array([-128, -1, 0, 127], dtype='i1'),
        u8=np.arange(250, 256, dtype='u1').reshape(2, 3),
        mask=np.array([True, False, True]),
        scalar=np.array(2.5, dtype='<f4'),
        empty=np.zeros((0,), dtype='<f4'),
        empty2d=np.zeros((2, 0), dtype='<f8'),
    )


def describe(arr):
    return {'dtype': arr.dtype.name, 'shape': list(arr.shape), 'values': arr.ravel(order='C').tolist()}


def save_npy(name, arr, version=None):
    with open(os.path.join(OUT, name), 'wb') as f:
        npformat.write_array(f, arr, version=version, allow_pickle=True)


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    data = arrays()
    np.savez(os.path.join(OUT, 'stored.npz'), **data)
    np.savez_compressed(os.path.join(OUT, 'compressed.npz'), **data)
    expected['stored.npz'] = expected['compressed.npz'] = [dict(name=k, **describe(v)) for k, v in data.items()]

    # Positional arrays get numpy's names arr_0, arr_1, ...
    pos = [np.linspace(0, 1, 5, dtype='<f4'), np.array([[1, 2], [3, 4]], dtype='<i4')]
    np.savez_compressed(os.path.join(OUT, 'positional.npz'), *pos)
    expected['positional.npz'] = [dict(name=f'arr_{i}', **describe(v)) for i, v in enumerate(pos)]

    # Plain .npy files in each format version (numpy picks 1.0 itself; 2.0 and 3.0 are asked for).
    v = rng.standard_normal((4, 3)).astype('<f4')
    save_npy('v1.npy', v)
    save_npy('v2.npy', v, version=(2, 0))
    save_npy('v3.npy', v, version=(3, 0))
    for name in ('v1.npy', 'v2.npy', 'v3.npy'):
        expected[name] = [dict(name='', **describe(v))]

    # Files to reject, each with the reason the test looks for.
    save_npy('fortran.npy', np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)))
    save_npy('bigendian.npy', np.arange(4, dtype='>f4'))
    save_npy('float16.npy', np.arange(4, dtype='<f2'))
    save_npy('object.npy', np.array([{'a': 1}, None], dtype=object))
    save_npy('structured.npy', np.zeros(2, dtype=[('a', '<f4'), ('b', '<i4')]))
    save_npy('int64_overflow.npy', np.array([1, 2**53 + 1], dtype='<i8'))
    with np.load(os.path.join(OUT, 'stored.npz')) as z:  # sanity: numpy reads its own output back
        assert list(z.keys()) == list(data.keys())

    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        # One line per array: small, and diffs stay readable.
        f.write('{\n' + ',\n'.join(
            f' {json.dumps(name)}: [\n' + ',\n'.join('  ' + json.dumps(a) for a in arrs) + '\n ]'
            for name, arrs in expected.items()) + '\n}\n')


if __name__ == '__main__':
    main()
