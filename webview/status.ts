/**
 * What the status line says for a PanelState, and the run's phases as a checklist. Pure (no DOM).
 */
import type { PanelState, Phase, Progress } from '../extension/protocol.js';
import { formatDuration, formatPm } from './format.js';

export const PHASES: ReadonlyArray<{ phase: Phase; label: string }> = [
  { phase: 'backend', label: 'Choose and self-test the backend' },
  { phase: 'load', label: 'Load the model and data' },
  { phase: 'gradient', label: 'Gradient and curvature along it' },
  { phase: 'diagonal', label: 'Hessian diagonal and trace' },
  { phase: 'eigenvalues', label: 'Extreme eigenvalues (Lanczos)' },
  { phase: 'layers', label: 'Per-layer blocks' },
];

const SHORT: Record<Phase, string> = {
  backend: 'Backend',
  load: 'Loading',
  gradient: 'Gradient',
  diagonal: 'Diagonal',
  eigenvalues: 'Eigenvalues',
  layers: 'Layer blocks',
  done: 'Finishing',
};

export type Tone = 'idle' | 'running' | 'done' | 'error' | 'cancelled';

/** "Diagonal · 34/100 · about 12 s left · trace ≈ 199.5 ± 15.7". */
export function progressText(p: Progress): string {
  const parts = [p.message ? `${SHORT[p.phase] ?? p.phase}: ${p.message}` : SHORT[p.phase] ?? p.phase];
  if (p.total > 0) parts.push(`${p.done}/${p.total}`);
  if (p.eta != null && Number.isFinite(p.eta) && p.eta > 0) parts.push(`about ${formatDuration(p.eta)} left`);
  if (p.running && Number.isFinite(p.running.trace)) parts.push(`trace ≈ ${formatPm(p.running.trace, p.running.stderr)}`);
  return parts.join(' · ');
}

/** The status line's text and tone. */
export function statusLine(state: PanelState): { text: string; tone: Tone } {
  switch (state.status) {
    case 'running':
      return { text: state.progress ? progressText(state.progress) : 'Starting…', tone: 'running' };
    case 'done': {
      const r = state.result;
      if (!r) return { text: 'Done', tone: 'done' };
      return { text: `Done in ${formatDuration(r.timing.seconds)} · ${r.timing.hvps} Hessian-vector products on ${r.backend}`, tone: 'done' };
    }
    case 'cancelled':
      return { text: state.result ? 'Cancelled: showing the previous result' : 'Cancelled', tone: 'cancelled' };
    case 'error':
      return { text: state.error ? `Failed (${errorKindLabel(state.error.kind)})` : 'Failed', tone: 'error' };
    default:
      return { text: state.result ? 'Ready' : 'No inspection has run yet', tone: 'idle' };
  }
}

export function errorKindLabel(kind: string): string {
  return kind === 'input' ? 'problem with the input files' : kind === 'cancelled' ? 'cancelled' : 'internal error';
}

/** Each phase as done, active or pending, given the phase now running (null: none started). */
export function phaseSteps(current: Phase | null): Array<{ phase: Phase; label: string; step: 'done' | 'active' | 'pending' }> {
  const at = current == null ? -1 : current === 'done' ? PHASES.length : PHASES.findIndex((p) => p.phase === current);
  return PHASES.map((p, i) => ({ ...p, step: i < at ? 'done' : i === at ? 'active' : 'pending' }));
}

/** Fraction of this phase done, for the progress bar; null when indeterminate (one-step phases too). */
export function phaseFraction(p: Progress | null): number | null {
  if (!p || !(p.total > 1)) return null;
  return Math.max(0, Math.min(1, p.done / p.total));
}
