/**
 * The extension's state: the latest result (per inputs and settings, cached by content hash), the run in
 * progress, and the PanelState derived from them. Commands, the panel, hovers and export all go through
 * here. Imports vscode only for progress, messages and file watching.
 */
import * as vscode from 'vscode';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ConvergencePoint, EstimatorChoice, InspectResult, PanelState, TensorArrays, WorkerInspectOptions } from '../protocol.js';
import { runInWorker, WorkerError } from './workerClient.js';
import { chooseData, chooseModel } from './inputs.js';
import { companionFiles } from './modelFiles.js';
import type { CurvaturePanel } from './panel.js';
import { inspectCheckpointsCommand } from './checkpoints.js';
import { mayReadWorkspace } from './trust.js';
import { panelPreview } from './preview.js';

interface Entry {
  result: InspectResult;
  tensors: TensorArrays[];
  convergence: ConvergencePoint[];
  files: string[];
  title: string;
}

const IDLE: PanelState = {
  status: 'idle',
  title: 'Curvature Lens',
  banner: null,
  progress: null,
  result: null,
  tensors: [],
  convergence: [],
  error: null,
  stale: false,
  focusLayer: null,
  checkpoints: null,
  preview: null,
};

export class Session implements vscode.Disposable {
  private state: PanelState = IDLE;
  private latest: Entry | null = null;
  private readonly cache = new Map<string, Entry>();
  private running: vscode.CancellationTokenSource | null = null;
  private readonly watchers: vscode.Disposable[] = [];
  private lastInvocation: vscode.Uri | undefined;

  constructor(
    private readonly workerPath: string,
    private readonly panel: CurvaturePanel,
    private readonly output: vscode.OutputChannel,
  ) {}

  get result(): InspectResult | null {
    return this.latest?.result ?? null;
  }

  showPanel(): void {
    this.panel.show();
    this.panel.post(this.state);
  }

  focusLayer(name: string): void {
    this.panel.show();
    this.update({ focusLayer: name });
  }

  cancel(): void {
    this.running?.cancel();
  }

  rerun(): Promise<void> {
    return this.inspect(this.lastInvocation, true);
  }

  /** The panel's estimator selector: the choice goes into the workspace settings, then the run repeats. */
  async chooseEstimator(choice: EstimatorChoice): Promise<void> {
    if (!['xdiag', 'hutchinson', 'exact'].includes(choice)) return;
    const cfg = vscode.workspace.getConfiguration('curvatureLens', this.lastInvocation);
    const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await cfg.update('exact', choice === 'exact' ? true : undefined, target);
    if (choice !== 'exact') await cfg.update('estimator', choice, target);
    await this.rerun();
  }

  /** Inspect Checkpoints (host/checkpoints.ts): a folder of checkpoints in one worker run; replaces a run in progress. */
  inspectCheckpoints(uri?: vscode.Uri): Promise<void> {
    return inspectCheckpointsCommand(
      {
        workerPath: this.workerPath,
        output: this.output,
        showPanel: () => this.panel.show(true),
        begin: () => {
          this.running?.cancel();
          // The panel stops showing the single result: its files' changes no longer mark it stale.
          this.watchers.forEach((w) => w.dispose());
          this.watchers.length = 0;
          this.running = new vscode.CancellationTokenSource();
          return this.running;
        },
        isCurrent: (s) => this.running === s,
        end: (s) => {
          if (this.running === s) this.running = null;
          s.dispose();
        },
        update: (patch) => this.update(patch),
        fail: (kind, message) => this.fail(kind, message),
        settings: inspectSettings,
      },
      uri,
    );
  }

  async inspect(uri?: vscode.Uri, force = false): Promise<void> {
    if (this.running) {
      // One run at a time: a new request replaces the one in progress.
      this.running.cancel();
    }
    if (!(await mayReadWorkspace())) return;
    let modelPath: string | undefined;
    let data;
    try {
      modelPath = await chooseModel(uri);
      if (!modelPath) return;
      data = await chooseData(modelPath);
      if (!data) return;
    } catch (e) {
      this.fail('input', (e as Error).message);
      return;
    }
    this.lastInvocation = vscode.Uri.file(modelPath);
    const cfg = vscode.workspace.getConfiguration('curvatureLens', vscode.Uri.file(modelPath));
    const options = inspectSettings(cfg, modelPath, data);
    const title = `${vscode.workspace.asRelativePath(modelPath)} · data: ${data.dataPath ? `${vscode.workspace.asRelativePath(data.dataPath)} (${data.dataSource})` : 'synthetic'}`;
    const files = inputFiles(modelPath, data.dataPath);
    const key = cacheKey(files, options);
    const stamps = fileStamps(files);
    const cached = !force && key ? this.cache.get(key) : undefined;
    this.panel.show(true);
    if (cached) {
      this.latest = cached;
      this.watch(cached.files);
      this.update({ ...IDLE, status: 'done', title: cached.title, result: strip(cached.result), tensors: cached.tensors, convergence: cached.convergence, banner: bannerOf(cached.result) });
      return;
    }
    this.output.appendLine(`[run] ${title}; ${JSON.stringify({ ...options, modelPath: undefined, dataPath: undefined })}`);
    const convergence: ConvergencePoint[] = [];
    this.update({ ...IDLE, status: 'running', title });
    const source = new vscode.CancellationTokenSource();
    this.running = source;
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Curvature Lens', cancellable: true },
      async (progress, token) => {
        token.onCancellationRequested(() => source.cancel());
        let lastFraction = 0;
        try {
          const result = await runInWorker({
            workerPath: this.workerPath,
            options,
            memoryLimitMB: cfg.get<number>('workerMemoryLimitMB', 0) || undefined,
            log: (l) => this.output.appendLine(l),
            cancel: source.token,
            onProgress: (p) => {
              if (this.running !== source) return; // replaced by a newer run
              if (p.note) this.output.appendLine(`[${p.phase}] ${p.note}`);
              if (p.running) convergence.push({ matvecs: p.done, value: p.running.trace, stderr: p.running.stderr });
              const fraction = PHASES.indexOf(p.phase) / PHASES.length + (p.total ? p.done / p.total / PHASES.length : 0);
              progress.report({ message: `${p.message} ${p.done}/${p.total}`, increment: Math.max(0, (fraction - lastFraction) * 100) });
              lastFraction = Math.max(lastFraction, fraction);
              this.update({ progress: p, convergence: p.running ? [...convergence] : this.state.convergence });
            },
            onPreview: (p) => {
              if (this.running === source) this.update({ preview: panelPreview(p) });
            },
          });
          // The engine's own record (Hutchinson's running estimate or XTrace's prefixes) when it has one.
          const conv = result.global.trace.convergence ?? convergence;
          const entry: Entry = { result, tensors: tensorsOf(result), convergence: conv, files, title };
          // A model or data file that changed (or went away) while the worker read it: the result is
          // shown, marked stale, and not cached under the old contents' key. Size and mtime tell, without
          // hashing the files a second time.
          const changed = fileStamps(files) !== stamps;
          if (changed) this.output.appendLine('[stale] the model or data changed during the run');
          else if (key) this.cache.set(key, entry);
          if (this.running !== source) return; // a newer run owns the panel now
          this.latest = entry;
          this.watch(files);
          this.output.appendLine(`[done] ${result.timing.hvps} HVPs in ${result.timing.seconds.toFixed(1)} s on ${result.backend}`);
          this.update({ status: 'done', progress: null, preview: null, result: strip(result), tensors: entry.tensors, convergence: conv, error: null, stale: changed, banner: bannerOf(result) });
        } catch (e) {
          const err = e instanceof WorkerError ? e : new WorkerError('internal', String(e));
          if (this.running !== source) return; // replaced by a newer run: its state stands
          if (err.kind === 'cancelled') {
            this.output.appendLine('[cancelled]');
            this.update({ status: 'cancelled', progress: null, preview: null });
          } else {
            this.fail(err.kind, err.message);
          }
        } finally {
          if (this.running === source) this.running = null;
          source.dispose();
        }
      },
    );
  }

  /** Writes the Markdown report with images beside the model; returns the path. */
  async exportReport(): Promise<string | undefined> {
    const entry = this.latest;
    if (!entry) {
      void vscode.window.showInformationMessage('Curvature Lens: run Inspect Hessian first; there is no result to export yet.');
      return undefined;
    }
    const modelDir = dirname(entry.result.model.path);
    const md = join(modelDir, `${basename(modelDir)}-curvature.md`);
    try {
      const { exportReport } = await import('../report/export.js');
      const arrays = new Map(entry.tensors.map((t) => [t.name, { values: t.values, stderr: t.stderr }]));
      exportReport(entry.result, md, { convergence: entry.convergence, arrays });
    } catch (e) {
      void vscode.window.showErrorMessage(`Curvature Lens: could not write the report: ${(e as Error).message}`);
      return undefined;
    }
    this.output.appendLine(`[export] ${md}`);
    void vscode.window.showInformationMessage(`Curvature report written to ${vscode.workspace.asRelativePath(md)}`, 'Open').then((a) => {
      if (a === 'Open') void vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(md));
    });
    return md;
  }

  dispose(): void {
    this.running?.cancel();
    this.watchers.forEach((w) => w.dispose());
  }

  private fail(kind: 'input' | 'internal', message: string): void {
    this.output.appendLine(`[error] ${message}`);
    this.update({ status: 'error', progress: null, preview: null, error: { kind, message } });
    void vscode.window.showErrorMessage(`Curvature Lens: ${message.split('\n')[0]}`, 'Show Output').then((a) => {
      if (a) this.output.show();
    });
  }

  private update(patch: Partial<PanelState>): void {
    this.state = { ...this.state, focusLayer: null, ...patch };
    this.panel.post(this.state);
  }

  /** Marks the result stale when one of its input files changes or disappears. */
  private watch(files: string[]): void {
    this.watchers.forEach((w) => w.dispose());
    this.watchers.length = 0;
    for (const f of files) {
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dirname(f)), basename(f)));
      const stale = () => {
        if (this.latest?.files.includes(f)) this.update({ stale: true });
      };
      w.onDidChange(stale);
      w.onDidDelete(stale);
      this.watchers.push(w);
    }
  }
}

const PHASES = ['backend', 'load', 'gradient', 'diagonal', 'eigenvalues', 'layers', 'done'];

/** The model file, the files beside it that hold its weights (shards, ONNX external data; see modelFiles.ts) and the data file. */
function inputFiles(modelPath: string, dataPath: string | null): string[] {
  let shards: string[] = [];
  try {
    shards = companionFiles(modelPath, readdirSync(dirname(modelPath))).map((f) => join(dirname(modelPath), f));
  } catch {
    /* the worker reports a missing folder */
  }
  return [modelPath, ...shards, ...(dataPath ? [dataPath] : [])];
}

/** Size and modification time of each input ('missing' for one that is gone): cheap change detection. */
function fileStamps(files: string[]): string {
  return files
    .map((f) => {
      const st = statSync(f, { throwIfNoEntry: false });
      return st ? `${st.size}:${st.mtimeMs}` : 'missing';
    })
    .join('|');
}

/** Content hash of the inputs and settings; null when a file cannot be read (the worker will say why). */
function cacheKey(files: string[], options: WorkerInspectOptions): string | null {
  const h = createHash('sha256');
  try {
    for (const f of files) {
      if (statSync(f).size > 512 * 2 ** 20) return null;
      h.update(f).update(readFileSync(f));
    }
  } catch {
    return null;
  }
  return h.update(JSON.stringify(options)).digest('hex');
}

function tensorsOf(result: InspectResult): TensorArrays[] {
  return result.layers.flatMap((l) =>
    l.tensors.map((t) => ({
      layer: l.name,
      name: t.name,
      shape: t.shape,
      values: Float32Array.from(t.diagonal.values ?? []),
      stderr: t.diagonal.stderr ? Float32Array.from(t.diagonal.stderr) : null,
      ...(t.ggnDiagonal?.values ? { ggn: Float32Array.from(t.ggnDiagonal.values) } : {}),
    })),
  );
}

/** A synthetic-data run says so at the top of the panel: its numbers describe made-up data. */
function bannerOf(result: InspectResult): string | null {
  return result.data.synthetic ? `Synthetic data: ${result.data.description ?? 'no data file was given'}. Point curvatureLens.data or a curvature.json at real data for curvature that means something.` : null;
}

/** The result without per-entry arrays (they travel as typed arrays). */
function strip(result: InspectResult): InspectResult {
  return {
    ...result,
    layers: result.layers.map((l) => ({
      ...l,
      tensors: l.tensors.map((t) => ({
        ...t,
        diagonal: { ...t.diagonal, values: undefined, stderr: undefined },
        ...(t.ggnDiagonal ? { ggnDiagonal: { ...t.ggnDiagonal, values: undefined } } : {}),
      })),
    })),
  };
}

/** The extension's settings as the engine's: unset ones left to the engine's defaults (Inspect and Inspect Checkpoints). */
export function inspectSettings(cfg: vscode.WorkspaceConfiguration, modelPath: string, data: { dataPath: string | null; loss: string | null }): WorkerInspectOptions {
  return {
    modelPath,
    dataPath: data.dataPath,
    loss: data.loss,
    samples: configured<number>(cfg, 'samples'),
    top: cfg.get<number>('top', 5),
    bottom: cfg.get<number>('bottom', 5),
    exact: cfg.get<boolean>('exact', false),
    exactLimit: cfg.get<number>('exactLimit', 5000),
    seed: cfg.get<number>('seed', 0),
    backend: cfg.get<WorkerInspectOptions['backend']>('backend', 'auto'),
    memoryBudget: cfg.get<number>('memoryBudgetMB', 2048) * 2 ** 20,
    // Exact mode has no estimator (the engine refuses the combination). Unset, the engine's default
    // applies: XDiag, or Hutchinson when only the samples are set or the sketch exceeds the budget.
    estimator: cfg.get<boolean>('exact', false) ? undefined : configured<'hutchinson' | 'xdiag'>(cfg, 'estimator'),
    matvecs: cfg.get<number>('matvecs', 100),
    ggnDiagonal: cfg.get<boolean>('ggnDiagonal', false),
    damping: cfg.get<number | null>('damping', null) ?? undefined,
    epsilon: cfg.get<number>('epsilon', 1e-4),
    newtonMatvecs: cfg.get<number>('newtonMatvecs', 50),
    density: cfg.get<boolean>('density', false),
    inputLimits: { maxFileBytes: cfg.get<number>('limits.maxFileMB', 2048) * 2 ** 20, maxParameters: cfg.get<number>('limits.maxParameters', 2 ** 28), maxLayers: cfg.get<number>('limits.maxLayers', 100_000) },
    // 0: the engine's default (cores − 1, at least 1).
    workers: cfg.get<number>('workers', 0) || undefined,
  };
}

/** A setting's value where the user set it (any scope), else undefined so that the engine's default applies. */
function configured<T>(cfg: vscode.WorkspaceConfiguration, key: string): T | undefined {
  const i = cfg.inspect<T>(key);
  return i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
}
