import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tridiagonalEigen } from '../extension/linalg/tridiagonal.js';
import { Rng } from '../extension/estimators/rng.js';

// ---- Reference: cyclic Jacobi on the dense matrix (independent of QL) --------------------------------

/** Dense symmetric eigensolver by cyclic Jacobi rotations; values ascending, vectors as columns. */
function jacobiEigen(a0: Float64Array[], maxSweeps = 60): { values: number[]; vectors: Float64Array[] } {
  const n = a0.length;
  const a = a0.map((row) => Float64Array.from(row));
  const v = Array.from({ length: n }, (_, i) => {
    const r = new Float64Array(n);
    r[i] = 1;
    return r;
  });
  let frob2 = 0;
  for (const row of a) for (const x of row) frob2 += x * x;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off2 = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off2 += a[p][q] * a[p][q];
    if (off2 <= 1e-32 * frob2) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p][q];
        if (apq === 0) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        const rp = a[p];
        const rq = a[q];
        for (let k = 0; k < n; k++) {
          const apk = rp[k];
          const aqk = rq[k];
          rp[k] = c * apk - s * aqk;
          rq[k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i][i] - a[j][j]);
  return {
    values: order.map((i) => a[i][i]),
    vectors: order.map((i) => Float64Array.from(v, (row) => row[i])),
  };
}

function dense(alpha: Float64Array, beta: Float64Array): Float64Array[] {
  const m = alpha.length;
  return Array.from({ length: m }, (_, i) => {
    const r = new Float64Array(m);
    r[i] = alpha[i];
    if (i > 0) r[i - 1] = beta[i - 1];
    if (i < m - 1) r[i + 1] = beta[i];
    return r;
  });
}

function normT(alpha: Float64Array, beta: Float64Array): number {
  let s = 0;
  for (let i = 0; i < alpha.length; i++) {
    s = Math.max(s, Math.abs(alpha[i]) + (i > 0 ? Math.abs(beta[i - 1]) : 0) + (i < beta.length ? Math.abs(beta[i]) : 0));
  }
  return s;
}

function randomT(m: number, seed: number): { alpha: Float64Array; beta: Float64Array } {
  const rng = new Rng(seed);
  return {
    alpha: Float64Array.from({ length: m }, () => rng.normal()),
    beta: Float64Array.from({ length: Math.max(0, m - 1) }, () => rng.normal()),
  };
}

/** Checks the QL result against Jacobi: eigenvalues always; first/last components (up to sign) for
 * eigenvalues separated from their neighbours, summed |first|² / |last|² over clusters otherwise
 * (within a cluster the eigenvectors are not unique, but the projector onto the cluster is). */
function checkAgainstJacobi(alpha: Float64Array, beta: Float64Array, label: string): void {
  const m = alpha.length;
  const got = tridiagonalEigen(alpha, beta);
  const ref = jacobiEigen(dense(alpha, beta));
  const norm = Math.max(normT(alpha, beta), Number.MIN_VALUE);
  for (let i = 0; i < m; i++) {
    assert.ok(
      Math.abs(got.values[i] - ref.values[i]) <= 1e-13 * norm * Math.max(1, Math.sqrt(m)),
      `${label}: eigenvalue ${i}: ${got.values[i]} vs ${ref.values[i]}`,
    );
    if (i > 0) assert.ok(got.values[i] >= got.values[i - 1], `${label}: values not ascending at ${i}`);
  }
  // Group into clusters of eigenvalues closer than 1e-8·‖T‖.
  const clusterTol = 1e-8 * norm;
  let start = 0;
  for (let i = 1; i <= m; i++) {
    if (i < m && ref.values[i] - ref.values[i - 1] <= clusterTol) continue;
    let gf = 0;
    let gl = 0;
    let rf = 0;
    let rl = 0;
    for (let j = start; j < i; j++) {
      gf += got.first[j] ** 2;
      gl += got.last[j] ** 2;
      rf += ref.vectors[j][0] ** 2;
      rl += ref.vectors[j][m - 1] ** 2;
    }
    // Eigenvector perturbation ~ ε‖T‖/gap; the clusters are separated by > 1e-8‖T‖.
    assert.ok(Math.abs(gf - rf) <= 1e-7, `${label}: first² over [${start}, ${i}): ${gf} vs ${rf}`);
    assert.ok(Math.abs(gl - rl) <= 1e-7, `${label}: last² over [${start}, ${i}): ${gl} vs ${rl}`);
    start = i;
  }
}

/** Identities that hold for any orthonormal eigenbasis, degenerate or not:
 * Σ y₀ᵢ² = Σ y_{m−1,i}² = 1, Σ θᵢ^k y₀ᵢ² = (T^k)₀₀, Σ θᵢ y₀ᵢ y_{m−1,i} = T_{0,m−1}, Σ y₀ᵢ y_{m−1,i} = δ_{m,1}. */
function checkMoments(alpha: Float64Array, beta: Float64Array, label: string): void {
  const m = alpha.length;
  const { values, first, last } = tridiagonalEigen(alpha, beta);
  const norm = Math.max(normT(alpha, beta), Number.MIN_VALUE);
  const tol = 1e-12 * Math.sqrt(m);
  let s0 = 0;
  let s1 = 0;
  let sfl = 0;
  let sflθ = 0;
  for (let i = 0; i < m; i++) {
    s0 += first[i] ** 2;
    s1 += last[i] ** 2;
    sfl += first[i] * last[i];
    sflθ += values[i] * first[i] * last[i];
  }
  assert.ok(Math.abs(s0 - 1) <= tol, `${label}: Σ first² = ${s0}`);
  assert.ok(Math.abs(s1 - 1) <= tol, `${label}: Σ last² = ${s1}`);
  assert.ok(Math.abs(sfl - (m === 1 ? 1 : 0)) <= tol, `${label}: Σ first·last = ${sfl}`);
  const t0m = m === 1 ? alpha[0] : m === 2 ? beta[0] : 0;
  assert.ok(Math.abs(sflθ - t0m) <= tol * norm, `${label}: Σ θ first·last = ${sflθ}, expected ${t0m}`);
  // (T^k)₀₀ by repeated multiplication of e₀, k = 1..4.
  let x = new Float64Array(m);
  x[0] = 1;
  for (let k = 1; k <= 4; k++) {
    const y = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      y[i] = alpha[i] * x[i] + (i > 0 ? beta[i - 1] * x[i - 1] : 0) + (i < m - 1 ? beta[i] * x[i + 1] : 0);
    }
    x = y;
    let mk = 0;
    for (let i = 0; i < m; i++) mk += values[i] ** k * first[i] ** 2;
    assert.ok(Math.abs(mk - x[0]) <= tol * norm ** k, `${label}: moment ${k}: ${mk} vs ${x[0]}`);
  }
}

// ---- Tests ------------------------------------------------------------------------------------------

test('Jacobi reference is itself correct (‖AV − VΛ‖ and orthonormality)', () => {
  const { alpha, beta } = randomT(30, 7);
  const a = dense(alpha, beta);
  const { values, vectors } = jacobiEigen(a);
  for (let j = 0; j < 30; j++) {
    for (let i = 0; i < 30; i++) {
      let av = 0;
      for (let k = 0; k < 30; k++) av += a[i][k] * vectors[j][k];
      assert.ok(Math.abs(av - values[j] * vectors[j][i]) < 1e-12, 'Math.abs(av - values[j] * vectors[j][i]) < 1e-12');
    }
    for (let k = 0; k < 30; k++) {
      let dot = 0;
      for (let i = 0; i < 30; i++) dot += vectors[j][i] * vectors[k][i];
      assert.ok(Math.abs(dot - (j === k ? 1 : 0)) < 1e-12, 'Math.abs(dot - (j === k ? 1 : 0)) < 1e-12');
    }
  }
});

test('m = 0 and m = 1', () => {
  const e = tridiagonalEigen(new Float64Array(0), new Float64Array(0));
  assert.equal(e.values.length, 0);
  const one = tridiagonalEigen(Float64Array.of(-2.5), new Float64Array(0));
  assert.deepEqual([...one.values], [-2.5]);
  assert.deepEqual([...one.first].map(Math.abs), [1]);
  assert.deepEqual([...one.last].map(Math.abs), [1]);
});

test('m = 2 matches the closed form', () => {
  for (const [a, b, c] of [
    [1, 2, 3],
    [0, 1e-9, 0],
    [5, 0, -5],
    [2, 3, 2],
    [-1e6, 1, 1e6],
  ]) {
    const { values, first, last } = tridiagonalEigen(Float64Array.of(a, c), Float64Array.of(b));
    const mean = (a + c) / 2;
    const rad = Math.hypot((a - c) / 2, b);
    const scale = Math.max(Math.abs(a), Math.abs(b), Math.abs(c));
    assert.ok(Math.abs(values[0] - (mean - rad)) <= 1e-15 * scale, `${a},${b},${c}: λ₁ = ${values[0]}`);
    assert.ok(Math.abs(values[1] - (mean + rad)) <= 1e-15 * scale, `${a},${b},${c}: λ₂ = ${values[1]}`);
    for (let i = 0; i < 2; i++) {
      // (T − λ)y = 0 row by row, and unit length.
      const y0 = first[i];
      const y1 = last[i];
      assert.ok(Math.abs(y0 * y0 + y1 * y1 - 1) < 1e-14, 'Math.abs(y0 * y0 + y1 * y1 - 1) < 1e-14');
      assert.ok(Math.abs((a - values[i]) * y0 + b * y1) <= 1e-14 * scale, 'Math.abs((a - values[i]) * y0 + b * y1) <= 1e-14 * scale');
      assert.ok(Math.abs(b * y0 + (c - values[i]) * y1) <= 1e-14 * scale, 'Math.abs(b * y0 + (c - values[i]) * y1) <= 1e-14 * scale');
    }
  }
});

test('random matrices, m = 3, 10, 50, 200: eigenvalues and end components match Jacobi', () => {
  for (const [m, seed] of [
    [3, 1],
    [10, 2],
    [50, 3],
    [200, 4],
  ]) {
    const { alpha, beta } = randomT(m, seed);
    checkAgainstJacobi(alpha, beta, `random m=${m}`);
    checkMoments(alpha, beta, `random m=${m}`);
  }
});

test('Lanczos-like matrices: positive β, wide range of α (m = 200)', () => {
  const rng = new Rng(11);
  const m = 200;
  const alpha = Float64Array.from({ length: m }, (_, i) => (i < 10 ? 100 * rng.uniform() : rng.uniform() - 0.3));
  const beta = Float64Array.from({ length: m - 1 }, () => 0.01 + rng.uniform());
  checkAgainstJacobi(alpha, beta, 'lanczos-like');
  checkMoments(alpha, beta, 'lanczos-like');
});

test('degenerate: zero couplings split T into identical blocks; zero and scalar matrices', () => {
  // Three copies of the same 4×4 block: every eigenvalue has multiplicity 3.
  const blockA = [1, -2, 0.5, 3];
  const blockB = [0.7, 1.1, -0.4];
  const alpha = Float64Array.from([...blockA, ...blockA, ...blockA]);
  const beta = Float64Array.from([...blockB, 0, ...blockB, 0, ...blockB]);
  checkAgainstJacobi(alpha, beta, 'repeated blocks');
  checkMoments(alpha, beta, 'repeated blocks');
  const single = tridiagonalEigen(Float64Array.from(blockA), Float64Array.from(blockB)).values;
  const rep = tridiagonalEigen(alpha, beta).values;
  for (let i = 0; i < 12; i++) assert.ok(Math.abs(rep[i] - single[Math.floor(i / 3)]) < 1e-14 * 4, 'Math.abs(rep[i] - single[Math.floor(i / 3)]) < 1e-14 * 4');

  const zero = tridiagonalEigen(new Float64Array(5), new Float64Array(4));
  assert.deepEqual([...zero.values], [0, 0, 0, 0, 0]);
  checkMoments(new Float64Array(5), new Float64Array(4), 'zero');
  const scalar = tridiagonalEigen(new Float64Array(6).fill(3), new Float64Array(5));
  assert.deepEqual([...scalar.values], [3, 3, 3, 3, 3, 3]);
  checkMoments(new Float64Array(6).fill(3), new Float64Array(5), 'scalar');
});

test('clustered: Wilkinson W21+ (pairs equal to ~1e-14) and a constant-diagonal Toeplitz matrix', () => {
  const w = Float64Array.from({ length: 21 }, (_, i) => Math.abs(10 - i));
  const ones = new Float64Array(20).fill(1);
  checkAgainstJacobi(w, ones, 'W21+');
  checkMoments(w, ones, 'W21+');
  const top = tridiagonalEigen(w, ones).values;
  // Known largest eigenvalues of W21+ (Wilkinson, The Algebraic Eigenvalue Problem, 1965).
  assert.ok(Math.abs(top[20] - 10.746194182903393) < 1e-13, 'Math.abs(top[20] - 10.746194182903393) < 1e-13');
  assert.ok(Math.abs(top[19] - 10.746194182903322) < 1e-13, 'Math.abs(top[19] - 10.746194182903322) < 1e-13');

  // Toeplitz tridiag(1, 2, 1), m = 100: λ_k = 2 + 2cos(kπ/(m+1)), y_{0,k}² = 2 sin²(kπ/(m+1))/(m+1).
  const m = 100;
  const { values, first } = tridiagonalEigen(new Float64Array(m).fill(2), new Float64Array(m - 1).fill(1));
  for (let k = 1; k <= m; k++) {
    const i = m - k; // ascending index of λ_k
    const lam = 2 + 2 * Math.cos((k * Math.PI) / (m + 1));
    const w0 = (2 * Math.sin((k * Math.PI) / (m + 1)) ** 2) / (m + 1);
    assert.ok(Math.abs(values[i] - lam) < 1e-14 * 4 * 10, `Toeplitz λ_${k}: ${values[i]} vs ${lam}`);
    assert.ok(Math.abs(first[i] ** 2 - w0) < 1e-13, `Toeplitz y₀² for λ_${k}`);
  }
});

test('extreme scaling: 1e±150 entries keep relative accuracy', () => {
  const { alpha, beta } = randomT(40, 5);
  const base = tridiagonalEigen(alpha, beta);
  for (const s of [1e150, 1e-150]) {
    const scaled = tridiagonalEigen(alpha.map((x) => x * s), beta.map((x) => x * s));
    for (let i = 0; i < 40; i++) {
      assert.ok(Math.abs(scaled.values[i] / s - base.values[i]) < 1e-12 * normT(alpha, beta), 'Math.abs(scaled.values[i] / s - base.values[i]) < 1e-12 * normT(alpha, beta)');
      assert.ok(Math.abs(Math.abs(scaled.first[i]) - Math.abs(base.first[i])) < 1e-10, 'Math.abs(Math.abs(scaled.first[i]) - Math.abs(base.first[i])) < 1e-10');
    }
  }
});

test('rejects mismatched lengths and non-finite entries; does not modify its inputs', () => {
  assert.throws(() => tridiagonalEigen(new Float64Array(3), new Float64Array(3)), RangeError);
  assert.throws(() => tridiagonalEigen(new Float64Array(0), new Float64Array(1)), RangeError);
  assert.throws(() => tridiagonalEigen(Float64Array.of(1, NaN), Float64Array.of(1)), RangeError);
  const { alpha, beta } = randomT(20, 9);
  const a = alpha.slice();
  const b = beta.slice();
  tridiagonalEigen(alpha, beta);
  assert.deepEqual(alpha, a);
  assert.deepEqual(beta, b);
});
