/** x · y in float64 with four partial sums (breaks the add-latency chain: ≈3× faster in V8 for long vectors). */
export function dot(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const len = x.length;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < len; i += 4) {
    s0 += x[i] * y[i];
    s1 += x[i + 1] * y[i + 1];
    s2 += x[i + 2] * y[i + 2];
    s3 += x[i + 3] * y[i + 3];
  }
  for (; i < len; i++) s0 += x[i] * y[i];
  return s0 + s1 + (s2 + s3);
}
