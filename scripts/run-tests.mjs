// Runs every test/**/*.test.ts with node's own test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [filter-substring]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return ['fixtures', 'e2e', 'node_modules'].includes(name) ? [] : collect(p);
    return name.endsWith('.test.ts') ? [p] : [];
  });
}
const filter = process.argv[2];
const files = collect('test').filter((f) => !filter || f.includes(filter)).sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
