/**
 * Hovers: a word equal to a layer name of the latest result, in model.json or in source that names
 * layers (.py, .ts, .js), shows that layer's curvature as a compact table with a link that reveals it in
 * the panel. Nothing shows before a result exists.
 */
import * as vscode from 'vscode';
import type { LayerResult } from '../protocol.js';

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
