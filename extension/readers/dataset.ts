/**
 * Turns a data file into the engine's Dataset for a given network and loss: picks the arrays
 * (`x` and `y`, else the first two), checks the input shape against the model's, checks the labels
 * against the loss (integer classes in range, probabilities in [0, 1], finite values), and makes sparse
 * labels one-hot.
 */
import { InputError } from '../errors.js';
import type { Network } from '../engine/network.js';
import type { Dataset } from '../engine/objective.js';
import { chooseLoss, type LossSpec } from '../engine/loss.js';
import { readNpz } from './npz.js';
import type { NdArray, ReadLimits } from './npy.js';

export interface LoadedData {
  dataset: Dataset;
  loss: LossSpec;
}

/** Reads the raw x/y arrays of a data file. */
export function readArrays(path: string, limits?: ReadLimits): { x: NdArray; y: NdArray } {
  if (!/\.npz$/i.test(path)) throw new InputError(path, 'unsupported data format; use a .npz file with arrays x and y');
  const arrays = readNpz(path, limits);
  const names = [...arrays.keys()];
  const pick = (want: string, i: number) => arrays.get(want) ?? (arrays.has('x') || arrays.has('y') ? undefined : arrays.get(names[i]));
  const x = pick('x', 0);
  const y = pick('y', 1);
  if (!x || !y) {
    throw new InputError(path, `needs arrays "x" and "y" (found: ${names.join(', ') || 'none'})`);
  }
  return { x, y };
}

export function prepareData(path: string, x: NdArray, y: NdArray, net: Network, requestedLoss: { name: string; reason: string } | null): LoadedData {
  const n = x.shape[0];
  const want = [n, ...net.inputShape];
  if (x.shape.length !== want.length || x.shape.some((d, i) => d !== want[i])) {
    throw new InputError(path, `x has shape [${x.shape}] but the model expects [N, ${net.inputShape}] (NHWC for images)`);
  }
  if (n === 0) throw new InputError(path, 'x has no examples');
  if (y.shape[0] !== n) throw new InputError(path, `x has ${n} examples but y has ${y.shape[0] ?? 0}`);
  const xf = Float32Array.from(x.data as ArrayLike<number>);
  const badX = xf.findIndex((v) => !Number.isFinite(v));
  if (badX >= 0) throw new InputError(path, `x has a non-finite value at example ${Math.floor(badX / (xf.length / n))}`);
  const yv = y.data as ArrayLike<number>;
  for (let i = 0; i < yv.length; i++) {
    if (!Number.isFinite(yv[i])) throw new InputError(path, `y has a non-finite value at example ${Math.floor(i / (yv.length / n))}`);
  }
  const integer = y.dtype !== 'float32' && y.dtype !== 'float64';
  const loss = chooseLoss(net.head, net.outputShape, { shape: y.shape, integer }, requestedLoss, path);
  const out = net.outputShape;
  const outSize = out.reduce((a, b) => a * b, 1);
  let yData: Float32Array;
  let yShape: number[];
  if (loss.name === 'sparse-categorical-cross-entropy') {
    const classes = out[out.length - 1];
    if (out.length !== 1 || !(y.shape.length === 1 || (y.shape.length === 2 && y.shape[1] === 1))) {
      throw new InputError(path, `y has shape [${y.shape}]; sparse labels need shape [N] or [N, 1] for an output of shape [${out}]`);
    }
    yData = new Float32Array(n * classes);
    for (let i = 0; i < n; i++) {
      const c = yv[i];
      if (!Number.isInteger(c) || c < 0 || c >= classes) {
        throw new InputError(path, `label ${c} of example ${i} is out of range: the model has ${classes} classes (0…${classes - 1})`);
      }
      yData[i * classes + c] = 1;
    }
    yShape = [classes];
  } else {
    const per = y.shape.slice(1);
    const ok = per.reduce((a, b) => a * b, 1) === outSize && (per.length === out.length || (outSize === 1 && per.length <= 1));
    if (!ok) throw new InputError(path, `y has shape [${y.shape}] but the model's output is [N, ${out}] (${loss.name})`);
    yData = Float32Array.from(yv);
    yShape = out;
    if (loss.name !== 'mean-squared-error') {
      const bad = yData.findIndex((v) => v < 0 || v > 1);
      if (bad >= 0) throw new InputError(path, `label value ${yData[bad]} (example ${Math.floor(bad / outSize)}) is outside [0, 1], as ${loss.name} needs`);
    }
  }
  return { dataset: { x: xf, xShape: net.inputShape, y: yData, yShape, examples: n }, loss };
}
