/**
 * The result contract (schemaVersion 1) and the progress messages, shared by the engine, the CLI, the
 * worker, the extension host and the webview. Add fields; never rename. Non-finite numbers become null
 * in JSON.
 */
import type { SpectralDensity } from './estimators/density.js';

/** The model file's format: TF.js LayersModel, Keras 3 `.keras` archive, legacy Keras `.h5`. */
export type ModelFormat = 'tfjs-layers' | 'onnx' | 'keras' | 'keras-h5';

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
  /**
   * Global trace only: the running estimate ± stderr after each Hutchinson probe, or (XTrace) the
   * estimate from the sketch's first j test vectors, j = 2 … k, at 2j matvecs.
   */
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
  /**
   * With `ggnDiagonal`: the exact diagonal of the generalised Gauss-Newton matrix (method 'exact',
   * matvecs 0; see engine/ggn.ts). Equals the Hessian's diagonal for piecewise-linear (ReLU) networks;
   * diagonal − ggnDiagonal is the network's own curvature, the part that can be negative.
   */
  ggnDiagonal?: DiagonalEstimate;
}

export interface LayerResult {
  name: string;
  className: string;
  parameters: number;
  trace: TraceEstimate;
  eigenvalues: EigenSummary;
  tensors: TensorResult[];
  /** Share of this layer's rows' Frobenius mass on the diagonal: Σ_{i∈layer} H_ii² / Σ_{i∈layer} Σ_j H_ij². */
  diagonalShare?: ShareEstimate;
  /** 2/λ_max of this layer's block and 2/(g_BᵀH_BB g_B / g_Bᵀg_B) for the layer's own gradient. */
  learningRateBound?: LearningRateBound;
  /** g_BᵀH_BB g_B / g_Bᵀg_B: curvature along this layer's gradient with the other weights fixed. */
  gradientCurvature?: number;
}

/** ‖diag H‖² / ‖H‖_F² (or a layer's rows of it). See extension/estimators/frobeniusShare.ts. */
export interface ShareEstimate {
  value: number;
  /** Jackknife standard error over the probes; null when exact. */
  stderr: number | null;
  /** exact: from the dense Hessian (--exact); hutchinson: from Rademacher probes (the Hutchinson probes, or XDiag's sketch vectors). */
  method?: 'exact' | 'hutchinson';
  /** Probes behind the estimate; null when exact. */
  samples?: number | null;
}

/** Largest stable learning rates of gradient descent, 2/curvature; null where the curvature is ≤ 0. */
export interface LearningRateBound {
  /** 2/λ_max along the top eigenvector. */
  topEigenvector: number | null;
  /** 2/(gᵀHg/gᵀg) along the gradient. */
  gradient: number | null;
}

/**
 * Three update directions w ← w − s compared by the quadratic model: the gradient s = αg (α = gᵀg/gᵀHg,
 * exact line search), the damped inverse diagonal s = g / (|d̂| + ε) (AdaHessian's), and the Newton-type
 * s solving (H + λI)s = g by MINRES. predictedDecrease = gᵀs − ½ sᵀHs (positive: the loss decreases).
 */
export interface Directions {
  /** λ of the Newton-type step (the one used: given, or the default max(0, −λ_min) + 10⁻³·λ_max). */
  damping: number;
  /** ε of the inverse diagonal. */
  epsilon: number;
  /** The diagonal estimate d̂ used for D (its method, as in the tensors' diagonals). */
  diagonalMethod?: DiagonalEstimate['method'];
  cosine: { gradientVsDiagonal: number; gradientVsNewton: number; diagonalVsNewton: number };
  /** null for the gradient when gᵀHg ≤ 0 (the model has no minimum along −g). */
  predictedDecrease: { gradient: number | null; diagonal: number; newton: number };
  /** ‖g − (H + λI)s‖ / ‖g‖ for the Newton-type step, recomputed with one more matvec (not the recurrence's estimate). */
  newtonResidual: number;
  /** minres: MINRES on HVPs (Paige & Saunders 1975); dense: with --exact, a dense solve of (H + λI)s = g. */
  newtonMethod?: 'minres' | 'dense';
  /** MINRES iterations taken (HVPs) and the budget (--newton-matvecs); absent when dense. */
  newtonIterations?: number;
  newtonMatvecs?: number;
}

export type LossName = 'sparse-categorical-cross-entropy' | 'categorical-cross-entropy' | 'binary-cross-entropy' | 'mean-squared-error';

export interface InspectResult {
  schemaVersion: 1;
  tool: { name: 'curvature-lens'; version: string };
  model: { path: string; format: ModelFormat; name: string; parameters: number };
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
    /** ‖diag H‖² / ‖H‖_F². */
    diagonalShare?: ShareEstimate;
    learningRateBound?: LearningRateBound;
    directions?: Directions;
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
  /** Also compute the exact GGN diagonal (per-example factors; D·N single-example backward passes). */
  ggnDiagonal?: boolean;
  /** Stochastic Lanczos quadrature spectral density. */
  density?: boolean;
  densityRuns?: number;
  densitySteps?: number;
  /** λ of the Newton-type direction (H + λI)s = g (default: max(0, −λ_min) + 1e-3·λ_max, see engine/insights.ts). */
  damping?: number;
  /** ε of the damped inverse-diagonal direction g / (|d̂| + ε) (default 1e-4). */
  epsilon?: number;
  /** MINRES iteration budget (HVPs) for the Newton-type direction (default 50). */
  newtonMatvecs?: number;
  /** Limits on untrusted model and data files (README "Security and limits"); unset fields: the defaults. */
  inputLimits?: InputLimits;
  /** HVPs computed in parallel, in worker threads with the main thread (default: cores − 1, at least 1). */
  workers?: number;
}

export interface InputLimits {
  /** Largest data file, decoded array, archive content (all members) or model weights, bytes (default 2 GiB). */
  maxFileBytes?: number;
  /** Most parameters (weights) a model may declare (default 2^28). */
  maxParameters?: number;
  /** Most layers (graph nodes) a model may have (default 100000). */
  maxLayers?: number;
}

/** `--checkpoints GLOB`: one row per checkpoint, in natural order of the paths. */
export interface CheckpointRow {
  path: string;
  topEigenvalue: number | null;
  bottomEigenvalue: number | null;
  trace: { value: number; stderr: number | null };
  diagonalShare: ShareEstimate | null;
}

export interface CheckpointsResult {
  checkpoints: CheckpointRow[];
}

/** What the host asks the worker to do (the worker runs one inspection at a time). */
export type WorkerInspectOptions = InspectSettings;

/** Inspect Checkpoints: the same settings (data, seed, …) for every model file, in the order given. */
export interface WorkerCheckpointsOptions {
  paths: string[];
  settings: Omit<InspectSettings, 'modelPath'>;
}

/** One checkpoint's per-tensor Hessian diagonal (for the panel's diff between two checkpoints). */
export interface CheckpointDiagonal {
  layer: string;
  name: string;
  shape: number[];
  values: number[];
  /** Null when exact. */
  stderr: number[] | null;
}

/** Which checkpoint a progress message belongs to (0-based index of `total`). */
export interface CheckpointProgress {
  index: number;
  total: number;
  path: string;
}

export type HostToWorker =
  | { type: 'inspect'; id: number; options: WorkerInspectOptions }
  | { type: 'checkpoints'; id: number; options: WorkerCheckpointsOptions }
  | { type: 'cancel'; id: number };

export type ErrorKind = 'input' | 'cancelled' | 'internal';

export type WorkerToHost =
  | { type: 'ready' }
  | { type: 'progress'; id: number; progress: Progress; checkpoint?: CheckpointProgress }
  | { type: 'result'; id: number; result: InspectResult }
  | { type: 'checkpointsResult'; id: number; result: CheckpointsResult; diagonals: CheckpointDiagonal[][] }
  | { type: 'error'; id: number; kind: ErrorKind; message: string }
  | { type: 'preview'; id: number; preview: DiagonalPreview };

/**
 * A preliminary per-tensor Hessian diagonal, sent while an inspection runs (engine/diagonalPreview.ts):
 * first after a few HVPs, then refreshed (HVP counts doubling, or about every second), and once more
 * with the diagonal estimator's own values as soon as the diagonal phase ends. The result replaces it.
 */
export interface DiagonalPreview {
  /**
   * How these values were estimated. Before the diagonal phase ends: 'hutchinson', the running mean of
   * z ⊙ Hz over the Rademacher probes so far (with XDiag: over the sketch's test vectors, see
   * estimators/runningDiagonal.ts). After it (`final`): the run's estimator.
   */
  method: DiagonalEstimate['method'];
  /** The run's diagonal estimator (the method of the result's diagonals). */
  estimator: DiagonalEstimate['method'];
  /** HVPs behind these values. */
  matvecs: number;
  /** Probes (test vectors) behind these values; null when exact. */
  samples: number | null;
  /** HVPs the diagonal phase spends in all. */
  planned: number;
  /** True: these are the result's diagonal values (the eigenvalues and the rest are still running). */
  final: boolean;
  /** Per weight tensor, in the result's order; stderr null when exact. */
  tensors: CheckpointDiagonal[];
}

/** DiagonalPreview with typed arrays, as the panel holds it. */
export interface PanelPreview extends Omit<DiagonalPreview, 'tensors'> {
  tensors: TensorArrays[];
}

/** One weight tensor's diagonal as typed arrays (structured-cloned into the webview, not JSON lists). */
export interface TensorArrays {
  layer: string;
  name: string;
  shape: number[];
  values: Float32Array;
  /** Null when exact. */
  stderr: Float32Array | null;
  /** The exact GGN diagonal of the same tensor, when the run computed it. */
  ggn?: Float32Array | null;
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
  /** Inspect Checkpoints' result: rows in checkpoint order and each checkpoint's diagonals (webview/checkpoints.ts). */
  checkpoints?: CheckpointsView | null;
  /** While running: the latest preliminary diagonal (heatmaps labelled preliminary); null once the result is in. */
  preview?: PanelPreview | null;
}

export interface CheckpointsView {
  rows: CheckpointRow[];
  /** Per checkpoint, per tensor (same order as rows). */
  diagonals: TensorArrays[][];
}

export type HostToWebview = { type: 'state'; state: PanelState };

/** The panel's estimator selector: written to the workspace settings, then the inspection runs again. */
export type EstimatorChoice = 'xdiag' | 'hutchinson' | 'exact';

export type WebviewToHost = { type: 'ready' } | { type: 'cancel' } | { type: 'rerun' } | { type: 'export' } | { type: 'estimator'; estimator: EstimatorChoice };
