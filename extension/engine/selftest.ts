/**
 * The numerical second-order self-test every backend must pass before it is trusted.
 *
 * A tiny conv → relu → max-pool → flatten → dense/tanh → dense network is built through the same code
 * path as a user's model (buildNetwork, Objective), once per head (softmax + cross-entropy, sigmoid +
 * binary cross-entropy, linear + MSE). Its loss, directional first derivative and three quadratic forms
 * uᵀHv are compared with an independent float64 implementation written with plain loops here, whose
 * derivatives come from central finite differences (second differences for dᵀHd, polarisation for
 * uᵀHv). A backend with tfjs' known second-order faults misses by 20–90 %; a correct one by < 1e-4.
 * Both HVP paths are checked: reverse-over-reverse (autodiff.ts) and the R-operator (rop.ts) on the same
 * network, a Dense chain on the R-operator, and a graph of the other layers on reverse-over-reverse.
 */
import type { RawLayer, TfjsModelFile } from '../readers/tfjsModel.js';
import { Rng } from '../estimators/rng.js';
import { buildNetwork } from './network.js';
import { Objective } from './objective.js';
import type { LossSpec } from './loss.js';

const N = 5;
const H = 4;
const C = 2; // input 4×4×2
const F = 3; // conv filters, 3×3 same → 4×4×3, pool 2 → 2×2×3 → 12
const D = 5; // hidden dense, tanh
const K = 3; // outputs

type Head = 'softmax' | 'sigmoid' | 'linear';

export interface SelfTestReport {
  ok: boolean;
  /** Largest relative disagreement seen. */
  worst: number;
  detail: string;
}

export function selfTest(tolerance = 2e-3): SelfTestReport {
  let worst = 0;
  const lines: string[] = [];
  for (const rop of [false, true]) {
    for (const head of ['softmax', 'sigmoid', 'linear'] as Head[]) {
      const r = checkHead(head, rop);
      worst = Math.max(worst, r.worst);
      lines.push(`${rop ? 'R-operator ' : ''}${head}: ${r.worst.toExponential(1)}`);
    }
  }
  for (const head of ['softmax', 'sigmoid', 'linear'] as Head[]) {
    const r = checkChain(head);
    worst = Math.max(worst, r.worst);
    lines.push(`dense chain (R-operator) ${head}: ${r.worst.toExponential(1)}`);
  }
  const g = checkGraph();
  worst = Math.max(worst, g.worst);
  lines.push(`graph: ${g.worst.toExponential(1)}`);
  return { ok: worst < tolerance, worst, detail: `largest relative deviation from float64 ${worst.toExponential(1)} (${lines.join(', ')})` };
}

function checkHead(head: Head, rop: boolean): { worst: number } {
  const rng = new Rng(1234);
  const shapes: Array<[string, number[]]> = [
    ['conv/kernel', [3, 3, C, F]],
    ['conv/bias', [F]],
    ['hidden/kernel', [12, D]],
    ['hidden/bias', [D]],
    ['out/kernel', [D, K]],
    ['out/bias', [K]],
  ];
  const weights = shapes.map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = 0.5 * rng.normal();
    return { name, shape, values };
  });
  const layers: RawLayer[] = [
    { className: 'InputLayer', name: 'in', config: { batch_input_shape: [null, H, H, C] } },
    { className: 'Conv2D', name: 'conv', config: { filters: F, kernel_size: [3, 3], strides: [1, 1], padding: 'same', activation: 'relu' } },
    { className: 'MaxPooling2D', name: 'pool', config: { pool_size: [2, 2], strides: [2, 2], padding: 'valid' } },
    { className: 'Flatten', name: 'flat', config: {} },
    { className: 'Dense', name: 'hidden', config: { units: D, activation: 'tanh' } },
    { className: 'Dense', name: 'out', config: { units: K, activation: head } },
  ];
  const file: TfjsModelFile = { path: '<self-test>', name: 'self-test', topologyClass: 'Sequential', layers, inputShape: [H, H, C], weights, trainingLoss: null };
  const net = buildNetwork(file);
  const x = new Float32Array(N * H * H * C).map(() => rng.normal());
  let y: Float32Array;
  let loss: LossSpec;
  if (head === 'softmax') {
    y = new Float32Array(N * K);
    for (let i = 0; i < N; i++) y[i * K + (i % K)] = 1;
    loss = { name: 'categorical-cross-entropy', fromLogits: true, reason: 'self-test' };
  } else if (head === 'sigmoid') {
    y = new Float32Array(N * K).map((_, i) => ((i * 7) % 3 === 0 ? 1 : 0));
    loss = { name: 'binary-cross-entropy', fromLogits: true, reason: 'self-test' };
  } else {
    y = new Float32Array(N * K).map(() => rng.normal());
    loss = { name: 'mean-squared-error', fromLogits: false, reason: 'self-test' };
  }
  const obj = new Objective(net, { x, xShape: [H, H, C], y, yShape: [K], examples: N }, loss, 3);
  if (obj.rop !== rop) {
    if (rop) return (obj.dispose(), net.dispose(), { worst: Infinity }); // the network must be on the R-operator path
    obj.rop = false;
  }
  return compare(obj, (w) => reference(w, x, y, head), rng);
}

/**
 * Compares the engine's loss, gᵀv, and uᵀHu, vᵀHv, uᵀHv with central differences of a float64
 * reference (second differences and polarisation), relative to ‖Hv‖‖v‖, with Hu and Hv from one
 * stacked hvpMany; and Hv computed alone against the stacked one. Disposes the objective.
 */
function compare(obj: Objective, f: (w: Float64Array) => number, rng: Rng): { worst: number } {
  try {
    const P = obj.size;
    const w0 = Float64Array.from(obj.net.initial);
    const u = new Float64Array(P).map(() => rng.normal() / Math.sqrt(P));
    const v = new Float64Array(P).map(() => rng.normal() / Math.sqrt(P));
    const along = (d: Float64Array, e: number) => w0.map((wi, i) => wi + e * d[i]);
    const second = (d: Float64Array) => {
      const e = 1e-3;
      return (f(along(d, e)) - 2 * f(w0) + f(along(d, -e))) / (e * e);
    };
    const { loss: l, gradient } = obj.lossAndGradient();
    // Both ways inspect evaluates HVPs: stacked (probes, sketch columns) and one at a time (Lanczos).
    const [hv, hu] = obj.hvpMany([Float32Array.from(v), Float32Array.from(u)]);
    const hvAlone = obj.hvp(Float32Array.from(v));
    const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      let s = 0;
      for (let i = 0; i < a.length; i++) s += a[i] * b[i];
      return s;
    };
    const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));
    const fd1 = (f(along(v, 1e-5)) - f(along(v, -1e-5))) / 2e-5;
    const sum = u.map((ui, i) => ui + v[i]);
    const diff = u.map((ui, i) => ui - v[i]);
    const scale = Math.max(norm(hv) * norm(v), norm(hu) * norm(u), 1e-12);
    const errs = [
      Math.abs(l - f(w0)) / Math.max(Math.abs(f(w0)), 1e-12),
      Math.abs(dot(gradient, v) - fd1) / Math.max(norm(gradient) * norm(v), 1e-12),
      Math.abs(dot(hv, v) - second(v)) / scale,
      Math.abs(dot(hu, u) - second(u)) / scale,
      Math.abs(dot(hv, u) - (second(sum) - second(diff)) / 4) / scale,
      norm(hv.map((h, i) => h - hvAlone[i])) / Math.max(norm(hv), 1e-12),
    ];
    return { worst: Math.max(...errs.map((e) => (Number.isFinite(e) ? e : Infinity))) };
  } finally {
    obj.dispose();
    obj.net.dispose();
  }
}

/**
 * The smooth-op graph: Dense·gelu → LayerNorm → Dense·elu → BatchNorm → Dense·swish, + the LayerNorm
 * output (residual Add) → Dense·softplus → LeakyReLU(0.3) → Dense → softmax cross-entropy.
 */
const G = 6;
const GRAPH: Array<[string, string, Record<string, unknown>, string[]]> = [
  ['d1', 'Dense', { units: G, activation: 'gelu' }, ['in']],
  ['ln', 'LayerNormalization', { axis: -1, epsilon: 1e-3 }, ['d1']],
  ['d2', 'Dense', { units: G, activation: 'elu' }, ['ln']],
  ['bn', 'BatchNormalization', { axis: -1, epsilon: 1e-3 }, ['d2']],
  ['d3', 'Dense', { units: G, activation: 'swish' }, ['bn']],
  ['add', 'Add', {}, ['d3', 'ln']],
  ['d4', 'Dense', { units: G, activation: 'softplus' }, ['add']],
  ['lr', 'LeakyReLU', { negative_slope: 0.3 }, ['d4']],
  ['out', 'Dense', { units: K, activation: 'softmax' }, ['lr']],
];

function checkGraph(): { worst: number } {
  const rng = new Rng(4321);
  const normal = (n: number, s: number, m = 0) => new Float32Array(n).map(() => m + s * rng.normal());
  const weights: TfjsModelFile['weights'] = [];
  for (const [name, cls, cfg] of GRAPH) {
    if (cls === 'Dense') {
      const units = cfg.units as number;
      weights.push({ name: `${name}/kernel`, shape: [G, units], values: normal(G * units, 0.6) }, { name: `${name}/bias`, shape: [units], values: normal(units, 0.3) });
    } else if (cls === 'LayerNormalization' || cls === 'BatchNormalization') {
      weights.push({ name: `${name}/gamma`, shape: [G], values: normal(G, 0.2, 1) }, { name: `${name}/beta`, shape: [G], values: normal(G, 0.2) });
      if (cls === 'BatchNormalization') {
        weights.push({ name: `${name}/moving_mean`, shape: [G], values: normal(G, 0.3) }, { name: `${name}/moving_variance`, shape: [G], values: new Float32Array(G).map(() => 0.5 + rng.uniform()) });
      }
    }
  }
  const layers: RawLayer[] = [
    { className: 'InputLayer', name: 'in', config: { batch_input_shape: [null, G] }, inbound: [] },
    ...GRAPH.map(([name, className, config, inputs]) => ({ className, name, config: { name, ...config }, inbound: [inputs] })),
  ];
  const file: TfjsModelFile = { path: '<self-test>', name: 'self-test-graph', topologyClass: 'Functional', layers, inputShape: null, weights, trainingLoss: null, outputLayers: ['out'] };
  const net = buildNetwork(file);
  const x = normal(N * G, 1);
  const y = new Float32Array(N * K);
  for (let i = 0; i < N; i++) y[i * K + ((i * 2) % K)] = 1;
  const constants = { mean: weights.find((w) => w.name === 'bn/moving_mean')!.values, variance: weights.find((w) => w.name === 'bn/moving_variance')!.values };
  const loss: LossSpec = { name: 'categorical-cross-entropy', fromLogits: true, reason: 'self-test' };
  return compare(new Objective(net, { x, xShape: [G], y, yShape: [K], examples: N }, loss, 2), (w) => graphReference(w, x, y, constants), rng);
}

/** The graph's mean loss in float64 with plain loops; `w` in parameter order (moving statistics are constants). */
function graphReference(w: Float64Array, x: Float32Array, y: Float32Array, bn: { mean: Float32Array; variance: Float32Array }): number {
  let o = 0;
  const take = (n: number) => w.subarray(o, (o += n));
  const p: Record<string, Float64Array[]> = {};
  for (const [name, cls, cfg] of GRAPH) {
    if (cls === 'Dense') p[name] = [take(G * (cfg.units as number)), take(cfg.units as number)];
    if (cls === 'LayerNormalization' || cls === 'BatchNormalization') p[name] = [take(G), take(G)];
  }
  const denseF = (h: number[], [k, b]: Float64Array[], units: number) => Array.from({ length: units }, (_, j) => h.reduce((s, hi, i) => s + hi * k[i * units + j], b[j]));
  const sig = (t: number) => 1 / (1 + Math.exp(-t));
  let total = 0;
  for (let n = 0; n < N; n++) {
    const xin = Array.from(x.subarray(n * G, (n + 1) * G));
    const h1 = denseF(xin, p.d1, G).map((t) => 0.5 * t * (1 + erf(t / Math.SQRT2)));
    const mu = h1.reduce((a, b) => a + b, 0) / G;
    const va = h1.reduce((a, b) => a + (b - mu) ** 2, 0) / G;
    const h2 = h1.map((t, i) => ((t - mu) / Math.sqrt(va + 1e-3)) * p.ln[0][i] + p.ln[1][i]);
    const h3 = denseF(h2, p.d2, G).map((t) => (t > 0 ? t : Math.expm1(t)));
    const h4 = h3.map((t, i) => ((t - bn.mean[i]) / Math.sqrt(bn.variance[i] + 1e-3)) * p.bn[0][i] + p.bn[1][i]);
    const h5 = denseF(h4, p.d3, G).map((t) => t * sig(t));
    const h6 = h5.map((t, i) => t + h2[i]);
    const h7 = denseF(h6, p.d4, G).map((t) => Math.max(t, 0) + Math.log1p(Math.exp(-Math.abs(t))));
    const h8 = h7.map((t) => (t > 0 ? t : 0.3 * t));
    const z = denseF(h8, p.out, K);
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((a, zk) => a + Math.exp(zk - m), 0));
    for (let k = 0; k < K; k++) total -= y[n * K + k] * (z[k] - lse);
  }
  return total / N;
}

/** erf in float64: its Maclaurin series for |x| < 3 (≈1e-13), else a continued fraction for erfc. */
function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return (Math.sign(x) * 2 * sum) / Math.sqrt(Math.PI);
  }
  // erfc(a) = exp(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + …)))) (Lentz would do; 60 terms suffice here).
  let f = a;
  for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** The self-test network's mean loss in float64, with plain loops (independent of tfjs). */
function reference(w: Float64Array, x: Float32Array, y: Float32Array, head: Head): number {
  let o = 0;
  const take = (n: number) => w.subarray(o, (o += n));
  const ck = take(9 * C * F);
  const cb = take(F);
  const hk = take(12 * D);
  const hb = take(D);
  const ok = take(D * K);
  const ob = take(K);
  let total = 0;
  for (let n = 0; n < N; n++) {
    const xi = (r: number, c: number, ch: number) => (r < 0 || c < 0 || r >= H || c >= H ? 0 : x[((n * H + r) * H + c) * C + ch]);
    // conv 3×3 "same" (pad 1 each side), relu
    const conv = new Float64Array(H * H * F);
    for (let r = 0; r < H; r++)
      for (let c = 0; c < H; c++)
        for (let f = 0; f < F; f++) {
          let s = cb[f];
          for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) for (let ch = 0; ch < C; ch++) s += xi(r + a - 1, c + b - 1, ch) * ck[((a * 3 + b) * C + ch) * F + f];
          conv[(r * H + c) * F + f] = Math.max(s, 0);
        }
    // max-pool 2×2 stride 2, flatten in (row, col, channel) order
    const flat = new Float64Array(12);
    for (let r = 0; r < 2; r++)
      for (let c = 0; c < 2; c++)
        for (let f = 0; f < F; f++) {
          let m = -Infinity;
          for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) m = Math.max(m, conv[((2 * r + a) * H + 2 * c + b) * F + f]);
          flat[(r * 2 + c) * F + f] = m;
        }
    const hid = new Float64Array(D);
    for (let j = 0; j < D; j++) {
      let s = hb[j];
      for (let i = 0; i < 12; i++) s += flat[i] * hk[i * D + j];
      hid[j] = Math.tanh(s);
    }
    const z = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      let s = ob[k];
      for (let j = 0; j < D; j++) s += hid[j] * ok[j * K + k];
      z[k] = s;
    }
    total += headLoss(z, y.subarray(n * K, (n + 1) * K), head);
  }
  return total / N;
}

/** One example's loss at logits z with targets t, in float64. */
function headLoss(z: ArrayLike<number>, t: ArrayLike<number>, head: Head): number {
  let s = 0;
  if (head === 'softmax') {
    const m = Math.max(...Array.from(z));
    const lse = m + Math.log(Array.from(z).reduce((a, zk) => a + Math.exp(zk - m), 0));
    for (let k = 0; k < K; k++) s -= t[k] * (z[k] - lse);
    return s;
  }
  for (let k = 0; k < K; k++) s += head === 'sigmoid' ? Math.max(z[k], 0) - z[k] * t[k] + Math.log1p(Math.exp(-Math.abs(z[k]))) : (z[k] - t[k]) ** 2;
  return s / K;
}

/**
 * The R-operator path (rop.ts) on a Dense chain: Dense·tanh → Dense·sigmoid → Dense·head on a flat
 * input, against its float64 reference. Fails if the chain is not on the R-operator path.
 */
function checkChain(head: Head): { worst: number } {
  const rng = new Rng(99);
  const widths = [G, D, D, K];
  const acts = ['tanh', 'sigmoid', head];
  const weights: TfjsModelFile['weights'] = [];
  const layers: RawLayer[] = [{ className: 'InputLayer', name: 'in', config: { batch_input_shape: [null, G] } }];
  for (let l = 0; l < 3; l++) {
    layers.push({ className: 'Dense', name: `d${l}`, config: { units: widths[l + 1], activation: acts[l] } });
    weights.push({ name: `d${l}/kernel`, shape: [widths[l], widths[l + 1]], values: new Float32Array(widths[l] * widths[l + 1]).map(() => 0.7 * rng.normal()) });
    weights.push({ name: `d${l}/bias`, shape: [widths[l + 1]], values: new Float32Array(widths[l + 1]).map(() => 0.3 * rng.normal()) });
  }
  const net = buildNetwork({ path: '<self-test>', name: 'self-test-chain', topologyClass: 'Sequential', layers, inputShape: [G], weights, trainingLoss: null });
  const x = new Float32Array(N * G).map(() => rng.normal());
  const y = head === 'linear' ? new Float32Array(N * K).map(() => rng.normal()) : new Float32Array(N * K).map((_, i) => (head === 'softmax' ? Number(i % K === Math.floor(i / K) % K) : (i * 7) % 3 === 0 ? 1 : 0));
  const name = head === 'softmax' ? 'categorical-cross-entropy' : head === 'sigmoid' ? 'binary-cross-entropy' : 'mean-squared-error';
  const obj = new Objective(net, { x, xShape: [G], y, yShape: [K], examples: N }, { name, fromLogits: head !== 'linear', reason: 'self-test' }, 2);
  if (!obj.rop) {
    obj.dispose();
    net.dispose();
    return { worst: Infinity };
  }
  const reference = (w: Float64Array): number => {
    let o = 0;
    let total = 0;
    const layer = [0, 1, 2].map((l) => ({ k: w.subarray(o, (o += widths[l] * widths[l + 1])), b: w.subarray(o, (o += widths[l + 1])) }));
    for (let n = 0; n < N; n++) {
      let h: number[] = Array.from(x.subarray(n * G, (n + 1) * G));
      layer.forEach(({ k, b }, l) => {
        const out = widths[l + 1];
        const z = Array.from({ length: out }, (_, j) => h.reduce((s, hi, i) => s + hi * k[i * out + j], b[j]));
        h = l === 0 ? z.map(Math.tanh) : l === 1 ? z.map((t) => 1 / (1 + Math.exp(-t))) : z;
      });
      total += headLoss(h, y.subarray(n * K, (n + 1) * K), head);
    }
    return total / N;
  };
  return compare(obj, reference, rng);
}
