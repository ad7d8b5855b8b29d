import { activateBackend, tf, type BackendName } from '../extension/engine/tfjs.js';

/** cpu and wasm always; tensorflow (tfjs-node) only where it is installed. */
export async function availableBackends(): Promise<BackendName[]> {
  const out: BackendName[] = ['cpu', 'wasm'];
  try {
    await activateBackend('tensorflow');
    out.push('tensorflow');
  } catch {
    /* not installed here */
  }
  await activateBackend('cpu');
  return out;
}

export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

export { tf };
