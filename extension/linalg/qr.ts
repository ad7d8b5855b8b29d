/**
 * Thin QR factorisation of a tall n×k matrix given by its k columns (k small, n large), by classical
 * Gram–Schmidt applied twice ("CGS2"; Giraud, Langou, Rozložník & van den Eshof, "Rounding error
 * analysis of the classical Gram–Schmidt orthogonalization process", Numer. Math. 101, 2005: twice is
 * enough for orthogonality to working precision whenever the matrix is numerically of full rank), with
 * a third pass when the second one still removed more than half the norm (Kahan–Parlett criterion).
 * Float64 throughout; O(4nk²) flops; column-oriented, so every inner loop is a contiguous dot or axpy.
 *
 * Rank detection: a column whose component outside the span of the columns before it is at most
 * `rankTol` times its own norm (default 1e-10, far below the ≈6e-8 relative rounding of a float32
 * matvec, so only exact dependence trips it: a rank-deficient operator, or more columns than rows) adds
 * no basis vector. Then `rank` < k, `q` has `rank` vectors and `r` is rank×k in staircase form
 * (row j of R has zeros left of the column that created q_j). With full rank, R is k×k upper
 * triangular with a positive diagonal, so Q is the sign-normalised Q of the QR (Haar-distributed when
 * the input is a Gaussian matrix: Mezzadri, "How to generate random matrices from the classical compact
 * groups", Notices AMS 54, 2007).
 */
import { dot } from './dot.js';
export interface ColumnQr {
  /** Orthonormal basis vectors q_0 … q_{rank−1} (each of length n). */
  q: Float64Array[];
  /** R, row-major rank×k: column j of the input = Σ_i r[i·k + j] q_i (+ a part ≤ rankTol·‖column‖ when dependent). */
  r: Float64Array;
  rank: number;
  /** For each q_i, the input column that created it (increasing). */
  pivots: number[];
}

export function qrColumns(columns: ArrayLike<number>[], opts: { rankTol?: number } = {}): ColumnQr {
  const k = columns.length;
  const n = k > 0 ? columns[0].length : 0;
  const rankTol = opts.rankTol ?? 1e-10;
  if (!(rankTol >= 0)) throw new RangeError(`qrColumns: rankTol must be ≥ 0, got ${rankTol}`);
  const q: Float64Array[] = [];
  const pivots: number[] = [];
  const rFull = new Float64Array(k * k); // at most k rows; trimmed to rank rows at the end
  const c = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const col = columns[j];
    if (col.length !== n) throw new RangeError(`qrColumns: column ${j} has length ${col.length}, expected ${n}`);
    const v = new Float64Array(col);
    const norm0 = norm(v);
    if (!Number.isFinite(norm0)) throw new RangeError(`qrColumns: column ${j} is not finite`);
    let before = norm0;
    let after = norm0;
    for (let pass = 0; pass < 3 && q.length > 0; pass++) {
      if (pass === 2 && after > 0.5 * before) break;
      // Classical: all coefficients from the same v, then one update.
      for (let i = 0; i < q.length; i++) c[i] = dot(q[i], v);
      for (let i = 0; i < q.length; i++) {
        axpy(-c[i], q[i], v);
        rFull[i * k + j] += c[i];
      }
      before = after;
      after = norm(v);
    }
    if (after > rankTol * norm0 && after > 0) {
      rFull[q.length * k + j] = after;
      for (let t = 0; t < n; t++) v[t] /= after;
      q.push(v);
      pivots.push(j);
    }
  }
  const rank = q.length;
  return { q, r: rFull.slice(0, rank * k), rank, pivots };
}

/**
 * Inverse of an upper-triangular k×k matrix (row-major, non-zero diagonal) by back substitution;
 * float64, O(k³/3) flops.
 */
export function invertUpperTriangular(r: ArrayLike<number>, k: number): Float64Array {
  const inv = new Float64Array(k * k);
  for (let j = 0; j < k; j++) {
    // Column j of R⁻¹: solve R x = e_j (x_i = 0 for i > j).
    inv[j * k + j] = 1 / r[j * k + j];
    for (let i = j - 1; i >= 0; i--) {
      let s = 0;
      for (let l = i + 1; l <= j; l++) s += r[i * k + l] * inv[l * k + j];
      inv[i * k + j] = -s / r[i * k + i];
    }
  }
  return inv;
}


function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += a * x[i];
}

function norm(x: Float64Array): number {
  return Math.sqrt(dot(x, x));
}
