/**
 * The result contract (schemaVersion 1) and the progress messages, shared by the engine, the CLI, the
 * worker, the extension host and the webview. Add fields; never rename. Non-finite numbers become null
 * in JSON.
 */
import type { SpectralDensity } from './estimators/density.js';

export interface Ritz {
  value: number;
  /** Ritz residual ‖Hy − θy‖ = |β_m y_m|. */
  residual: number;
  converged: boolean;
}

export interface EigenSummary {
  /** Largest first (descending). */
  top: Ritz[];
  /** Smallest first (ascending). */
  bottom: Ritz[];
  /**
   * 'lanczos': Lanczos with full reorthogonalisation on HVPs. 'dense' (with --exact): every eigenvalue of
   * the exact Hessian built from P HVPs (Householder + QL); resolves repeated eigenvalues, and `residual`
   * is then the solver's backward-error bound.
   */
  method: 'lanczos' | 'dense';
  /** Lanczos steps (HVPs), or the matrix size for 'dense'. */
  iterations: number;
}

export interface TraceEstimate {
  value: number;
  stderr: number | null;
  /** hutch++: Meyer et al. 2021; xtrace: Epperly, Tropp & Webber 2024 (leave-one-out error bar). */
  method: 'exact' | 'hutchinson' | 'hutch++' | 'xtrace';
  matvecs: number;
  /** Number of probes (Hutchinson), null when exact or sketched. */
  samples: number | null;
  /** Running estimate ± stderr after each Hutchinson probe (global trace only). */
  convergence?: ConvergencePoint[];
}

/** Stochastic Lanczos quadrature: per run the Ritz values (nodes) and weights; the broadened density on a grid (integrates to 1). */
export type { SpectralDensity };

export interface DiagonalEstimate {
  /** xdiag: Epperly, Tropp & Webber 2024 (leave-one-out error bars). */
  method: 'exact' | 'hutchinson' | 'xdiag';
  samples: number | null;
  /** HVPs spent on the diagonal (P when exact). */
  matvecs?: number;
  /** Flat, row-major, in the model file's own layout. Absent when written to `valuesFile`. */
  values?: number[];
  valuesFile?: string;
  stderr?: number[] | null;
  stderrFile?: string;
  min: number;
  max: number;
  mean: number;
}

export interface TensorResult {
  name: string;
  shape: number[];
  diagonal: DiagonalEstimate;
}

export interface LayerResult {
  name: string;
  className: string;
  parameters: number;
  trace: TraceEstimate;
  eigenvalues: EigenSummary;
  tensors: TensorResult[];
}

export type LossName = 'sparse-categorical-cross-entropy' | 'categorical-cross-entropy' | 'binary-cross-entropy' | 'mean-squared-error';

export interface InspectResult {
  schemaVersion: 1;
  tool: { name: 'curvature-lens'; version: string };
  model: { path: string; format: 'tfjs-layers'; name: string; parameters: number };
  /** synthetic: no data file was given and the data were drawn (see `description`). */
  data: { path: string | null; examples: number; synthetic: boolean; description?: string };
  loss: { name: LossName; value: number; fromLogits: boolean; reason: string };
  backend: string;
  /** Why the backend was chosen and why others were refused. */
  backendNotes: string[];
  seed: number;
  global: {
    gradientNorm: number;
    hessianGradientNorm: number;
    /** gᵀHg / gᵀg: curvature along the gradient; plain gradient descent is stable for lr < 2 / this. */
    gradientCurvature: number;
    trace: TraceEstimate;
    eigenvalues: EigenSummary;
    density?: SpectralDensity;
  };
  layers: LayerResult[];
  /** hvps: HVPs computed; batch: how many went through the engine together (stacked weight copies). */
  timing: { seconds: number; hvps: number; chunks: number; chunkSize: number; batch: number; /** HVPs in flight (threads incl. the main one); absent in older results. */ workers?: number };
}

export type Phase = 'backend' | 'load' | 'gradient' | 'diagonal' | 'eigenvalues' | 'layers' | 'done';

export interface Progress {
  phase: Phase;
  message: string;
  done: number;
  total: number;
  /** Seconds left in this phase, when it can be estimated. */
  eta: number | null;
  /** Running trace estimate during Hutchinson probes. */
  running?: { trace: number; stderr: number | null };
  /** A one-off fact worth telling the user as it happens (e.g. which loss was inferred and why). */
  note?: string;
}

// ---------------------------------------------------------------------------------------------------
// Messages. Host ⇄ worker over the child process' IPC channel; host ⇄ webview over postMessage.

/** The settings of one inspection (CLI flags, extension settings); unset fields take the engine's defaults. */
export interface InspectSettings {
  modelPath: string;
  /** Null: synthetic data (see synthetic.ts). */
  dataPath: string | null;
  /** Labels of .npy data (default: y.npy beside x.npy). */
  labelsPath?: string | null;
  /** Label column of .csv data: header name or 0-based index (default: the last column). */
  labelColumn?: string | number | null;
  /** Examples of synthetic data, when there is no data file (default 256). */
  syntheticExamples?: number;
  loss?: string | null;
  samples?: number;
  top?: number;
  bottom?: number;
  exact?: boolean;
  exactLimit?: number;
  seed?: number;
  /** auto: tfjs-node if installed, else wasm, else cpu; every backend is self-tested first. */
  backend?: 'auto' | 'cpu' | 'wasm' | 'tensorflow';
  /** Bytes the run may use for vectors, data chunks and activations. */
  memoryBudget?: number;
  /** Diagonal estimator: Hutchinson (`samples` probes) or XDiag (`matvecs`, trace from the same sketch). */
  estimator?: 'hutchinson' | 'xdiag';
  /** Trace estimator; default: the diagonal's (Hutchinson, or XTrace with XDiag). */
  traceEstimator?: 'hutchinson' | 'hutch++' | 'xtrace';
  /** Matvec budget of the sketching estimators (XDiag + XTrace together, or Hutch++/XTrace alone). */
  matvecs?: number;
  /** Stochastic Lanczos quadrature spectral density. */
  density?: boolean;
  densityRuns?: number;
  densitySteps?: number;
  /** HVPs computed in parallel, in worker threads with the main thread (default: cores − 1, at least 1). */
  workers?: number;
}

/** What the host asks the worker to do (the worker runs one inspection at a time). */
export type WorkerInspectOptions = InspectSettings;

export type HostToWorker = { type: 'inspect'; id: number; options: WorkerInspectOptions } | { type: 'cancel'; id: number };

export type ErrorKind = 'input' | 'cancelled' | 'internal';

export type WorkerToHost =
  | { type: 'ready' }
  | { type: 'progress'; id: number; progress: Progress }
  | { type: 'result'; id: number; result: InspectResult }
  | { type: 'error'; id: number; kind: ErrorKind; message: string };

/** One weight tensor's diagonal as typed arrays (structured-cloned into the webview, not JSON lists). */
export interface TensorArrays {
  layer: string;
  name: string;
  shape: number[];
  values: Float32Array;
  /** Null when exact. */
  stderr: Float32Array | null;
}

/** A point of the running trace estimate (Hutchinson) for the convergence chart. */
export interface ConvergencePoint {
  matvecs: number;
  value: number;
  stderr: number | null;
}

/** Everything the panel shows; sent whole on every change (small but for `tensors`). */
export interface PanelState {
  status: 'idle' | 'running' | 'done' | 'error' | 'cancelled';
  /** Shown at the top: model, data, why synthetic data, staleness. */
  title: string;
  banner: string | null;
  progress: Progress | null;
  /** The result with `values`/`stderr` stripped from every tensor (they travel in `tensors`). */
  result: InspectResult | null;
  tensors: TensorArrays[];
  convergence: ConvergencePoint[];
  error: { kind: ErrorKind; message: string } | null;
  /** True when the model or data file changed after this result was computed. */
  stale: boolean;
  /** A layer to scroll to and highlight (from a hover's "Show in Curvature panel" link). */
  focusLayer: string | null;
}

export type HostToWebview = { type: 'state'; state: PanelState };

export type WebviewToHost = { type: 'ready' } | { type: 'cancel' } | { type: 'rerun' } | { type: 'export' };
