/**
 * The Curvature webview panel: one per window, revealed on demand, restored after a reload by its
 * serializer. It only renders PanelState; the session decides what that state is.
 */
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import type { HostToWebview, PanelState, WebviewToHost } from '../protocol.js';
import { panelHtml } from '../../webview/html.js';

export const VIEW_TYPE = 'curvatureLens.panel';

export class CurvaturePanel {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  private pending: PanelState | null = null;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly onMessage: (msg: WebviewToHost) => void,
  ) {}

  get visible(): boolean {
    return this.panel !== undefined;
  }

  show(preserveFocus = false): void {
    if (this.panel) {
      this.panel.reveal(undefined, preserveFocus);
      return;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, 'Curvature', { viewColumn: vscode.ViewColumn.Beside, preserveFocus }, this.options());
    this.attach(panel);
  }

  /** Re-attaches a panel VS Code restored after a reload. */
  restore(panel: vscode.WebviewPanel): void {
    panel.webview.options = this.options();
    this.attach(panel);
  }

  post(state: PanelState): void {
    this.pending = state;
    if (this.panel && this.ready) void this.panel.webview.postMessage({ type: 'state', state } satisfies HostToWebview);
  }

  private options(): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')] };
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    this.ready = false;
    const w = panel.webview;
    const uri = (...p: string[]) => w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, ...p)).toString();
    w.html = panelHtml({
      cspSource: w.cspSource,
      nonce: randomBytes(16).toString('base64'),
      scriptUri: uri('dist', 'webview.js'),
      styleUri: uri('media', 'panel.css'),
      elementsUri: uri('dist', 'elements.js'),
    });
    w.onDidReceiveMessage((msg: WebviewToHost) => {
      if (msg?.type === 'ready') {
        this.ready = true;
        if (this.pending) void w.postMessage({ type: 'state', state: this.pending } satisfies HostToWebview);
      }
      this.onMessage(msg);
    });
    panel.onDidDispose(() => {
      if (this.panel === panel) this.panel = undefined;
    });
  }
}
