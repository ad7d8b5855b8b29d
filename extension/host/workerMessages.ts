/**
 * Checks a message from the worker process before the host acts on it: the worker runs untrusted input
 * through a large engine, so a bug (or a memory corruption) there must end the run with a clear error, not
 * a TypeError thrown in the extension host by a listener that trusted the message's shape.
 */
import type { WorkerToHost } from '../protocol.js';

/** What Node, V8 and WASM print when memory runs out (or a `ulimit -v` cap is hit). */
export const OUT_OF_MEMORY = /heap out of memory|Allocation failed|Array buffer allocation|out of memory|Cannot allocate|std::bad_alloc|ENOMEM|Invalid typed array length|Invalid array buffer length/i;

const KINDS = new Set(['input', 'cancelled', 'internal']);
const PHASES = new Set(['backend', 'load', 'gradient', 'diagonal', 'eigenvalues', 'layers', 'done']);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown) => typeof v === 'number';

/** The message, typed, or why it is malformed (one short phrase). */
export function checkWorkerMessage(raw: unknown): WorkerToHost | string {
  if (!isObj(raw)) return `not an object: ${preview(raw)}`;
  switch (raw.type) {
    case 'ready':
      return raw as WorkerToHost;
    case 'progress': {
      const p = raw.progress;
      if (!isObj(p) || !PHASES.has(p.phase as string) || typeof p.message !== 'string' || !isNum(p.done) || !isNum(p.total)) return 'a progress message without a valid progress';
      if (p.eta !== null && p.eta !== undefined && !isNum(p.eta)) return 'a progress message with a non-numeric eta';
      if (p.note !== undefined && typeof p.note !== 'string') return 'a progress message with a non-text note';
      if (p.running !== undefined && (!isObj(p.running) || !isNum(p.running.trace))) return 'a progress message with a malformed running estimate';
      const c = raw.checkpoint;
      if (c !== undefined && (!isObj(c) || !isNum(c.index) || !isNum(c.total) || typeof c.path !== 'string')) return 'a progress message with a malformed checkpoint';
      return raw as WorkerToHost;
    }
    case 'result': {
      const r = raw.result;
      if (!isObj(r) || r.schemaVersion !== 1 || !Array.isArray(r.layers) || !isObj(r.global) || !isObj(r.model)) return 'a result that is not a schemaVersion-1 result';
      return raw as WorkerToHost;
    }
    case 'checkpointsResult': {
      const r = raw.result;
      const d = raw.diagonals;
      if (!isObj(r) || !Array.isArray(r.checkpoints) || !r.checkpoints.every((c) => isObj(c) && typeof c.path === 'string' && isObj(c.trace))) return 'a checkpoints result without valid rows';
      if (!Array.isArray(d) || d.length !== r.checkpoints.length || !d.every((ts) => Array.isArray(ts) && ts.every((t) => isObj(t) && typeof t.name === 'string' && Array.isArray(t.shape) && Array.isArray(t.values))))
        return 'a checkpoints result without one list of diagonals per checkpoint';
      return raw as WorkerToHost;
    }
    case 'preview':
      return checkPreview(raw.preview) ?? (raw as WorkerToHost);
    case 'error':
      if (!KINDS.has(raw.kind as string) || typeof raw.message !== 'string') return 'an error message without a valid kind and text';
      return raw as WorkerToHost;
    default:
      return `an unknown message type ${preview(raw.type)}`;
  }
}

const METHODS = new Set(['exact', 'hutchinson', 'xdiag']);

/** Why a preview is malformed, or null: the fields the panel reads, and values matching each shape. */
function checkPreview(p: unknown): string | null {
  if (!isObj(p) || !METHODS.has(p.method as string) || !METHODS.has(p.estimator as string) || !isNum(p.matvecs) || !isNum(p.planned) || typeof p.final !== 'boolean') return 'a preview without a valid method and counts';
  if (p.samples !== null && !isNum(p.samples)) return 'a preview with a non-numeric sample count';
  const ok = (t: unknown) => {
    if (!isObj(t) || typeof t.layer !== 'string' || typeof t.name !== 'string' || !Array.isArray(t.shape) || !t.shape.every(isNum) || !Array.isArray(t.values)) return false;
    const n = (t.shape as number[]).reduce((a, b) => a * b, 1);
    return t.values.length === n && (t.stderr === null || (Array.isArray(t.stderr) && t.stderr.length === n));
  };
  if (!Array.isArray(p.tensors) || !p.tensors.every(ok)) return 'a preview whose tensors do not match their shapes';
  return null;
}

function preview(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? (Array.isArray(v) ? 'an array' : v === null ? 'null' : 'an object') : String(v);
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}
