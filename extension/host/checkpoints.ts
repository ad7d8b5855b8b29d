/**
 * Curvature Lens: Inspect Checkpoints. Takes a folder (the one clicked in the Explorer, or a pick),
 * finds its checkpoints (checkpointFiles.ts), chooses the data as Inspect does (inputs.ts: the setting,
 * a curvature.json or data.npz in the folder, else the first checkpoint's), and runs the engine over
 * all of them in one worker process with the same settings and seed. The panel shows the numbers
 * against checkpoint order and the diagonal difference between two of them.
 */
import * as vscode from 'vscode';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { PanelState, WorkerInspectOptions } from '../protocol.js';
import { tensorArraysOf } from './preview.js';
import { findCheckpoints } from './checkpointFiles.js';
import { chooseData } from './inputs.js';
import { runCheckpointsInWorker, WorkerError } from './workerClient.js';
import { mayReadWorkspace } from './trust.js';

/** What the command needs of the Session (which owns the panel state and the run in progress). */
export interface CheckpointsHost {
  workerPath: string;
  output: vscode.OutputChannel;
  showPanel(): void;
  /** Cancels any run in progress and makes a new one current. */
  begin(): vscode.CancellationTokenSource;
  isCurrent(source: vscode.CancellationTokenSource): boolean;
  end(source: vscode.CancellationTokenSource): void;
  update(patch: Partial<PanelState>): void;
  fail(kind: 'input' | 'internal', message: string): void;
  settings(cfg: vscode.WorkspaceConfiguration, modelPath: string, data: { dataPath: string | null; loss: string | null }): WorkerInspectOptions;
}

function isFolder(uri: vscode.Uri | undefined): boolean {
  try {
    return !!uri && uri.scheme === 'file' && statSync(uri.fsPath).isDirectory();
  } catch {
    return false;
  }
}

async function chooseFolder(uri?: vscode.Uri): Promise<string | undefined> {
  if (isFolder(uri)) return uri!.fsPath;
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    openLabel: 'Inspect Checkpoints',
    title: 'A folder of checkpoints of one model (e.g. epoch-1/model.json, epoch-2/model.json, …)',
  });
  return picked?.[0]?.fsPath;
}

export async function inspectCheckpointsCommand(host: CheckpointsHost, uri?: vscode.Uri): Promise<void> {
  if (!(await mayReadWorkspace())) return;
  const folder = await chooseFolder(uri);
  if (!folder) return;
  let paths: string[];
  let data;
  try {
    paths = findCheckpoints(folder);
    if (paths.length === 0) {
      host.fail('input', `${folder}: no checkpoints found. Inspect Checkpoints looks for model files one folder down (epoch-1/model.json, epoch-2/model.json, …; or .onnx, .keras, .h5) or side by side (epoch-1.keras, epoch-2.keras, …).`);
      return;
    }
    // Data as for Inspect, looked for in the folder first (one data file for all checkpoints).
    const inFolder = existsSync(join(folder, 'curvature.json')) || existsSync(join(folder, 'data.npz'));
    data = await chooseData(inFolder ? join(folder, 'model.json') : paths[0]);
    if (!data) return;
  } catch (e) {
    host.fail('input', (e as Error).message);
    return;
  }
  const cfg = vscode.workspace.getConfiguration('curvatureLens', vscode.Uri.file(paths[0]));
  const { modelPath: _first, ...settings } = host.settings(cfg, paths[0], data);
  const rel = (p: string) => vscode.workspace.asRelativePath(p);
  const title = `Checkpoints: ${rel(folder)} (${paths.length}) · data: ${data.dataPath ? `${rel(data.dataPath)} (${data.dataSource})` : 'synthetic'}`;
  host.output.appendLine(`[checkpoints] ${title}; ${paths.map(rel).join(', ')}; ${JSON.stringify({ ...settings, dataPath: undefined })}`);
  const source = host.begin();
  host.showPanel();
  host.update({ status: 'running', title, banner: null, progress: null, result: null, tensors: [], convergence: [], error: null, stale: false, checkpoints: null });
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Curvature Lens: checkpoints', cancellable: true }, async (progress, token) => {
    token.onCancellationRequested(() => source.cancel());
    let last = 0;
    try {
      const { result, diagonals } = await runCheckpointsInWorker({
        workerPath: host.workerPath,
        options: { paths, settings },
        memoryLimitMB: cfg.get<number>('workerMemoryLimitMB', 0) || undefined,
        log: (l) => host.output.appendLine(l),
        cancel: source.token,
        onProgress: (p, c) => {
          if (!host.isCurrent(source)) return;
          if (p.note) host.output.appendLine(`[${p.phase}] ${p.note}`);
          const i = c?.index ?? 0;
          const fraction = (i + (p.total ? p.done / p.total : 0) / 2) / paths.length;
          progress.report({ message: `checkpoint ${i + 1}/${paths.length}: ${p.message}`, increment: Math.max(0, (fraction - last) * 100) });
          last = Math.max(last, fraction);
          host.update({ progress: { ...p, message: `checkpoint ${i + 1}/${paths.length} · ${p.message}`, running: undefined } });
        },
      });
      if (!host.isCurrent(source)) return;
      host.output.appendLine(`[done] ${result.checkpoints.length} checkpoints`);
      host.update({
        status: 'done',
        progress: null,
        error: null,
        checkpoints: { rows: result.checkpoints, diagonals: diagonals.map(tensorArraysOf) },
        banner: data.dataPath ? null : 'Synthetic data: no data file was given. Point curvatureLens.data or a curvature.json in the folder at real data for curvature that means something.',
      });
    } catch (e) {
      const err = e instanceof WorkerError ? e : new WorkerError('internal', String(e));
      if (!host.isCurrent(source)) return;
      if (err.kind === 'cancelled') {
        host.output.appendLine('[cancelled]');
        host.update({ status: 'cancelled', progress: null });
      } else host.fail(err.kind, err.message);
    } finally {
      host.end(source);
    }
  });
}
