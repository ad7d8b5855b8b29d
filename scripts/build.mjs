// The one build script: bundles each runtime's entry point with esbuild.
//   node scripts/build.mjs            production build
//   node scripts/build.mjs --dev      with sourcemaps
// Entries: the CLI, the worker and the HVP thread (node), the extension host (node, `vscode` external), the webview
// (browser IIFE), the benchmark. The wasm binaries and the vscode-elements bundle are copied beside them.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';

const dev = process.argv.includes('--dev');
const node = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // ESM entry points: their package.json sideEffects lists keep the kernel registrations.
  mainFields: ['module', 'main'],
  sourcemap: dev,
  logLevel: 'warning',
  // tfjs-node cannot be bundled (native, user-installed); it is looked up at run time.
  external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'vscode'],
};
const entries = [
  { ...node, entryPoints: ['extension/cli/main.ts'], outfile: 'dist/cli.js' },
  { ...node, entryPoints: ['extension/worker/main.ts'], outfile: 'dist/worker.js' },
  // HVP worker threads (extension/engine/hvpPool.ts finds it beside whichever bundle starts them).
  { ...node, entryPoints: ['extension/engine/hvpThread.ts'], outfile: 'dist/hvpThread.js' },
  ...(existsSync('extension/host/extension.ts') ? [{ ...node, entryPoints: ['extension/host/extension.ts'], outfile: 'dist/extension.js' }] : []),
  ...(existsSync('webview/main.ts')
    ? [{ bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: dev, logLevel: 'warning', entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js' }]
    : []),
  ...(existsSync('bench/hvp.ts') ? [{ ...node, entryPoints: ['bench/hvp.ts'], outfile: 'dist/bench.js' }] : []),
];
await Promise.all(entries.map((e) => build(e)));
mkdirSync('dist', { recursive: true });
// The wasm backend's binaries sit beside the bundles (see activateBackend).
const wasmDir = 'node_modules/@tensorflow/tfjs-backend-wasm/dist';
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(`${wasmDir}/${f}`, `dist/${f}`);
copyFileSync('node_modules/@vscode-elements/elements/dist/bundled.js', 'dist/elements.js');
