/**
 * Eigen-decomposition of a symmetric tridiagonal matrix T (diagonal alpha, length m; off-diagonal beta,
 * length m − 1), returning the eigenvalues ascending and the first and last component of each unit
 * eigenvector: T = Y diag(θ) Yᵀ, first[i] = Y[0][i], last[i] = Y[m−1][i] (each eigenvector up to sign).
 * That is all Lanczos needs: Ritz residuals β_m |Y[m−1][i]| and quadrature weights Y[0][i]².
 *
 * Method: implicit QL with shifts, after EISPACK "tql2" (Bowdler, Martin, Reinsch & Wilkinson, "The QR
 * and QL algorithms for symmetric matrices", Numer. Math. 11, 1968; Handbook II/3) as in JAMA. Each
 * sweep shifts by the eigenvalue of the leading 2×2 block nearer its top-left entry (Wilkinson's shift),
 * chases the bulge with Givens rotations, and deflates when |e_l| ≤ ε·max_k(|d_k| + |e_k|).
 * The rotations act on rows of the eigenvector matrix independently, so only its first and last rows
 * are carried: O(m²) flops and O(m) memory instead of O(m³) and O(m²). All arithmetic in float64.
 * Accuracy: eigenvalues to a few ε·‖T‖ (backward stable).
 */
export function tridiagonalEigen(
  alpha: Float64Array,
  beta: Float64Array,
): { values: Float64Array; first: Float64Array; last: Float64Array } {
  const m = alpha.length;
  if (m === 0) {
    if (beta.length !== 0) throw new RangeError('tridiagonalEigen: beta must be empty when alpha is');
    return { values: new Float64Array(0), first: new Float64Array(0), last: new Float64Array(0) };
  }
  if (beta.length !== m - 1) {
    throw new RangeError(`tridiagonalEigen: beta has length ${beta.length}, expected ${m - 1}`);
  }
  for (let i = 0; i < m; i++) {
    if (!Number.isFinite(alpha[i]) || (i < m - 1 && !Number.isFinite(beta[i]))) {
      throw new RangeError('tridiagonalEigen: entries must be finite');
    }
  }

  const d = Float64Array.from(alpha);
  const e = new Float64Array(m); // e[i] couples d[i] and d[i+1]; e[m−1] = 0
  e.set(beta);
  // Rows 0 and m−1 of the accumulated rotations, starting from the identity.
  const top = new Float64Array(m);
  const bot = new Float64Array(m);
  top[0] = 1;
  bot[m - 1] = 1;

  const eps = Number.EPSILON;
  const maxSweeps = 60; // per eigenvalue; tql2 needs about 2 on average
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < m; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let k = l; // first negligible off-diagonal at or after l
    while (k < m - 1 && Math.abs(e[k]) > eps * tst1) k++;
    if (k > l) {
      let sweeps = 0;
      do {
        if (++sweeps > maxSweeps) throw new Error('tridiagonalEigen: QL iteration did not converge');
        // Shift: eigenvalue of the leading 2×2 block [[d_l, e_l], [e_l, d_{l+1}]] nearer d_l.
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < m; i++) d[i] -= h;
        f += h;

        // Implicit QL sweep from k − 1 up to l.
        p = d[k];
        let c = 1;
        let c2 = 1;
        let c3 = 1;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = k - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          let t = top[i + 1];
          top[i + 1] = s * top[i] + c * t;
          top[i] = c * top[i] - s * t;
          t = bot[i + 1];
          bot[i + 1] = s * bot[i] + c * t;
          bot[i] = c * bot[i] - s * t;
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] = d[l] + f;
    e[l] = 0;
  }

  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => d[a] - d[b]);
  const values = new Float64Array(m);
  const first = new Float64Array(m);
  const last = new Float64Array(m);
  order.forEach((src, dst) => {
    values[dst] = d[src];
    first[dst] = top[src];
    last[dst] = bot[src];
  });
  return { values, first, last };
}
