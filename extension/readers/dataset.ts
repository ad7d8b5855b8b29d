/**
 * Turns a data file into the engine's Dataset for a given network and loss: reads x and y from any of
 * the data formats (.npz; an .npy pair; .json; .csv), checks the input shape against the model's
 * (a flat [N, F] x is reshaped to [N, ...inputShape] when F is the input's size), checks the labels
 * against the loss (integer classes in range, probabilities in [0, 1], finite values), and makes sparse
 * labels one-hot. Every format ends in the same x/y arrays, so results do not depend on the format.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.js';
import type { Network } from '../engine/network.js';
import type { Dataset } from '../engine/objective.js';
import { chooseLoss, type LossSpec } from '../engine/loss.js';
import { readNpz } from './npz.js';
import { DEFAULT_LIMITS, readNpy, type NdArray, type ReadLimits } from './npy.js';
import { readJsonData } from './jsonData.js';
import { readCsvData } from './csv.js';
import { allocate } from './alloc.js';

export interface LoadedData {
  dataset: Dataset;
  loss: LossSpec;
}

export interface DataOptions {
  /** The labels of .npy data (default: y.npy beside a data file named x.npy). */
  labelsPath?: string | null;
  /** The label column of .csv data: a header name, or a 0-based index (negative from the end); default the last. */
  labelColumn?: string | number | null;
  limits?: ReadLimits;
}

/** Reads the raw x/y arrays of a data file, whatever its format, and the file the labels came from. */
export function readArrays(path: string, options: DataOptions = {}): { x: NdArray; y: NdArray; labelsPath: string } {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const format = /\.(npz|npy|json|csv)$/i.exec(path)?.[1].toLowerCase();
  if (!format) {
    throw new InputError(path, 'unsupported data format; use a .npz file with arrays x and y, an .npy pair (x.npy and y.npy), a .json file {"x": [...], "y": [...]} or a .csv file (one example per row)');
  }
  if (options.labelsPath && format !== 'npy') {
    throw new InputError(null, `--labels is for .npy data (x.npy with its labels in another .npy file); a .${format} file holds its own labels`);
  }
  if (options.labelColumn != null && options.labelColumn !== '' && format !== 'csv') {
    throw new InputError(null, `--label-column is for .csv data; a .${format} file has no columns`);
  }
  switch (format) {
    case 'npz':
      return { ...readNpzArrays(path, limits), labelsPath: path };
    case 'npy': {
      const x = readNpy(path, limits);
      const labelsPath = options.labelsPath || besideLabels(path);
      if (!/\.npy$/i.test(labelsPath)) throw new InputError(labelsPath, 'labels of .npy data must be a .npy file too');
      return { x, y: readNpy(labelsPath, limits), labelsPath };
    }
    case 'json':
      return { ...readJsonData(path, limits), labelsPath: path };
    default:
      return { ...readCsvData(path, options.labelColumn ?? null, limits), labelsPath: path };
  }
}

function readNpzArrays(path: string, limits: ReadLimits): { x: NdArray; y: NdArray } {
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

/** y.npy beside x.npy (keeping the case of the x: X.npy goes with Y.npy). */
function besideLabels(path: string): string {
  const name = basename(path);
  if (name.toLowerCase() !== 'x.npy') {
    throw new InputError(path, 'a .npy file holds only x: give its labels with --labels FILE.npy, or name the pair x.npy and y.npy');
  }
  const y = join(dirname(path), `${name[0] === 'X' ? 'Y' : 'y'}${name.slice(1)}`);
  if (!existsSync(y)) throw new InputError(path, `its labels are missing: no ${basename(y)} beside it (${y}); put them there or pass --labels FILE.npy`);
  return y;
}

/** What a network may tell about its input (optional until every network provides it). */
interface InputInfo {
  inputKind?: 'float' | 'tokens';
  vocabulary?: number | null;
}

/**
 * Checks x and y against the network and the loss and makes the Dataset. `path` names the data file in
 * errors about x, `labelsPath` (default: the same) in errors about y. x may be [N, ...inputShape], or
 * flat [N, F] with F the input's size (C order, NHWC for images), as .csv data always is.
 */
export function prepareData(
  path: string,
  x: NdArray,
  y: NdArray,
  net: Network,
  requestedLoss: { name: string; reason: string } | null,
  labelsPath: string = path,
): LoadedData {
  const n = x.shape[0];
  const want = [n, ...net.inputShape];
  const inputSize = net.inputShape.reduce((a, b) => a * b, 1);
  const flat = x.shape.length === 2 && net.inputShape.length > 1 && x.shape[1] === inputSize;
  if (!flat && (x.shape.length !== want.length || x.shape.some((d, i) => d !== want[i]))) {
    const images = net.inputShape.length === 3 ? ` (${net.inputLayout ?? 'NHWC'} for images)` : '';
    const flatToo = net.inputShape.length > 1 ? `, or [N, ${inputSize}] flattened` : '';
    throw new InputError(path, `x has shape [${x.shape}] but the model expects [N, ${net.inputShape}]${images}${flatToo}`);
  }
  if (n === 0) throw new InputError(path, 'x has no examples');
  if (y.shape[0] !== n) throw new InputError(path, `x has ${n} examples but y${labelsPath !== path ? ` (${labelsPath})` : ''} has ${y.shape[0] ?? 0}`);
  // Float32 x is used as it is (no copy): the readers' arrays are their own.
  const xf = x.data instanceof Float32Array ? x.data : Float32Array.from(x.data as ArrayLike<number>);
  const badX = xf.findIndex((v) => !Number.isFinite(v));
  if (badX >= 0) throw new InputError(path, `x has a non-finite value at example ${Math.floor(badX / (xf.length / n))}`);
  const info = net as Network & InputInfo;
  if (info.inputKind === 'tokens' && typeof info.vocabulary === 'number') {
    const V = info.vocabulary;
    const bad = xf.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= V);
    if (bad >= 0) {
      throw new InputError(path, `x value ${xf[bad]} of example ${Math.floor(bad / inputSize)} is not a token id: the model's embedding takes integers 0…${V - 1}`);
    }
  }
  const yv = y.data as ArrayLike<number>;
  for (let i = 0; i < yv.length; i++) {
    if (!Number.isFinite(yv[i])) throw new InputError(labelsPath, `y has a non-finite value at example ${Math.floor(i / (yv.length / n))}`);
  }
  const integer = y.dtype !== 'float32' && y.dtype !== 'float64';
  const loss = chooseLoss(net.head, net.outputShape, { shape: y.shape, integer }, requestedLoss, labelsPath);
  const out = net.outputShape;
  const outSize = out.reduce((a, b) => a * b, 1);
  let yData: Float32Array;
  let yShape: number[];
  if (loss.name === 'sparse-categorical-cross-entropy') {
    const classes = out[out.length - 1];
    if (out.length !== 1 || !(y.shape.length === 1 || (y.shape.length === 2 && y.shape[1] === 1))) {
      throw new InputError(labelsPath, `y has shape [${y.shape}]; sparse labels need shape [N] or [N, 1] for an output of shape [${out}]`);
    }
    yData = allocate('float32', n * classes, DEFAULT_LIMITS.maxBytes, labelsPath, `one-hot labels for ${n} examples of ${classes} classes`);
    for (let i = 0; i < n; i++) {
      const c = yv[i];
      if (!Number.isInteger(c) || c < 0 || c >= classes) {
        throw new InputError(labelsPath, `label ${c} of example ${i} is out of range: the model has ${classes} classes (0…${classes - 1})`);
      }
      yData[i * classes + c] = 1;
    }
    yShape = [classes];
  } else {
    const per = y.shape.slice(1);
    const ok = per.reduce((a, b) => a * b, 1) === outSize && (per.length === out.length || (outSize === 1 && per.length <= 1));
    if (!ok) throw new InputError(labelsPath, `y has shape [${y.shape}] but the model's output is [N, ${out}] (${loss.name})`);
    yData = Float32Array.from(yv);
    yShape = out;
    if (loss.name !== 'mean-squared-error') {
      const bad = yData.findIndex((v) => v < 0 || v > 1);
      if (bad >= 0) throw new InputError(labelsPath, `label value ${yData[bad]} (example ${Math.floor(bad / outSize)}) is outside [0, 1], as ${loss.name} needs`);
    }
  }
  return { dataset: { x: xf, xShape: net.inputShape, y: yData, yShape, examples: n }, loss };
}
