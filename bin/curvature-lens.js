#!/usr/bin/env node
// Launcher for the curvature-lens CLI. Builds dist/ on first use if `npm ci` did not (prepare).
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { spawn, execFileSync } = require('node:child_process');

// V8 reads these only at start-up, so the launcher runs the CLI in a node started with them: the same
// list as extension/engine/v8Flags.ts (why: see there; a test checks that the two agree).
const ENGINE_V8_FLAGS = ['--single-threaded-gc'];

if (!ENGINE_V8_FLAGS.every((f) => process.execArgv.includes(f))) {
  const child = spawn(process.execPath, [...ENGINE_V8_FLAGS, ...process.execArgv, __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Signals sent to the launcher reach the CLI (Ctrl-C reaches both; the CLI cancels once).
  const forward = (signal) => child.kill(signal);
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, forward);
  child.on('error', (e) => {
    process.stderr.write(`curvature-lens: error: could not start node (${e.message})\n`);
    process.exitCode = 1;
  });
  child.on('exit', (code, signal) => {
    for (const s of signals) process.off(s, forward);
    if (signal) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
} else {
  const cli = join(__dirname, '..', 'dist', 'cli.js');
  if (!existsSync(cli)) {
    execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'build.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  require(cli)
    .main(process.argv.slice(2))
    .then((code) => {
      process.exitCode = code;
    });
}
