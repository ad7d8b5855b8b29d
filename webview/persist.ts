/**
 * The panel's state as kept by `vscode.setState`, and back. VS Code keeps webview state as JSON (it is
 * also what a WebviewPanelSerializer receives after a reload), where a Float32Array would become an
 * object with one key per entry: the tensors are stored as base64 of their float32 bytes instead
 * (exact, NaN included, about 5.3 characters per entry). Past `maxEntries` numbers (values and stderrs)
 * in all, the tensors are left out (the summary still restores; the host sends everything again on 'ready'). Pure.
 */
import type { PanelState, TensorArrays } from '../extension/protocol.js';
import type { Scale } from './heatmapLayout.js';

export const SAVED_VERSION = 1;
export const MAX_SAVED_ENTRIES = 1_000_000;

interface SavedTensor {
  layer: string;
  name: string;
  shape: number[];
  values: string;
  stderr: string | null;
  ggn?: string;
}

export interface SavedState {
  v: typeof SAVED_VERSION;
  scale: Scale;
  state: Omit<PanelState, 'tensors'> & { tensors: SavedTensor[] };
  tensorsOmitted: boolean;
}

export function encodeF32(a: Float32Array): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

export function decodeF32(s: string): Float32Array {
  const bin = atob(s);
  if (bin.length % 4 !== 0) throw new Error('float32 data length is not a multiple of 4');
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

/** Accepts a Float32Array, any array-like of numbers or a plain {0: …, 1: …} object. */
function asF32(x: unknown): Float32Array {
  if (x instanceof Float32Array) return x;
  if (ArrayBuffer.isView(x) || Array.isArray(x)) return Float32Array.from(x as ArrayLike<number>, (v) => (v == null ? Number.NaN : Number(v)));
  if (x && typeof x === 'object') return Float32Array.from(Object.values(x as Record<string, number>), (v) => (v == null ? Number.NaN : Number(v)));
  return new Float32Array(0);
}

/** The tensors as stored: base64 float32, or none past `maxEntries` entries in all. */
export function encodeTensors(tensors: readonly TensorArrays[], maxEntries = MAX_SAVED_ENTRIES): { tensors: SavedTensor[]; omitted: boolean } {
  const total = tensors.reduce((a, t) => a + t.values.length + (t.stderr ? t.stderr.length : 0) + (t.ggn ? t.ggn.length : 0), 0);
  if (total > maxEntries) return { tensors: [], omitted: true };
  return {
    tensors: tensors.map((t) => ({
      layer: t.layer,
      name: t.name,
      shape: t.shape,
      values: encodeF32(asF32(t.values)),
      stderr: t.stderr ? encodeF32(asF32(t.stderr)) : null,
      ...(t.ggn ? { ggn: encodeF32(asF32(t.ggn)) } : {}),
    })),
    omitted: false,
  };
}

/** What to pass to setState; `encoded` lets the caller reuse the tensors' encoding while they are unchanged. */
export function toSaved(state: PanelState, scale: Scale, encoded = encodeTensors(state.tensors)): SavedState {
  return { v: SAVED_VERSION, scale, state: { ...state, tensors: encoded.tensors, checkpoints: null, preview: null }, tensorsOmitted: encoded.omitted };
}

/**
 * The state and scale from what `getState()` returned, or null when it is missing or not ours. A run
 * that was in progress comes back as idle: after a reload no worker is running it, and if one is, the
 * host says so as soon as the panel posts 'ready'.
 */
export function fromSaved(x: unknown): { state: PanelState; scale: Scale; tensorsOmitted: boolean } | null {
  if (!x || typeof x !== 'object') return null;
  const s = x as Partial<SavedState>;
  if (s.v !== SAVED_VERSION || !s.state || typeof s.state !== 'object' || !Array.isArray(s.state.tensors)) return null;
  try {
    const tensors: TensorArrays[] = s.state.tensors.map((t) => ({
      layer: String(t.layer),
      name: String(t.name),
      shape: Array.isArray(t.shape) ? t.shape.map(Number) : [],
      values: typeof t.values === 'string' ? decodeF32(t.values) : asF32(t.values),
      stderr: t.stderr == null ? null : typeof t.stderr === 'string' ? decodeF32(t.stderr) : asF32(t.stderr),
      ...(t.ggn == null ? {} : { ggn: typeof t.ggn === 'string' ? decodeF32(t.ggn) : asF32(t.ggn) }),
    }));
    const state: PanelState = { ...s.state, tensors, focusLayer: null };
    if (state.status === 'running') Object.assign(state, { status: 'idle', progress: null });
    return { state, scale: s.scale === 'symlog' ? 'symlog' : 'linear', tensorsOmitted: !!s.tensorsOmitted };
  } catch {
    return null;
  }
}

/** Typed arrays from the host, or plain arrays/objects if they lost their type on the way. */
export function normaliseTensors(tensors: readonly TensorArrays[] | undefined): TensorArrays[] {
  return (tensors ?? []).map((t) => ({ ...t, values: asF32(t.values), stderr: t.stderr == null ? null : asF32(t.stderr), ...(t.ggn == null ? {} : { ggn: asF32(t.ggn) }) }));
}

/**
 * A cheap fingerprint of the tensors (names, shapes and an FNV-1a hash of their bytes), to tell whether
 * the heatmaps need drawing again when the host sends the whole state after a small change.
 */
export function tensorsKey(tensors: readonly TensorArrays[]): string {
  let h = 0x811c9dc5;
  const mix = (x: number) => {
    h ^= x;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  const parts: string[] = [];
  for (const t of tensors) {
    parts.push(`${t.layer}\u0000${t.name}\u0000${t.shape.join('x')}\u0000${t.values.length}\u0000${t.stderr ? t.stderr.length : -1}`);
    for (const a of [t.values, t.stderr, t.ggn]) {
      if (!a) continue;
      const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
      for (let i = 0; i < u.length; i++) mix(u[i]);
    }
  }
  return `${parts.join('\u0001')}#${h.toString(16)}`;
}
