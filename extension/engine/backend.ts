/**
 * Chooses the compute backend: every candidate must load and pass the numerical second-order self-test
 * before it is used; one that fails is refused and the next is tried, and the reasons are kept for the
 * user. `auto` prefers tfjs-node's `tensorflow` (when installed), then wasm, then cpu.
 */
import { InputError } from '../errors.js';
import { activateBackend, BACKENDS, type BackendName } from './tfjs.js';
import { selfTest } from './selftest.js';

export type BackendRequest = BackendName | 'auto';

export interface BackendChoice {
  backend: BackendName;
  notes: string[];
}

const trusted = new Map<BackendName, string>();

export async function chooseBackend(requested: BackendRequest): Promise<BackendChoice> {
  if (requested !== 'auto' && !BACKENDS.includes(requested)) {
    throw new InputError(null, `--backend ${requested} is not one of auto, ${BACKENDS.join(', ')}`);
  }
  const order: BackendName[] = requested === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [requested, ...(['wasm', 'cpu'] as BackendName[]).filter((b) => b !== requested)];
  const notes: string[] = [];
  for (const name of order) {
    const known = trusted.get(name);
    try {
      await activateBackend(name);
    } catch (e) {
      notes.push(`${name}: unavailable (${(e as Error).message})`);
      continue;
    }
    if (known) {
      notes.push(`${name}: ${known}`);
      return { backend: name, notes };
    }
    const r = selfTest();
    if (r.ok) {
      const note = `passed the second-order self-test, ${r.detail}`;
      trusted.set(name, note);
      notes.push(`${name}: ${note}`);
      return { backend: name, notes };
    }
    notes.push(`${name}: REFUSED, failed the second-order self-test (${r.detail})`);
  }
  throw new Error(`no backend passed the second-order self-test: ${notes.join('; ')}`);
}
