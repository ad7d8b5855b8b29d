/**
 * A first picture of the Hessian diagonal while the run goes on: the diagonal estimator's probes and
 * products (Hutchinson's z, Hz or XDiag's sketch columns ω_i, Hω_i, seen through their onProduct hook)
 * feed a RunningDiagonal (estimators/runningDiagonal.ts), and per-tensor previews of it go to `emit`:
 * - first once FIRST_PREVIEW_PRODUCTS products are in (inspect makes the first batch that small),
 * - then whenever the count has doubled, about every REFRESH_MS, or (XDiag) when the sketch's k test
 *   vectors are all in, never more often than COST_FACTOR times what the last preview cost to build and
 *   emit, so previews stay a small fraction of the run;
 * - and once with the estimator's own final diagonal (final = true) as soon as the diagonal phase ends,
 *   before the eigenvalues.
 * A preview is sent after a whole group of products has arrived (a microtask after the estimator's
 * onProduct calls, before the next HVP starts), never computes an HVP and never changes the estimator's
 * numbers. Imports no vscode.
 */
import type { CheckpointDiagonal, DiagonalEstimate, DiagonalPreview } from '../protocol.js';
import { RunningDiagonal } from '../estimators/runningDiagonal.js';
import type { BlockInfo } from './network.js';

/** Products behind the first preview (fewer when the estimator has fewer in all). */
export const FIRST_PREVIEW_PRODUCTS = 4;
const REFRESH_MS = 1000;
const COST_FACTOR = 20;

export interface PreviewPlan {
  /** The run's diagonal estimator. */
  estimator: DiagonalEstimate['method'];
  /** Products the running estimate will see (Hutchinson: the probes; XDiag: k = ⌊m/2⌋). */
  probes: number;
  /** HVPs of the whole diagonal phase (XDiag: m). */
  planned: number;
}

export class DiagonalPreviews {
  private readonly acc: RunningDiagonal;
  private scheduled = false;
  private lastCount = 0;
  private lastAt = -Infinity;
  private lastCost = 0;

  constructor(
    private readonly blocks: readonly BlockInfo[],
    n: number,
    private readonly plan: PreviewPlan,
    private readonly emit: (p: DiagonalPreview) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.acc = new RunningDiagonal(n);
  }

  /** One probe and its product (the estimator's onProduct); a preview may follow once its group is in. */
  push(z: Float32Array, hz: Float32Array): void {
    this.acc.push(z, hz);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.maybeSend();
    });
  }

  /** The estimator's own diagonal, sent at once when the diagonal phase ends. */
  final(method: DiagonalEstimate['method'], values: Float64Array, stderr: Float64Array | null, samples: number | null, matvecs: number): void {
    this.send({ method, samples, matvecs, final: true }, (s, e) => ({ values: values.subarray(s, e), stderr: stderr?.subarray(s, e) ?? null }));
  }

  private maybeSend(): void {
    const count = this.acc.count;
    const { probes, estimator } = this.plan;
    if (count < Math.min(FIRST_PREVIEW_PRODUCTS, probes) || count === this.lastCount) return;
    // Hutchinson's last running mean is its final diagonal, which final() sends next.
    if (count >= probes && estimator === 'hutchinson') return;
    const t = this.now();
    const due = this.lastCount === 0 || count >= 2 * this.lastCount || count >= probes || t - this.lastAt >= REFRESH_MS;
    if (!due || t - this.lastAt < COST_FACTOR * this.lastCost) return;
    this.lastCount = count;
    // XDiag's test-vector products are its first k HVPs; Hutchinson's probes are one HVP each.
    this.send({ method: 'hutchinson', samples: count, matvecs: count, final: false }, (s, e) => this.acc.slice(s, e));
  }

  private send(head: Pick<DiagonalPreview, 'method' | 'samples' | 'matvecs' | 'final'>, part: (start: number, end: number) => { values: ArrayLike<number>; stderr: ArrayLike<number> | null }): void {
    const t = this.now();
    const tensors: CheckpointDiagonal[] = this.blocks.flatMap((b) =>
      b.params.map((p) => {
        const { values, stderr } = part(p.offset, p.offset + p.size);
        return { layer: b.name, name: p.name, shape: p.shape, values: Array.from(values), stderr: stderr ? Array.from(stderr) : null };
      }),
    );
    this.emit({ ...head, estimator: this.plan.estimator, planned: this.plan.planned, tensors });
    this.lastAt = this.now();
    this.lastCost = this.lastAt - t;
  }
}
