/**
 * End-to-end bad-data tests of the CLI for the .npy, .json and .csv formats and the data flags: each
 * case writes one broken data file beside a copy of a fixture model, runs `curvature-lens inspect` as a
 * child process and checks that the run ends cleanly: exit code 2, exactly one
 * `curvature-lens: error: <file>: <what>` line on stderr (beside the progress lines), no stack trace,
 * and neither the --json nor the --report file written. Valid runs of each format and of synthetic data
 * prove the harness.
 */
import { f32, i64, npy } from './npyWriter.js';
import { assertBadInput, FIXTURES, runInspect, SHARD, useCli, type Run } from './cli.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpz } from '../extension/readers/npz.js';
import type { NdArray } from '../extension/readers/npy.js';


// ---- fixtures and files ----

/** A fresh temp copy of a fixture model folder (model.json, shard; its data.npz read, not copied). */
const tempCopy = useCli();

function copyFixture(name: 'mlp' | 'cnn' = 'mlp'): { dir: string; x: NdArray; y: NdArray } {
  const dir = tempCopy(name, ['model.json', SHARD], 'curvature-lens-bad-data');
  const a = readNpz(join(FIXTURES, name, 'data.npz'));
  return { dir, x: a.get('x')!, y: a.get('y')! };
}


/** x as rows of numbers, flattened per example. */
function rows(x: NdArray): number[][] {
  const n = x.shape[0];
  const per = x.data.length / n;
  return Array.from({ length: n }, (_, i) => Array.from(x.data.subarray(i * per, (i + 1) * per)));
}

/** CSV text: a header f0…, label (optional), then one row per example with the label last. */
function csvText(xs: (number | string)[][], ys: ArrayLike<number | string>, header = true): string {
  const names = xs[0].map((_, i) => `f${i}`);
  return [...(header ? [[...names, 'label'].join(',')] : []), ...xs.map((r, i) => [...r, ys[i]].join(','))].join('\n') + '\n';
}

// ---- running the CLI ----


/** `inspect <model> [--data <data>] …` with the fast settings and both result files requested in dir. */
function inspect(dir: string, data: string | null, args: string[] = []): Run {
  return runInspect(dir, join(dir, 'model.json'), data === null ? [] : ['--data', data], args);
}



function assertOk({ r, out }: Run): Record<string, any> {
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /error/);
  return JSON.parse(readFileSync(out, 'utf8'));
}

// ---- the harness itself: valid runs ----

test('valid .npy pair, .json and .csv runs exit 0 with the same loss as .npz', () => {
  const { dir, x, y } = copyFixture('mlp');
  cpSync(join(FIXTURES, 'mlp', 'data.npz'), join(dir, 'data.npz'));
  const ref = assertOk(inspect(dir, join(dir, 'data.npz')));
  writeFileSync(join(dir, 'x.npy'), npy('<f4', x.shape, f32(x.data)));
  writeFileSync(join(dir, 'y.npy'), npy('<i8', y.shape, i64(y.data)));
  writeFileSync(join(dir, 'data.json'), JSON.stringify({ x: rows(x), y: Array.from(y.data) }));
  writeFileSync(join(dir, 'data.csv'), csvText(rows(x), y.data));
  for (const [data, args] of [[join(dir, 'x.npy'), []], [join(dir, 'data.json'), []], [join(dir, 'data.csv'), ['--label-column', 'label']]] as const) {
    const json = assertOk(inspect(dir, data, [...args]));
    assert.equal(json.loss.value, ref.loss.value, data);
    assert.equal(json.data.synthetic, false);
    rmSync(join(dir, 'out.json'));
    rmSync(join(dir, 'out.md'));
  }
});

test('no --data: a synthetic run, flagged in the JSON and the report', () => {
  const { dir } = copyFixture('mlp');
  const run = inspect(dir, null, ['--examples', '40']);
  const json = assertOk(run);
  assert.equal(json.data.synthetic, true);
  assert.equal(json.data.path, null);
  assert.equal(json.data.examples, 40);
  assert.match(json.data.description, /^40 synthetic examples \(seed 0\)/);
  assert.match(readFileSync(run.outMd, 'utf8'), /^> \*\*Synthetic data\*\*: /m);
  assert.match(run.r.stderr, /^\[load\] no data file: 40 synthetic examples/m);
});

// ---- .json ----

test('ragged JSON names the first ragged element', () => {
  const { dir, x, y } = copyFixture('mlp');
  const xs: number[][] = rows(x);
  xs[3] = xs[3].slice(0, 4);
  writeFileSync(join(dir, 'data.json'), JSON.stringify({ x: xs, y: Array.from(y.data) }));
  assertBadInput(inspect(dir, join(dir, 'data.json')), /data\.json: x\[3\] has 4 entries, x\[0\] has 5 entries: "x" is not rectangular$/);
});

test('ragged JSON, deeper (cnn images)', () => {
  const { dir, y } = copyFixture('cnn');
  const image = () => Array.from({ length: 8 }, () => Array.from({ length: 8 }, () => [0.5, -0.5]));
  const xs = Array.from({ length: y.shape[0] }, image);
  xs[2][1] = xs[2][1].slice(0, 7);
  writeFileSync(join(dir, 'data.json'), JSON.stringify({ x: xs, y: Array.from(y.data) }));
  assertBadInput(inspect(dir, join(dir, 'data.json')), /data\.json: x\[2\]\[1\] has 7 entries, x\[0\]\[1\] has 8 entries/);
});

test('a non-numeric value in JSON x', () => {
  const { dir, x, y } = copyFixture('mlp');
  const xs: (number | string)[][] = rows(x);
  xs[1][2] = 'abc';
  writeFileSync(join(dir, 'data.json'), JSON.stringify({ x: xs, y: Array.from(y.data) }));
  assertBadInput(inspect(dir, join(dir, 'data.json')), /data\.json: x\[1\]\[2\] is the string "abc", not a number; "x" must hold numbers only$/);
});

test('a null label in JSON y', () => {
  const { dir, x, y } = copyFixture('mlp');
  const ys: (number | null)[] = Array.from(y.data);
  ys[5] = null;
  writeFileSync(join(dir, 'data.json'), JSON.stringify({ x: rows(x), y: ys }));
  assertBadInput(inspect(dir, join(dir, 'data.json')), /data\.json: y\[5\] is null, not a number/);
});

test('JSON that is not an object', () => {
  const { dir } = copyFixture('mlp');
  writeFileSync(join(dir, 'data.json'), '[[1, 2, 3, 4, 5]]');
  assertBadInput(inspect(dir, join(dir, 'data.json')), /data\.json: is not a data object: expected \{"x": \[\.\.\.\], "y": \[\.\.\.\]\}, found an array$/);
});

test('JSON without x', () => {
  const { dir, y } = copyFixture('mlp');
  writeFileSync(join(dir, 'data.json'), JSON.stringify({ inputs: [[1, 2, 3, 4, 5]], y: Array.from(y.data) }));
  assertBadInput(inspect(dir, join(dir, 'data.json')), /data\.json: has no "x" array; expected .* \(found keys: inputs, y\)$/);
});

test('JSON nested too deeply', () => {
  const { dir } = copyFixture('mlp');
  writeFileSync(join(dir, 'data.json'), `{"x": ${'['.repeat(100_000)}${']'.repeat(100_000)}, "y": [0]}`);
  assertBadInput(inspect(dir, join(dir, 'data.json')), /data\.json: nests arrays more than 32 levels deep/);
});

test('JSON that does not parse', () => {
  const { dir } = copyFixture('mlp');
  writeFileSync(join(dir, 'data.json'), '{"x": [[1, 2, 3, 4, 5]],\n "y": [0');
  assertBadInput(inspect(dir, join(dir, 'data.json')), /data\.json: is not valid JSON \(/);
});

test('JSON x whose features do not match the model input', () => {
  const { dir, x, y } = copyFixture('mlp');
  writeFileSync(join(dir, 'data.json'), JSON.stringify({ x: rows(x).map((r) => [...r, 0]), y: Array.from(y.data) }));
  assertBadInput(inspect(dir, join(dir, 'data.json')), /data\.json: x has shape \[64,6\] but the model expects \[N, 5\]$/);
});

// ---- .csv ----

test('a non-numeric CSV cell names line and column', () => {
  const { dir, x, y } = copyFixture('mlp');
  const xs: (number | string)[][] = rows(x);
  xs[2][2] = 'abc';
  writeFileSync(join(dir, 'data.csv'), csvText(xs, y.data));
  assertBadInput(inspect(dir, join(dir, 'data.csv')), /data\.csv: line 4, column 3 \("f2"\): "abc" is not a number$/);
});

test('an empty CSV cell', () => {
  const { dir, x, y } = copyFixture('mlp');
  const xs: (number | string)[][] = rows(x);
  xs[0][4] = '';
  writeFileSync(join(dir, 'data.csv'), csvText(xs, y.data, false));
  assertBadInput(inspect(dir, join(dir, 'data.csv')), /data\.csv: line 1, column 5 is empty; every cell must be a number$/);
});

test('ragged CSV rows', () => {
  const { dir, x, y } = copyFixture('mlp');
  const xs: number[][] = rows(x);
  xs[3] = xs[3].slice(0, 4);
  writeFileSync(join(dir, 'data.csv'), csvText(xs, y.data));
  assertBadInput(inspect(dir, join(dir, 'data.csv')), /data\.csv: line 5 has 5 columns, line 1 has 6: every row must have the same number of cells$/);
});

test('an empty CSV', () => {
  const { dir } = copyFixture('mlp');
  writeFileSync(join(dir, 'data.csv'), '');
  assertBadInput(inspect(dir, join(dir, 'data.csv')), /data\.csv: is empty: no rows/);
});

test('a CSV with only a header', () => {
  const { dir } = copyFixture('mlp');
  writeFileSync(join(dir, 'data.csv'), 'a,b,c,d,e,label\n\n');
  assertBadInput(inspect(dir, join(dir, 'data.csv')), /data\.csv: has a header row but no data rows$/);
});

test('an unknown label column name', () => {
  const { dir, x, y } = copyFixture('mlp');
  writeFileSync(join(dir, 'data.csv'), csvText(rows(x), y.data));
  assertBadInput(inspect(dir, join(dir, 'data.csv'), ['--label-column', 'target']), /data\.csv: label column "target" not found; the header has "f0", "f1", "f2", "f3", "f4", "label"$/);
});

test('a label column index out of range', () => {
  const { dir, x, y } = copyFixture('mlp');
  writeFileSync(join(dir, 'data.csv'), csvText(rows(x), y.data, false));
  assertBadInput(inspect(dir, join(dir, 'data.csv'), ['--label-column', '6']), /data\.csv: label column 6 not found: the file has 6 columns \(indexes 0…5/);
});

test('a label column name in a CSV without a header', () => {
  const { dir, x, y } = copyFixture('mlp');
  writeFileSync(join(dir, 'data.csv'), csvText(rows(x), y.data, false));
  assertBadInput(inspect(dir, join(dir, 'data.csv'), ['--label-column', 'label']), /data\.csv: label column "label" not found: the file has no header row/);
});

test('CSV features that do not match the model input after the reshape (cnn)', () => {
  const { dir, x, y } = copyFixture('cnn');
  writeFileSync(join(dir, 'data.csv'), csvText(rows(x).map((r) => r.slice(1)), y.data, false));
  assertBadInput(inspect(dir, join(dir, 'data.csv')), /data\.csv: x has shape \[40,127\] but the model expects \[N, 8,8,2\] \(NHWC for images\), or \[N, 128\] flattened$/);
});

test('a CSV label out of range names the file', () => {
  const { dir, x, y } = copyFixture('mlp');
  const ys = Array.from(y.data);
  ys[2] = 7;
  writeFileSync(join(dir, 'data.csv'), csvText(rows(x), ys));
  assertBadInput(inspect(dir, join(dir, 'data.csv')), /data\.csv: label 7 of example 2 is out of range: the model has 4 classes/);
});

test('a missing CSV file', () => {
  const { dir } = copyFixture('mlp');
  assertBadInput(inspect(dir, join(dir, 'nope.csv')), /nope\.csv: file not found; check the path to the \.csv file$/);
});

// ---- .npy ----

test('x.npy with no y.npy beside it', () => {
  const { dir, x } = copyFixture('mlp');
  writeFileSync(join(dir, 'x.npy'), npy('<f4', x.shape, f32(x.data)));
  assertBadInput(inspect(dir, join(dir, 'x.npy')), /x\.npy: its labels are missing: no y\.npy beside it .*; put them there or pass --labels FILE\.npy$/);
});

test('an .npy not named x.npy, without --labels', () => {
  const { dir, x } = copyFixture('mlp');
  writeFileSync(join(dir, 'features.npy'), npy('<f4', x.shape, f32(x.data)));
  assertBadInput(inspect(dir, join(dir, 'features.npy')), /features\.npy: a \.npy file holds only x: give its labels with --labels FILE\.npy/);
});

test('--labels naming a missing file', () => {
  const { dir, x } = copyFixture('mlp');
  writeFileSync(join(dir, 'x.npy'), npy('<f4', x.shape, f32(x.data)));
  assertBadInput(inspect(dir, join(dir, 'x.npy'), ['--labels', join(dir, 'labels.npy')]), /labels\.npy: file not found; check the path to the \.npy file$/);
});

test('--labels that is not an .npy', () => {
  const { dir, x } = copyFixture('mlp');
  writeFileSync(join(dir, 'x.npy'), npy('<f4', x.shape, f32(x.data)));
  writeFileSync(join(dir, 'labels.csv'), '0\n1\n');
  assertBadInput(inspect(dir, join(dir, 'x.npy'), ['--labels', join(dir, 'labels.csv')]), /labels\.csv: labels of \.npy data must be a \.npy file too$/);
});

test('y.npy with fewer examples than x.npy', () => {
  const { dir, x, y } = copyFixture('mlp');
  writeFileSync(join(dir, 'x.npy'), npy('<f4', x.shape, f32(x.data)));
  writeFileSync(join(dir, 'y.npy'), npy('<i8', [63], i64(y.data.subarray(0, 63))));
  assertBadInput(inspect(dir, join(dir, 'x.npy')), /x\.npy: x has 64 examples but y \(.*y\.npy\) has 63$/);
});

test('a corrupt y.npy names that file', () => {
  const { dir, x } = copyFixture('mlp');
  writeFileSync(join(dir, 'x.npy'), npy('<f4', x.shape, f32(x.data)));
  writeFileSync(join(dir, 'y.npy'), 'not numpy');
  assertBadInput(inspect(dir, join(dir, 'x.npy')), /y\.npy: not a \.npy array: bad magic/);
});

test('.npy x whose features do not match the model input', () => {
  const { dir, x, y } = copyFixture('mlp');
  writeFileSync(join(dir, 'x.npy'), npy('<f4', [64, 4], f32(x.data.subarray(0, 256))));
  writeFileSync(join(dir, 'y.npy'), npy('<i8', y.shape, i64(y.data)));
  assertBadInput(inspect(dir, join(dir, 'x.npy')), /x\.npy: x has shape \[64,4\] but the model expects \[N, 5\]$/);
});

// ---- the data flags ----

test('--label-column with a .npz', () => {
  const { dir } = copyFixture('mlp');
  assertBadInput(inspect(dir, join(FIXTURES, 'mlp', 'data.npz'), ['--label-column', '0']), /^curvature-lens: error: --label-column is for \.csv data; a \.npz file has no columns$/);
});

test('--labels with a .csv', () => {
  const { dir, x, y } = copyFixture('mlp');
  writeFileSync(join(dir, 'data.csv'), csvText(rows(x), y.data));
  assertBadInput(inspect(dir, join(dir, 'data.csv'), ['--labels', join(dir, 'y.npy')]), /^curvature-lens: error: --labels is for \.npy data/);
});

test('--labels without --data', () => {
  const { dir } = copyFixture('mlp');
  assertBadInput(inspect(dir, null, ['--labels', join(dir, 'y.npy')]), /^curvature-lens: error: --labels needs --data/);
});

test('--examples with --data', () => {
  const { dir } = copyFixture('mlp');
  assertBadInput(inspect(dir, join(FIXTURES, 'mlp', 'data.npz'), ['--examples', '10']), /^curvature-lens: error: --examples sets the number of synthetic examples, used only without --data$/);
});

test('--examples 0', () => {
  const { dir } = copyFixture('mlp');
  assertBadInput(inspect(dir, null, ['--examples', '0']), /^curvature-lens: error: --examples must be an integer ≥ 1, got 0$/);
});

test('--examples abc', () => {
  const { dir } = copyFixture('mlp');
  assertBadInput(inspect(dir, null, ['--examples', 'abc']), /^curvature-lens: error: --examples must be a non-negative integer, got "abc"$/);
});
