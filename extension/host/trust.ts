/** Consent before reading anything in an untrusted workspace (model and data files are untrusted input). */
import * as vscode from 'vscode';

/** True when the workspace is trusted, or the user agrees to let Curvature Lens read its files. */
export async function mayReadWorkspace(): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const go = await vscode.window.showWarningMessage(
    'This workspace is not trusted. Curvature Lens will read the model and data files in it (no code in them is run). Inspect anyway?',
    { modal: true },
    'Inspect',
  );
  return go === 'Inspect';
}
