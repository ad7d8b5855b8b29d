/**
 * Hovers: text that names a layer of the latest result, in model.json or in source that names layers
 * (.py, .ts, .js: `self.fc1`, `fc1 = nn.Linear(…)`, `layers.Dense(…, name="encoder")`, `features.0`;
 * the rules are in hoverMatch.ts), shows that layer's curvature as a compact table with a link that
 * reveals it in the panel. Nothing shows before a result exists.
 */
import * as vscode from 'vscode';
import type { LayerResult } from '../protocol.js';
import { layerAtPosition } from './hoverMatch.js';
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

export function hoverProvider(layers: () => readonly LayerResult[]): vscode.HoverProvider {
  return {
    provideHover(doc, pos) {
      const all = layers();
      if (all.length === 0) return undefined;
      const hit = layerAtPosition(doc.lineAt(pos.line).text, pos.character, all.map((l) => l.name), doc.languageId);
      const l = hit && all.find((x) => x.name === hit.name);
      return l ? new vscode.Hover(layerHoverMarkdown(l), new vscode.Range(pos.line, hit.start, pos.line, hit.end)) : undefined;
    },
  };
}
