/**
 * The hover's matching rules (extension/host/hoverMatch.ts): which layer of the latest result the text
 * under the cursor names, in PyTorch and Keras source, model.json and TypeScript; and no hit on words
 * that merely look like a layer name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layerAtPosition } from '../extension/host/hoverMatch.js';

const TORCH = ['features.0', 'features.3', 'fc1', 'fc2', 'encoder.layer.0.attn', 'norm'];
const KERAS = ['dense', 'dense_1', 'encoder', 'conv2d'];

/** The layer named at the first `|` of `marked` (the marker is removed). */
function at(marked: string, layers: string[], lang = 'python'): string | null {
  const ch = marked.indexOf('|');
  assert.ok(ch >= 0, 'test line needs a | marker');
  const line = marked.slice(0, ch) + marked.slice(ch + 1);
  return layerAtPosition(line, ch, layers, lang)?.name ?? null;
}

test('PyTorch: self.fc1, fc1 = nn.Linear(...), module paths with indexes', () => {
  assert.equal(at('        self.f|c1 = nn.Linear(4, 8)', TORCH), 'fc1');
  assert.equal(at('        x = self.|fc2(x)', TORCH), 'fc2');
  assert.equal(at('fc|1 = nn.Linear(4, 8)', TORCH), 'fc1');
  assert.equal(at('print(model.features[|0].weight.shape)', TORCH), 'features.0');
  assert.equal(at('print(model.features.|3)', TORCH), 'features.3');
  assert.equal(at('w = net.fc1.wei|ght', TORCH), 'fc1');
  assert.equal(at('        self.at|tn = Attention()', TORCH), 'encoder.layer.0.attn', 'a submodule\'s self.attn: the one layer whose path ends with it');
  assert.equal(at('model.encoder.layer[0].at|tn', TORCH), 'encoder.layer.0.attn');
  assert.equal(at('sd["features.|0.weight"]', TORCH), 'features.0');
  assert.equal(at("sd['f|c2.bias']", TORCH), 'fc2');
});

test('Keras: layers.Dense(..., name="encoder"), the name string, variables named like layers', () => {
  assert.equal(at('x = layers.De|nse(64, activation="relu", name="encoder")(x)', KERAS), 'encoder');
  assert.equal(at('x = layers.Dense(64, name="enc|oder")(x)', KERAS), 'encoder');
  assert.equal(at("    tf.keras.layers.Dense(10, name='den|se_1'),", KERAS), 'dense_1');
  assert.equal(at('den|se = model.get_layer("dense")', KERAS), 'dense');
  assert.equal(at('model.get_layer("conv|2d").kernel', KERAS), 'conv2d');
});

test('model.json and TypeScript keep working: strings and words equal to a layer name', () => {
  assert.equal(at('      "name": "dense|_1",', KERAS, 'json'), 'dense_1');
  assert.equal(at('      "name": "dense_1/ker|nel",', KERAS, 'json'), 'dense_1');
  assert.equal(at('const k = model.getLayer("dense").kernel; // den|se', KERAS, 'typescript'), null);
  assert.equal(at('this.enc|oder = tf.layers.dense({ units: 3 });', KERAS, 'typescript'), 'encoder');
});

test('no false hits on unrelated words', () => {
  assert.equal(at('y = np.linalg.no|rm(x)', TORCH), null, 'another receiver\'s attribute');
  assert.equal(at('y = torch.nn.functional.re|lu(x)', TORCH), null);
  assert.equal(at('x = layers.De|nse(64)(x)', KERAS), null, 'a call without a layer name');
  assert.equal(at('x = layers.De|nse(64, name="decoder")(x)', KERAS), null, 'a name that is no layer of the result');
  assert.equal(at('# the fc|1 layer overfits', TORCH), null, 'a comment');
  assert.equal(at('print("the enc|oder is slow")', KERAS), null, 'a sentence in a string');
  assert.equal(at('Dense|(10)', KERAS), null, 'case matters: Dense is not dense');
  assert.equal(at('fc1|0 = 3', TORCH), null, 'a longer identifier');
  assert.equal(at('x = f(|features)', TORCH), null, 'features is a module, not a layer');
  assert.equal(at('        self.fc|3 = nn.Linear(4, 8)', TORCH), null);
  assert.equal(at('for i in range(1|0):', TORCH), null);
  assert.equal(layerAtPosition('self.fc1', 6, [], 'python'), null, 'no result yet');
});

test('the hit covers the word that named the layer', () => {
  const line = '        self.fc1 = nn.Linear(4, 8)';
  assert.deepEqual(layerAtPosition(line, 14, TORCH, 'python'), { name: 'fc1', start: 13, end: 16 });
  const k = 'x = layers.Dense(64, name="encoder")(x)';
  assert.deepEqual(layerAtPosition(k, k.indexOf('Dense') + 1, KERAS, 'python'), { name: 'encoder', start: 11, end: 16 });
  assert.deepEqual(layerAtPosition(k, k.indexOf('encoder') + 1, KERAS, 'python'), { name: 'encoder', start: 27, end: 34 });
});
