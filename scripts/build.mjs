// The one build script: bundles each runtime's entry point with esbuild.
//   node scripts/build.mjs            production build
//   node scripts/build.mjs --dev      with sourcemaps
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';

const dev = process.argv.includes('--dev');
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // ESM entry points: their package.json sideEffects lists keep the kernel registrations.
  mainFields: ['module', 'main'],
  sourcemap: dev,
  logLevel: 'warning',
  // tfjs-node cannot be bundled (native, user-installed); it is looked up at run time.
  external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
};
const entries = [
  { entryPoints: ['extension/cli/main.ts'], outfile: 'dist/cli.js' },
  ...(existsSync('bench/hvp.ts') ? [{ entryPoints: ['bench/hvp.ts'], outfile: 'dist/bench.js' }] : []),
];
await Promise.all(entries.map((e) => build({ ...common, ...e })));
// The wasm backend's binaries sit beside the bundle (see activateBackend).
mkdirSync('dist', { recursive: true });
const wasmDir = 'node_modules/@tensorflow/tfjs-backend-wasm/dist';
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(`${wasmDir}/${f}`, `dist/${f}`);
