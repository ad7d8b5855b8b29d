/**
 * One inspection run: choose and self-test a backend, load model and data, then compute the loss,
 * gradient, H·g, the diagonal and trace (exact or Hutchinson) and the extreme eigenvalues (Lanczos),
 * globally and per layer block. Returns the schemaVersion-1 result object; reports progress; honours
 * an AbortSignal between HVPs. Imports no vscode.
 */
import { CancelledError, InputError } from '../errors.js';
import type { ConvergencePoint, DiagonalEstimate, DiagonalPreview, EigenSummary, InspectResult, InspectSettings, LayerResult, Progress, TraceEstimate } from '../protocol.js';
import { prepareData, readArrays } from '../readers/dataset.js';
import { hutchinson } from '../estimators/hutchinson.js';
import { hutchpp } from '../estimators/hutchpp.js';
import { xtrace, xtraceDiag } from '../estimators/xtrace.js';
import { spectralDensity } from '../estimators/density.js';
import { lanczos } from '../estimators/lanczos.js';
import { symmetricEigenvalues } from '../linalg/symmetricEigen.js';
import { dot } from '../linalg/dot.js';
import { derive, Rng } from '../estimators/rng.js';
import type { LanczosResult, MatVec } from '../estimators/types.js';
import { VERSION } from '../version.js';
import { chooseBackend, type BackendRequest } from './backend.js';
import { loadModel } from './loadModel.js';
import { dataLimits, modelLimits } from '../readers/limits.js';
import { Objective } from './objective.js';
import { FiniteGuard } from './nonFinite.js';
import { defaultWorkers, HvpPool } from './hvpPool.js';
import { activationBudget, chunkSizeFor, stacking } from './batching.js';
import { DEFAULT_SYNTHETIC_EXAMPLES, syntheticData } from './synthetic.js';
import { computeInsights, INSIGHT_DEFAULTS, shareAccumulator } from './insights.js';
import { DiagonalPreviews, FIRST_PREVIEW_PRODUCTS } from './diagonalPreview.js';

/** The run's settings (shared with the worker protocol) and its cancellation and progress hooks. */
export interface InspectOptions extends InspectSettings {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Preliminary per-tensor diagonals while the run goes on (see diagonalPreview.ts). */
  onPreview?: (p: DiagonalPreview) => void;
}

export const DEFAULTS = { matvecs: 100, density: false, ggnDiagonal: false, densityRuns: 3, densitySteps: 80, samples: 100, top: 5, bottom: 5, exactLimit: 5000, seed: 0, backend: 'auto' as BackendRequest, memoryBudget: 2 * 2 ** 30, syntheticExamples: DEFAULT_SYNTHETIC_EXAMPLES, ...INSIGHT_DEFAULTS, workers: defaultWorkers() };

/** Lanczos stops when the requested Ritz residuals are below this fraction of max|θ|. */
const LANCZOS_TOL = 1e-5;
const MAX_LANCZOS_STEPS = 300;
export async function inspect(options: InspectOptions): Promise<InspectResult> {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Required<InspectOptions>;
  checkCount('--samples', o.samples, 1);
  checkCount('--top', o.top, 0);
  checkCount('--bottom', o.bottom, 0);
  checkCount('--exact-limit', o.exactLimit, 1);
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw new InputError(null, `--seed must be a non-negative integer, got ${o.seed}`);
  if (!o.dataPath) checkCount('--examples', o.syntheticExamples, 1);
  checkCount('--matvecs', o.matvecs, 2);
  checkCount('--workers', o.workers, 1);
  checkCount('--density-runs', o.densityRuns, 1);
  checkCount('--density-steps', o.densitySteps, 2);
  // With no estimator chosen, the sketch (XDiag + XTrace) unless Hutchinson is implied by --samples or a
  // Hutchinson-family trace estimator; a sketch too large for the memory budget falls back below.
  const impliesHutchinson = options.samples !== undefined || (options.traceEstimator !== undefined && options.traceEstimator !== 'xtrace');
  o.estimator = options.estimator ?? (impliesHutchinson ? 'hutchinson' : 'xdiag');
  checkCount('--newton-matvecs', o.newtonMatvecs, 1);
  if (o.damping !== undefined && (!(o.damping >= 0) || !Number.isFinite(o.damping))) throw new InputError(null, `--damping must be a finite number ≥ 0, got ${o.damping}`);
  if (!(o.epsilon >= 0) || !Number.isFinite(o.epsilon)) throw new InputError(null, `--epsilon must be a finite number ≥ 0, got ${o.epsilon}`);
  if (o.estimator !== 'hutchinson' && o.estimator !== 'xdiag') throw new InputError(null, `--estimator ${o.estimator} is not one of hutchinson, xdiag`);
  let traceMethod = o.traceEstimator ?? (o.estimator === 'xdiag' ? 'xtrace' : 'hutchinson');
  if (!['hutchinson', 'hutch++', 'xtrace'].includes(traceMethod)) throw new InputError(null, `--trace-estimator ${traceMethod} is not one of hutchinson, hutch++, xtrace`);
  if (o.exact && (options.estimator !== undefined || options.traceEstimator !== undefined)) {
    throw new InputError(null, '--exact computes the diagonal and trace exactly; drop --estimator / --trace-estimator');
  }
  if (o.estimator === 'xdiag' && traceMethod !== 'xtrace') {
    throw new InputError(null, `--estimator xdiag takes its trace from the same sketch (xtrace); drop --trace-estimator ${traceMethod}`);
  }
  const started = Date.now();
  const report = (p: Progress) => o.onProgress?.(p);
  const signal = o.signal;
  const check = () => {
    if (signal?.aborted) throw new CancelledError();
  };

  report({ phase: 'backend', message: 'self-testing backend', done: 0, total: 1, eta: null });
  const { backend, notes } = await chooseBackend(o.backend);
  report({ phase: 'backend', message: 'backend ready', done: 1, total: 1, eta: null, note: `backend: ${notes[notes.length - 1]}` });
  check();

  report({ phase: 'load', message: 'loading model and data', done: 0, total: 1, eta: null });
  const { net, trainingLoss, format } = loadModel(o.modelPath, modelLimits(o.inputLimits));
  const P = net.size;
  const vectorBytes = 4 * P;
  if (16 * vectorBytes > o.memoryBudget) {
    throw new InputError(o.modelPath, `the model has ${P} parameters; its HVP vectors alone need ${mb(16 * vectorBytes)} MB, above the memory budget of ${mb(o.memoryBudget)} MB (raise it with --memory-budget)`);
  }
  if (o.exact && P > o.exactLimit) {
    throw new InputError(o.modelPath, `--exact needs one HVP per parameter and the model has ${P}, above --exact-limit ${o.exactLimit}; drop --exact for Hutchinson estimates or raise the limit`);
  }
  if (o.exact && 12 * P * P > o.memoryBudget) {
    // The exact Hessian in float32 plus a float64 copy of the largest block for the eigensolver.
    throw new InputError(o.modelPath, `--exact keeps the ${P}×${P} Hessian (${mb(12 * P * P)} MB with its eigensolver copy), above the memory budget of ${mb(o.memoryBudget)} MB; raise --memory-budget or drop --exact`);
  }
  // XDiag/XTrace keep ≈ (m/2)·P·20 bytes of sketch (see xtraceDiag).
  const sketchBytes = 10 * o.matvecs * P;
  let estimatorNote: string | null = null;
  if (!o.exact && o.estimator === 'xdiag' && 16 * vectorBytes + sketchBytes > o.memoryBudget) {
    const what = `the XDiag/XTrace sketch of ${o.matvecs} HVPs needs ${mb(sketchBytes)} MB for ${P} parameters, above the memory budget of ${mb(o.memoryBudget)} MB`;
    if (options.estimator === 'xdiag') throw new InputError(o.modelPath, `${what}; lower --matvecs, raise --memory-budget, or use --estimator hutchinson`);
    o.estimator = 'hutchinson';
    traceMethod = 'hutchinson';
    estimatorNote = `${what}: using Hutchinson (${o.samples} probes) instead`;
  }
  const requestedLoss = chosenLoss(o.loss ?? null, trainingLoss);
  const synthetic = o.dataPath ? null : syntheticData(net, o.syntheticExamples, o.seed, { loss: requestedLoss?.name });
  const arrays = synthetic ?? readArrays(o.dataPath!, { labelsPath: o.labelsPath, labelColumn: o.labelColumn, limits: dataLimits(o.inputLimits) });
  const dataName = o.dataPath ?? 'synthetic data';
  const { dataset, loss } = prepareData(dataName, arrays.x, arrays.y, net, requestedLoss, 'labelsPath' in arrays ? arrays.labelsPath : dataName);
  if (synthetic) report({ phase: 'load', message: 'synthetic data', done: 0, total: 1, eta: null, note: `no data file: ${synthetic.description}` });
  report({ phase: 'load', message: 'loaded', done: 1, total: 1, eta: null, note: `loss: ${loss.name} (${loss.reason})` });
  if (estimatorNote) report({ phase: 'load', message: 'loaded', done: 1, total: 1, eta: null, note: estimatorNote });
  const dataBytes = 4 * (dataset.x.length + dataset.y.length);
  const budget = activationBudget(o.memoryBudget, dataBytes, vectorBytes);
  const chunkSize = chunkSizeFor(net, dataset.examples, budget);
  const obj = new Objective(net, dataset, loss, chunkSize);
  const finite = new FiniteGuard(net, dataset, chunkSize, o.modelPath);
  // Independent HVPs go K at a time per worker (batching.ts), W = K × workers per batch.
  const { stacked, K } = stacking(net, obj, chunkSize, budget, o.workers);
  const W = K * o.workers;
  // The first batch of probes is small (at most FIRST_PREVIEW_PRODUCTS per worker) so that a preview
  // comes soon; stacked shares of any size ≥ 2 give the same bits, so the results do not change.
  const firstBatch = Math.min(K, FIRST_PREVIEW_PRODUCTS) * o.workers;
  // Independent HVP batches are shared over `workers` threads (hvpPool.ts); results do not depend on it.
  const pool = new HvpPool(o.workers, { model: { path: o.modelPath }, weights: net.initial, dataset, loss, chunkSize, backend, stacked }, (vs) => obj.hvpMany(vs), signal);
  let hvps = 0;
  try {
    // The loss and gradient are computed once, when the second HVP call starts: after the first batch
    // of probes, whose preview then waits for neither (they share the ops' cold start: examples/mlp,
    // gradient then 4 HVPs 9.5–14 ms cold, 4 HVPs alone 6.4). A non-finite HVP before that computes them
    // first, so that a fault in the loss or the gradient is reported as such.
    let lossGradient: { loss: number; gradient: Float32Array } | null = null;
    const lossAndGradient = () => {
      if (!lossGradient) {
        const r = obj.lossAndGradient();
        finite.check('the loss', [r.loss]);
        finite.check('the gradient', r.gradient, true);
        lossGradient = r;
      }
      return lossGradient;
    };
    const checked = (hvs: Float32Array[]): Float32Array[] => {
      try {
        for (const hv of hvs) finite.check('a Hessian-vector product', hv, true);
      } catch (e) {
        lossAndGradient(); // throws first when the fault is already in the loss or the gradient
        throw e;
      }
      return hvs;
    };
    const matvec: MatVec = async (v) => {
      await new Promise((r) => setImmediate(r));
      check();
      if (hvps > 0) lossAndGradient();
      hvps++;
      return checked([obj.hvp(v)])[0];
    };
    // Probes always go through the pool, even one at a time, so that each is computed the same way.
    const probeMatvec: MatVec = async (v) => (await matvecMany([v]))[0];
    const matvecMany = async (vs: Float32Array[]) => {
      await new Promise((r) => setImmediate(r));
      check();
      if (hvps > 0) lossAndGradient();
      hvps += vs.length;
      return checked(await pool.hvpMany(vs));
    };

    // Diagonal and trace.
    let diag: Float64Array;
    let diagStderr: Float64Array | null = null;
    let globalTrace: TraceEstimate;
    let blockTraces: TraceEstimate[];
    let dense: Float32Array | null = null;
    let diagMeta: { method: DiagonalEstimate['method']; samples: number | null; matvecs: number } = o.exact
      ? { method: 'exact', samples: null, matvecs: P }
      : { method: 'hutchinson', samples: o.samples, matvecs: o.samples };
    const convergence: ConvergencePoint[] = [];
    const blocks = net.blocks.map((b) => [b.start, b.end] as [number, number]);
    // ‖diag H‖² / ‖H‖_F² from the diagonal estimator's own Rademacher probes (not needed with --exact).
    const share = o.exact ? null : shareAccumulator(P, blocks, o.estimator === 'xdiag' ? Math.floor(o.matvecs / 2) : o.samples, o.memoryBudget);
    const previews = options.onPreview ? new DiagonalPreviews(net.blocks, P, o.estimator === 'xdiag' ? { estimator: 'xdiag', probes: Math.floor(o.matvecs / 2), planned: o.matvecs } : { estimator: o.exact ? 'exact' : 'hutchinson', probes: o.samples, planned: o.exact ? P : o.samples }, options.onPreview) : null;
    const onProduct = share || previews ? (z: Float32Array, hz: Float32Array) => (share?.push(z, hz), previews?.push(z, hz)) : undefined;
    if (o.exact) report({ phase: 'diagonal', message: 'exact Hessian, one HVP per parameter', done: 0, total: P, eta: null });
    else if (o.estimator === 'xdiag') report({ phase: 'diagonal', message: 'XDiag/XTrace sketch', done: 0, total: o.matvecs, eta: null });
    else report({ phase: 'diagonal', message: 'Hutchinson probes', done: 0, total: o.samples, eta: null });
    if (o.exact) {
      dense = new Float32Array(P * P);
      diag = new Float64Array(P);
      const t0 = Date.now();
      for (let j0 = 0; j0 < P; j0 += W) {
        const units = Array.from({ length: Math.min(W, P - j0) }, (_, i) => {
          const e = new Float32Array(P);
          e[j0 + i] = 1;
          return e;
        });
        const cols = await matvecMany(units);
        cols.forEach((col, i) => {
          dense!.set(col, (j0 + i) * P);
          diag[j0 + i] = col[j0 + i];
        });
        const done = j0 + cols.length;
        report({ phase: 'diagonal', message: 'exact Hessian, one HVP per parameter', done, total: P, eta: eta(t0, done, P) });
      }
      symmetrise(dense, P);
      previews?.final('exact', diag, null, null, P);
      const exactTrace = (s: number, e2: number): TraceEstimate => ({ value: sum(diag, s, e2), stderr: null, method: 'exact', matvecs: P, samples: null });
      globalTrace = exactTrace(0, P);
      blockTraces = blocks.map(([s, e2]) => exactTrace(s, e2));
    } else if (o.estimator === 'xdiag') {
      // XDiag and XTrace share one sketch of `matvecs` HVPs (Epperly, Tropp & Webber 2024).
      const t0 = Date.now();
      const x = await xtraceDiag(matvec, P, {
        matvecs: o.matvecs,
        rng: new Rng(derive(o.seed, 2)),
        blocks,
        signal,
        matvecMany,
        batchSize: W,
        firstBatchSize: firstBatch,
        onProduct,
        onProgress: (done, planned) => report({ phase: 'diagonal', message: 'XDiag/XTrace sketch', done, total: planned, eta: eta(t0, done, planned) }),
      });
      diag = x.diagonal.values;
      diagStderr = x.diagonal.stderr;
      diagMeta = { method: 'xdiag', samples: null, matvecs: x.diagonal.matvecs };
      previews?.final('xdiag', diag, diagStderr, x.diagonal.samples, x.diagonal.matvecs);
      const est = (t: { value: number; stderr: number | null; matvecs: number }): TraceEstimate => ({ value: t.value, stderr: t.stderr, method: 'xtrace', matvecs: t.matvecs, samples: null });
      globalTrace = est(x.trace);
      blockTraces = x.blockTraces.map(est);
      convergence.push(...x.convergence);
    } else {
      const t0 = Date.now();
      const h = await hutchinson(probeMatvec, P, {
        samples: o.samples,
        rng: new Rng(derive(o.seed, 2)),
        blocks,
        signal,
        batch: { size: W, first: firstBatch, matvecMany },
        onProduct,
        onProbe: (done, running) => {
          convergence.push({ matvecs: done, value: running.trace.value, stderr: running.trace.stderr });
          report({
            phase: 'diagonal',
            message: 'Hutchinson probes',
            done,
            total: o.samples,
            eta: eta(t0, done, o.samples),
            running: { trace: running.trace.value, stderr: running.trace.stderr },
          });
        },
      });
      diag = h.diagonal.values;
      diagStderr = h.diagonal.stderr;
      previews?.final('hutchinson', diag, diagStderr, o.samples, o.samples);
      const est = (t: { value: number; stderr: number | null }): TraceEstimate => ({ value: t.value, stderr: t.stderr, method: 'hutchinson', matvecs: o.samples, samples: o.samples });
      globalTrace = est(h.trace);
      blockTraces = h.blockTraces.map(est);
      if (traceMethod !== 'hutchinson') {
        // A better global trace from its own budget (Hutch++: Meyer et al. 2021; XTrace: Epperly et al. 2024).
        const t1 = Date.now();
        const opts = { matvecs: o.matvecs, rng: new Rng(derive(o.seed, 5)), signal, matvecMany, batchSize: W, onProgress: (done: number, planned: number) => report({ phase: 'diagonal', message: `${traceMethod} trace`, done, total: planned, eta: eta(t1, done, planned) }) };
        const t = traceMethod === 'hutch++' ? await hutchpp(matvec, P, opts) : await xtrace(matvec, P, opts);
        globalTrace = { value: t.value, stderr: t.stderr, method: traceMethod, matvecs: t.matvecs, samples: null };
      }
    }
    if (convergence.length) globalTrace.convergence = convergence;

    // The exact GGN diagonal (ggn.ts): per-example squared factors from stacked weight copies.
    let ggn: Float64Array | null = null;
    if (o.ggnDiagonal) {
      const t0 = Date.now();
      const maxCopies = Math.max(1, Math.min(256, Math.floor(budget / (12 * P + 12 * net.activationBytesPerExample))));
      ggn = obj.ggnDiagonal(maxCopies, (done, total) => report({ phase: 'diagonal', message: 'GGN diagonal (per-example factors)', done, total, eta: eta(t0, done, total) }));
      check();
    }

    // H·g, after the diagonal so that the first picture does not wait for it.
    const { loss: lossValue, gradient } = lossAndGradient();
    const hg = await matvec(gradient);
    const gg = dot(gradient, gradient);
    const ghg = dot(gradient, hg);

    // Eigenvalues: Lanczos on H (or, with --exact, on the Hessian already built from HVPs).
    const maxSteps = Math.max(1, Math.min(MAX_LANCZOS_STEPS, Math.floor(o.memoryBudget / 4 / vectorBytes)));
    const eig = async (start: number, end: number, stream: number, phase: 'eigenvalues' | 'layers', label: string): Promise<EigenSummary> => {
      const n = end - start;
      if (dense) return denseEigen(dense, P, start, end, o.top, o.bottom);
      const op = blockMatvec(matvec, P, start, end);
      const steps = Math.min(n, maxSteps);
      const t0 = Date.now();
      const r: LanczosResult = await lanczos(op, n, {
        top: Math.min(o.top, n),
        bottom: Math.min(o.bottom, n),
        maxIter: steps,
        tol: LANCZOS_TOL,
        rng: new Rng(derive(o.seed, stream)),
        signal,
        onStep: (i) => report({ phase, message: `Lanczos ${label}`, done: i, total: steps, eta: eta(t0, i, steps) }),
      });
      return { top: r.top, bottom: r.bottom, method: 'lanczos', iterations: r.iterations };
    };
    const globalEig = await eig(0, P, 1, 'eigenvalues', 'on the full Hessian');
    const layers: LayerResult[] = [];
    for (const [i, b] of net.blocks.entries()) {
      const eigenvalues = await eig(b.start, b.end, 100 + i, 'layers', `on block ${b.name}`);
      layers.push({
        name: b.name,
        className: b.className,
        parameters: b.end - b.start,
        trace: blockTraces[i],
        eigenvalues,
        tensors: b.params.map((p) => ({
          name: p.name,
          shape: p.shape,
          diagonal: diagonalOf(diag, diagStderr, p.offset, p.size, diagMeta),
          ...(ggn ? { ggnDiagonal: diagonalOf(ggn, null, p.offset, p.size, { method: 'exact', samples: null, matvecs: 0 }) } : {}),
        })),
      });
    }
    report({ phase: 'gradient', message: 'diagonal share, step sizes, directions (MINRES)', done: 0, total: 1, eta: null });
    const insights = await computeInsights({ P, blocks, gradient, hg, diag, diagMethod: diagMeta.method, dense, share, globalTop: globalEig.top[0]?.value, globalBottom: globalEig.bottom[0]?.value, layerTops: layers.map((l) => l.eigenvalues.top[0]?.value), matvecMany, batch: W, damping: options.damping, epsilon: o.epsilon, newtonMatvecs: o.newtonMatvecs, signal });
    insights.layers.forEach((extra, i) => Object.assign(layers[i], extra));
    let density: InspectResult['global']['density'];
    if (o.density) {
      // Stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017), Gaussian broadening as in PyHessian.
      const steps = Math.min(o.densitySteps, P, maxSteps);
      const t0 = Date.now();
      density = await spectralDensity(matvec, P, {
        runs: o.densityRuns,
        steps,
        rng: new Rng(derive(o.seed, 4)),
        signal,
        onRun: (run: number) => report({ phase: 'eigenvalues', message: 'spectral density (Lanczos runs)', done: run, total: o.densityRuns, eta: eta(t0, run, o.densityRuns) }),
      });
    }
    report({ phase: 'done', message: 'done', done: 1, total: 1, eta: 0 });
    return {
      schemaVersion: 1,
      tool: { name: 'curvature-lens', version: VERSION },
      model: { path: o.modelPath, format, name: net.name, parameters: P },
      data: { path: o.dataPath, examples: dataset.examples, synthetic: synthetic !== null, ...(synthetic ? { description: synthetic.description } : {}) },
      loss: { name: loss.name, value: lossValue, fromLogits: loss.fromLogits, reason: loss.reason },
      backend,
      backendNotes: notes,
      seed: o.seed,
      global: {
        gradientNorm: Math.sqrt(gg),
        hessianGradientNorm: Math.sqrt(dot(hg, hg)),
        gradientCurvature: gg > 0 ? ghg / gg : NaN,
        trace: globalTrace,
        eigenvalues: globalEig,
        ...(density ? { density } : {}),
        ...insights.global,
      },
      layers,
      timing: { seconds: (Date.now() - started) / 1000, hvps, chunks: obj.chunkCount, chunkSize, batch: K, workers: o.workers },
    };
  } finally {
    await pool.close();
    obj.dispose();
    net.dispose();
  }
}

/** An explicit --loss wins; else the loss recorded in the model's training_config, mapped from Keras' names. */
function chosenLoss(requested: string | null, recorded: string | null): { name: string; reason: string } | null {
  if (requested) return { name: requested, reason: 'given with --loss' };
  const map: Record<string, string> = {
    sparse_categorical_crossentropy: 'sparse-categorical-cross-entropy',
    categorical_crossentropy: 'categorical-cross-entropy',
    binary_crossentropy: 'binary-cross-entropy',
    mean_squared_error: 'mean-squared-error',
    mse: 'mean-squared-error',
  };
  const name = recorded ? map[recorded] : undefined;
  return name ? { name, reason: `recorded in the model's training_config (${recorded})` } : null;
}

function checkCount(flag: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new InputError(null, `${flag} must be an integer ≥ ${min}, got ${v}`);
}

function blockMatvec(full: MatVec, P: number, start: number, end: number): MatVec {
  if (start === 0 && end === P) return full;
  return async (v) => {
    const padded = new Float32Array(P);
    padded.set(v, start);
    return (await full(padded)).slice(start, end);
  };
}

/** Extreme eigenvalues of the exact Hessian block [start, end) by a dense symmetric eigensolver. */
function denseEigen(H: Float32Array, P: number, start: number, end: number, top: number, bottom: number): EigenSummary {
  const n = end - start;
  const block = new Float64Array(n * n);
  let frob = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const h = H[(start + i) * P + start + j];
      block[i * n + j] = h;
      frob += h * h;
    }
  }
  const values = symmetricEigenvalues(block, n);
  const residual = 4 * n * Number.EPSILON * Math.sqrt(frob);
  const ritz = (value: number) => ({ value, residual, converged: true });
  return {
    top: Array.from(values.slice(Math.max(n - top, 0))).reverse().map(ritz),
    bottom: Array.from(values.slice(0, Math.min(bottom, n))).map(ritz),
    method: 'dense',
    iterations: n,
  };
}

function symmetrise(H: Float32Array, P: number): void {
  for (let i = 0; i < P; i++) {
    for (let j = i + 1; j < P; j++) {
      const m = 0.5 * (H[i * P + j] + H[j * P + i]);
      H[i * P + j] = m;
      H[j * P + i] = m;
    }
  }
}

function diagonalOf(d: Float64Array, se: Float64Array | null, offset: number, size: number, meta: { method: DiagonalEstimate['method']; samples: number | null; matvecs: number }): DiagonalEstimate {
  const values = Array.from(d.subarray(offset, offset + size));
  let min = Infinity;
  let max = -Infinity;
  let total = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    total += v;
  }
  return {
    method: meta.method,
    samples: meta.samples,
    matvecs: meta.matvecs,
    values,
    stderr: se ? Array.from(se.subarray(offset, offset + size)) : null,
    min,
    max,
    mean: total / size,
  };
}

function sum(a: Float64Array, s: number, e: number): number {
  let t = 0;
  for (let i = s; i < e; i++) t += a[i];
  return t;
}

function eta(t0: number, done: number, total: number): number | null {
  if (done === 0) return null;
  return (((Date.now() - t0) / done) * (total - done)) / 1000;
}

const mb = (b: number) => Math.round(b / 2 ** 20);
