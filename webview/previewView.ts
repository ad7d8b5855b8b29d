/**
 * The preliminary diagonal as DOM (see preview.ts): a label saying what it is, then per layer its name
 * and one heatmap figure per tensor, every figure marked preliminary until the result replaces them.
 * Sections are `section.preview-layer`, not `section.layer`, which stands for a finished result's layer.
 */
import type { PanelPreview } from '../extension/protocol.js';
import { el } from './dom.js';
import type { Heatmaps } from './heatmap.js';
import { previewLabel, previewLayers } from './preview.js';

export function previewSections(p: PanelPreview, heatmaps: Heatmaps): HTMLElement[] {
  const label = el('p', { id: 'preview-label', class: `preview-label${p.final ? ' final' : ''}`, role: 'note', 'data-matvecs': String(p.matvecs) }, previewLabel(p));
  const sections = previewLayers(p).map(({ layer, tensors }) =>
    el(
      'section',
      { class: 'preview-layer', 'data-layer': layer },
      el('header', { class: 'layer-head' }, el('h2', { class: 'layer-name' }, layer), el('span', { class: 'badge preview-badge' }, p.final ? 'diagonal final' : `preliminary ${String.fromCharCode(0x2014)} ${p.matvecs} HVPs`)),
      el('div', { class: 'layer-body' }, el('div', { class: 'tensors' }, ...tensors.map((t) => heatmaps.figure(t.tensor, t.arrays)))),
    ),
  );
  return [label, ...sections];
}
