/**
 * The input limits (README "Security and limits") reach the readers through the one settings object
 * (InspectSettings.inputLimits, from the extension's curvatureLens.limits.* settings), and each is
 * reported with a message that names the limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../extension/errors.js';
import { inspect } from '../extension/engine/inspect.js';
import { loadModel } from '../extension/engine/loadModel.js';
import { readArrays } from '../extension/readers/dataset.js';
import { dataLimits, DEFAULT_INPUT_LIMITS, modelLimits } from '../extension/readers/limits.js';

const MODEL = 'examples/mlp/model.json';
const DATA = 'examples/mlp/data.npz';
const refused = (re: RegExp) => (e: unknown) => e instanceof InputError && re.test(e.message);

test('defaults: 2 GiB files, 2^28 parameters, 100000 layers', () => {
  assert.deepEqual(DEFAULT_INPUT_LIMITS, { maxFileBytes: 2 ** 31, maxParameters: 2 ** 28, maxLayers: 100_000 });
  assert.ok(loadModel(MODEL, modelLimits()).net.size > 0);
});

test('maxLayers, maxParameters and maxFileBytes each refuse the example model or data with a message naming the limit', () => {
  assert.throws(() => loadModel(MODEL, modelLimits({ maxLayers: 2 })), refused(/layers, above the limit of 2$/));
  assert.throws(() => loadModel(MODEL, modelLimits({ maxParameters: 100 })), refused(/declares \d+ parameters, above the limit of 100$/));
  assert.throws(() => loadModel(MODEL, modelLimits({ maxFileBytes: 1000 })), refused(/above the 1000-byte limit/));
  assert.throws(() => readArrays(DATA, { limits: dataLimits({ maxFileBytes: 1000 }) }), refused(/above the limit of 1000 bytes/));
});

test('inspect passes inputLimits to the readers', async () => {
  await assert.rejects(inspect({ modelPath: MODEL, dataPath: DATA, backend: 'cpu', inputLimits: { maxLayers: 2 } }), refused(/above the limit of 2$/));
  await assert.rejects(inspect({ modelPath: MODEL, dataPath: DATA, backend: 'cpu', inputLimits: { maxFileBytes: 6000 } }), refused(/data\.npz: .*above the limit of 6000 bytes/));
});
