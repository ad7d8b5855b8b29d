/**
 * Hovers: a word equal to a layer name of the latest result, in model.json or in source that names
 * layers (.py, .ts, .js), shows that layer's curvature as a compact table with a link that reveals it in
 * the panel. Nothing shows before a result exists.
 */
import * as vscode from 'vscode';
import type { LayerResult } from '../protocol.js';
import { layerHoverText } from './hoverText.js';

export const HOVER_SELECTOR: vscode.DocumentSelector = [
  { scheme: 'file', language: 'json' },
  { scheme: 'file', language: 'python' },
  { scheme: 'file', language: 'typescript' },
  { scheme: 'file', language: 'javascript' },
];

export function layerHoverMarkdown(l: LayerResult): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.isTrusted = { enabledCommands: ['curvatureLens.showLayer'] };
  md.supportHtml = false;
  md.appendMarkdown(layerHoverText(l));
  return md;
}

export function hoverProvider(layer: (name: string) => LayerResult | undefined): vscode.HoverProvider {
  return {
    provideHover(doc, pos) {
      const range = doc.getWordRangeAtPosition(pos, /[A-Za-z_][A-Za-z0-9_]*/);
      if (!range) return undefined;
      const l = layer(doc.getText(range));
      return l ? new vscode.Hover(layerHoverMarkdown(l), range) : undefined;
    },
  };
}
