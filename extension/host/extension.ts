/**
 * The extension host entry: commands, the Curvature panel and its serializer, hovers, the Output
 * channel. It never computes; every inspection runs in a worker process (dist/worker.js).
 */
import * as vscode from 'vscode';
import { CurvaturePanel, VIEW_TYPE } from './panel.js';
import { Session } from './session.js';
import { HOVER_SELECTOR, hoverProvider } from './hover.js';

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('Curvature Lens');
  let session: Session;
  const panel = new CurvaturePanel(context.extensionUri, (msg) => {
    if (msg.type === 'cancel') session.cancel();
    else if (msg.type === 'rerun') void session.rerun();
    else if (msg.type === 'export') void session.exportReport();
    else if (msg.type === 'estimator') void session.chooseEstimator(msg.estimator);
  });
  session = new Session(vscode.Uri.joinPath(context.extensionUri, 'dist', 'worker.js').fsPath, panel, output);
  context.subscriptions.push(
    output,
    session,
    vscode.commands.registerCommand('curvatureLens.inspect', (uri?: vscode.Uri) => session.inspect(uri)),
    vscode.commands.registerCommand('curvatureLens.inspectCheckpoints', (uri?: vscode.Uri) => session.inspectCheckpoints(uri)),
    vscode.commands.registerCommand('curvatureLens.exportReport', () => session.exportReport()),
    vscode.commands.registerCommand('curvatureLens.showPanel', () => session.showPanel()),
    vscode.commands.registerCommand('curvatureLens.cancel', () => session.cancel()),
    vscode.commands.registerCommand('curvatureLens.showLayer', (name: string) => session.focusLayer(String(name))),
    vscode.languages.registerHoverProvider(HOVER_SELECTOR, hoverProvider(() => session.result?.layers ?? [])),
    vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, {
      async deserializeWebviewPanel(restored) {
        panel.restore(restored);
      },
    }),
  );
}

export function deactivate(): void {
  /* subscriptions are disposed by VS Code; a running worker is cancelled by Session.dispose */
}
