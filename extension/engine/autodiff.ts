/**
 * Gradients and exact Hessian-vector products of a scalar function of several tensors, by
 * reverse-over-reverse differentiation: Hv = ∇ₓ ⟨∇ₓ f(x), v⟩ (Pearlmutter 1994, "Fast exact
 * multiplication by the Hessian"). Correct in tfjs only together with the gradient fixes in
 * gradients.ts. Inputs with no path to f get zeros, never undefined.
 */
import { tf } from './tfjs.js';

export type ScalarFn = () => tf.Scalar;

export function valueAndGrads(f: ScalarFn, xs: tf.Tensor[]): { value: tf.Scalar; grads: tf.Tensor[] } {
  const { value, grads } = tf.engine().gradients(f, xs, undefined, true);
  return { value: value as tf.Scalar, grads: grads.map((g, i) => g ?? tf.zerosLike(xs[i])) };
}

/** H·v for f at xs; vs has one tensor per x. Call inside tf.tidy. */
export function hessianVectorProduct(f: ScalarFn, xs: tf.Tensor[], vs: tf.Tensor[]): tf.Tensor[] {
  const directional = () =>
    tf.tidy(() => {
      const { grads } = valueAndGrads(f, xs);
      return tf.addN(grads.map((g, i) => tf.sum(tf.mul(g, vs[i])))) as tf.Scalar;
    });
  const { value, grads } = valueAndGrads(directional, xs);
  value.dispose();
  return grads;
}
