/**
 * Chooses what to inspect the way a user expects: the model is the active model file (`model.json`,
 * `.keras`, `.h5`, `.onnx`; or the one the command was invoked on), else a pick among the workspace's
 * model files; the data come from the
 * `curvatureLens.data` setting, else a sidecar `curvature.json` beside the model (`{"data": "…",
 * "loss": "…"}`), else a `data.npz` beside the model, else a pick among the workspace's `.npz` files.
 */
import * as vscode from 'vscode';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isModelFile, MODEL_GLOB } from './modelFiles.js';

export interface Inputs {
  modelPath: string;
  dataPath: string | null;
  loss: string | null;
  /** How the data file was found, for the panel's title. */
  dataSource: string;
}

export async function chooseModel(uri?: vscode.Uri): Promise<string | undefined> {
  if (uri?.fsPath.endsWith('.json') || (uri && isModelFile(uri.fsPath))) return uri.fsPath;
  // Binary models (.keras, .h5, .onnx) open in no text editor: the active tab says which file is shown.
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const active = vscode.window.activeTextEditor?.document.uri ?? (tab && typeof tab === 'object' && 'uri' in tab ? (tab as { uri: vscode.Uri }).uri : undefined);
  if (active && active.scheme === 'file' && isModelFile(active.fsPath)) return active.fsPath;
  const found = (await vscode.workspace.findFiles(MODEL_GLOB, '**/node_modules/**', 200)).filter((u) => isModelFile(u.fsPath));
  if (found.length === 0) {
    void vscode.window.showErrorMessage('Curvature Lens: no model in this workspace. Open a TF.js LayersModel (model.json + weight shards), a Keras .keras or .h5 file, or an .onnx file.');
    return undefined;
  }
  if (found.length === 1) return found[0].fsPath;
  const pick = await vscode.window.showQuickPick(
    found.map((u) => ({ label: vscode.workspace.asRelativePath(u), uri: u })),
    { placeHolder: 'Which model should Curvature Lens inspect?' },
  );
  return pick?.uri.fsPath;
}

const DATA_GLOB = '**/*.{npz,npy,json,csv}';

export async function chooseData(modelPath: string): Promise<{ dataPath: string | null; loss: string | null; dataSource: string } | undefined> {
  const cfg = vscode.workspace.getConfiguration('curvatureLens', vscode.Uri.file(modelPath));
  const dir = dirname(modelPath);
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(modelPath))?.uri.fsPath ?? dir;
  const setting = cfg.get<string>('data', '').trim();
  const settingLoss = cfg.get<string>('loss', '').trim() || null;
  if (setting) {
    const p = isAbsolute(setting) ? setting : resolve(folder, setting);
    return { dataPath: p, loss: settingLoss, dataSource: 'the curvatureLens.data setting' };
  }
  const sidecar = join(dir, 'curvature.json');
  if (existsSync(sidecar)) {
    let side: { data?: unknown; loss?: unknown };
    try {
      side = JSON.parse(readFileSync(sidecar, 'utf8'));
    } catch (e) {
      throw new Error(`${sidecar}: not valid JSON (${(e as Error).message})`);
    }
    if (side.data !== undefined && typeof side.data !== 'string') throw new Error(`${sidecar}: "data" must be a path string`);
    const loss = typeof side.loss === 'string' ? side.loss : settingLoss;
    if (typeof side.data === 'string') return { dataPath: resolve(dir, side.data), loss, dataSource: 'curvature.json beside the model' };
  }
  const beside = join(dir, 'data.npz');
  if (existsSync(beside)) return { dataPath: beside, loss: settingLoss, dataSource: 'data.npz beside the model' };
  // Candidates: data files anywhere in the workspace, except model files and VS Code's own settings.
  const found = (await vscode.workspace.findFiles(DATA_GLOB, '{**/node_modules/**,**/.vscode/**}', 500)).filter(
    (u) => !/(^|[\\/])(model|curvature|package|package-lock|tsconfig)\.json$/.test(u.fsPath),
  );
  const synthetic = { label: '$(beaker) Synthetic data', description: 'inputs drawn to the model\'s input shape, labels sampled from its own predictions', uri: null };
  const pick = await vscode.window.showQuickPick(
    [...found.map((u) => ({ label: vscode.workspace.asRelativePath(u), description: '', uri: u as vscode.Uri | null })), synthetic],
    { placeHolder: 'No data file beside the model: which data (.npz, .npy, .json, .csv with x and y)?' },
  );
  if (!pick) return undefined;
  return pick.uri ? { dataPath: pick.uri.fsPath, loss: settingLoss, dataSource: 'picked' } : { dataPath: null, loss: settingLoss, dataSource: 'synthetic' };
}
