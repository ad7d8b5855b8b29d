/**
 * The supported losses, as Keras defines them, each a mean over examples. Cross-entropies are taken from
 * logits (log-softmax / log-sigmoid written out), never through a clipped probability: numerically
 * required, and the only form tfjs differentiates twice correctly.
 */
import { InputError } from '../errors.js';
import { tf } from './tfjs.js';
import { activate, logSoftmax, type Activation } from './layers.js';

export const LOSSES = ['sparse-categorical-cross-entropy', 'categorical-cross-entropy', 'binary-cross-entropy', 'mean-squared-error'] as const;
export type LossName = (typeof LOSSES)[number];

export interface LossSpec {
  name: LossName;
  /** True when the loss is taken from the pre-head outputs (the head's softmax/sigmoid is fused). */
  fromLogits: boolean;
  /** How the loss was chosen, for the user. */
  reason: string;
}

export interface LabelInfo {
  shape: number[];
  integer: boolean;
}

/**
 * Chooses the loss: the user's, else inferred from the head and the labels (softmax → categorical,
 * sparse for integer labels of shape [N] or [N,1]; sigmoid → binary; otherwise mean squared error).
 */
export function chooseLoss(head: Activation, outputShape: number[], labels: LabelInfo, requested: { name: string; reason: string } | null, dataFile: string): LossSpec {
  const classes = outputShape[outputShape.length - 1];
  let name: LossName;
  let reason: string;
  if (requested) {
    if (!(LOSSES as readonly string[]).includes(requested.name)) {
      throw new InputError(null, `--loss ${requested.name} is not one of ${LOSSES.join(', ')}`);
    }
    name = requested.name as LossName;
    reason = requested.reason;
  } else if (head === 'softmax') {
    const sparse = labels.shape.length === 1 || (labels.shape.length === 2 && labels.shape[1] === 1 && classes !== 1);
    name = sparse ? 'sparse-categorical-cross-entropy' : 'categorical-cross-entropy';
    reason = sparse ? 'softmax output with integer class labels' : 'softmax output with one-hot/probability labels';
  } else if (head === 'sigmoid') {
    name = 'binary-cross-entropy';
    reason = 'sigmoid output';
  } else {
    name = 'mean-squared-error';
    reason = `${head} output`;
  }
  const ce = name !== 'mean-squared-error';
  if (ce && name !== 'binary-cross-entropy' && head !== 'softmax' && head !== 'linear') {
    throw new InputError(null, `${name} needs a softmax (or linear, taken as logits) output layer; the model ends in ${head}`);
  }
  if (name === 'binary-cross-entropy' && head !== 'sigmoid' && head !== 'linear') {
    throw new InputError(null, `binary-cross-entropy needs a sigmoid (or linear, taken as logits) output layer; the model ends in ${head}`);
  }
  if (name === 'sparse-categorical-cross-entropy' && !labels.integer) {
    throw new InputError(dataFile, 'labels for sparse-categorical-cross-entropy must be integer class indices');
  }
  return { name, fromLogits: ce, reason };
}

/** Σ over the batch of each example's loss, from the network's pre-head outputs `z`. */
export function lossSum(spec: LossSpec, head: Activation, z: tf.Tensor, y: tf.Tensor): tf.Tensor {
  switch (spec.name) {
    case 'sparse-categorical-cross-entropy': // labels are one-hot by then (see Objective)
    case 'categorical-cross-entropy':
      return tf.neg(tf.sum(tf.mul(y, logSoftmax(z))));
    case 'binary-cross-entropy': {
      // max(z, 0) − z·y + log(1 + exp(−|z|)), averaged over the last axis as Keras does.
      const per = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
      return tf.div(tf.sum(per), z.shape[z.rank - 1]);
    }
    case 'mean-squared-error': {
      const pred = activate(z, head);
      const per = tf.square(tf.sub(pred, y));
      return tf.div(tf.sum(per), pred.size / pred.shape[0]);
    }
  }
}
