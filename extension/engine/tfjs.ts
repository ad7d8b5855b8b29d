/**
 * The one place that loads TensorFlow.js: tfjs-core, its gradients, the second-order fixes, and the
 * backends (cpu and wasm always; tfjs-node's `tensorflow` when the user has it installed). Every other
 * module imports `tf` from here so that the fixes are always in force.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { registerSecondOrderGradients } from './gradients.js';
import { guardWasmHeap, shareWasmCopies } from './wasmFixes.js';

// PROD silences tfjs' console banners (they would corrupt `--json -` output) and its debug checks.
tf.env().set('PROD', true);
registerSecondOrderGradients();

export { tf };

/**
 * A tensor's values, read back, and the tensor freed. Read outside tf.tidy, never returned from it: given
 * a typed array, tidy walks every element as a possible tensor (35 % of an HVP of a 784-256-256-10 MLP
 * on wasm; 59 ms against 1.8 ms for a 512×784 transpose).
 */
export function readAndDispose(t: tf.Tensor): Float32Array {
  const values = t.dataSync() as Float32Array;
  t.dispose();
  return values;
}

/** Referenced so bundlers keep the cpu backend's registration (its package is marked side-effect free). */
export const CPU_BACKEND_VERSION: string = version_cpu;

export type BackendName = 'cpu' | 'wasm' | 'tensorflow';
export const BACKENDS: readonly BackendName[] = ['cpu', 'wasm', 'tensorflow'];

let wasmRegistered = false;
const WASM_PACKAGE_JSON = ['@tensorflow', 'tfjs-backend-wasm', 'package.json'].join('/');

/** Loads a backend's package and makes it active. Throws with a reason if it cannot be had. */
export async function activateBackend(name: BackendName): Promise<void> {
  if (name === 'wasm' && !wasmRegistered) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    // Beside the bundle (dist/, the .vsix), else in the package (running from source).
    const dist = existsSync(join(__dirname, 'tfjs-backend-wasm.wasm')) ? __dirname + '/' : join(dirname(require.resolve(WASM_PACKAGE_JSON)), 'dist') + '/';
    wasm.setWasmPaths(dist);
    shareWasmCopies();
    wasmRegistered = true;
  }
  if (name === 'tensorflow' && tf.findBackendFactory('tensorflow') == null) {
    loadTfjsNode();
  }
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`the ${name} backend failed to initialise`);
  await tf.ready();
  if (name === 'wasm') guardWasmHeap(tf.backend());
}

/**
 * tfjs-node cannot be bundled (it downloads libtensorflow at install time), so it is looked up at run
 * time: first next to this program, then in the current working directory's node_modules.
 */
function loadTfjsNode(): void {
  const tried: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    for (const from of [__dirname, process.cwd()]) {
      let path: string;
      try {
        path = require.resolve(pkg, { paths: [from] });
      } catch {
        continue;
      }
      try {
        require(path);
      } catch (e) {
        tried.push(`${pkg}: ${(e as Error).message.split('\n')[0]}`);
        continue;
      }
      if (tf.findBackendFactory('tensorflow') != null) return;
      tried.push(`${pkg} loaded its own copy of tfjs-core (install it next to curvature-lens so that one copy is shared)`);
    }
  }
  throw new Error(tried.length ? tried.join('; ') : '@tensorflow/tfjs-node(-gpu) is not installed');
}
