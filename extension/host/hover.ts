/**
 * Hovers: text that names a layer of the latest result, in model.json or in source that names layers
 * (.py, .ts, .js: `self.fc1`, `fc1 = nn.Linear(…)`, `layers.Dense(…, name="encoder")`, `features.0`;
 * the rules are in hoverMatch.ts), shows that layer's curvature as a compact table with a link that
 * reveals it in the panel. Nothing shows before a result exists.
 */
import * as vscode from 'vscode';
import type { LayerResult } from '../protocol.js';
import { layerAtPosition } from './hoverMatch.js';

export const HOVER_SELECTOR: vscode.DocumentSelector = [
  { scheme: 'file', language: 'json' },
  { scheme: 'file', language: 'python' },
  { scheme: 'file', language: 'typescript' },
  { scheme: 'file', language: 'javascript' },
];

const f = (v: number | null | undefined) => (v == null || !Number.isFinite(v) ? 'n/a' : Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(3) : v.toPrecision(4));

export function layerHoverMarkdown(l: LayerResult): vscode.MarkdownString {
  const d = l.tensors.map((t) => t.diagonal);
  const min = Math.min(...d.map((x) => x.min));
  const max = Math.max(...d.map((x) => x.max));
  const mean = d.reduce((s, x, i) => s + x.mean * l.tensors[i].shape.reduce((a, b) => a * b, 1), 0) / l.parameters;
  const t = l.trace;
  const md = new vscode.MarkdownString(undefined, true);
  md.isTrusted = { enabledCommands: ['curvatureLens.showLayer'] };
  const escaped = l.name.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
  md.appendMarkdown(`**${escaped}** (${l.className}) · curvature\n\n`);
  md.appendMarkdown('| | |\n|---|---|\n');
  md.appendMarkdown(`| parameters | ${l.parameters} |\n`);
  md.appendMarkdown(`| trace | ${f(t.value)}${t.stderr != null ? ` ± ${f(t.stderr)}` : ' (exact)'} |\n`);
  md.appendMarkdown(`| diagonal mean / min / max | ${f(mean)} / ${f(min)} / ${f(max)} |\n`);
  md.appendMarkdown(`| top eigenvalues | ${l.eigenvalues.top.map((e) => f(e.value)).join(', ')} |\n`);
  md.appendMarkdown(`| bottom eigenvalues | ${l.eigenvalues.bottom.map((e) => f(e.value)).join(', ')} |\n\n`);
  md.appendMarkdown(`[Show in Curvature panel](command:curvatureLens.showLayer?${encodeURIComponent(JSON.stringify([l.name]))})`);
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
