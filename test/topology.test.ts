/**
 * Functional (graph) topologies: Keras 3's inbound-node format and a shuffled layer list give the same
 * network as the converter's Keras 2 format; malformed graphs end in a clear InputError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { activateBackend } from '../extension/engine/tfjs.js';
import { readTfjsModel } from '../extension/readers/tfjsModel.js';
import { buildNetwork } from '../extension/engine/network.js';
import { prepareData, readArrays } from '../extension/readers/dataset.js';
import { Objective } from '../extension/engine/objective.js';
import { InputError } from '../extension/errors.js';

const SRC = 'test/fixtures/models/rescnn';

function variant(edit: (topology: any) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'cl-topology-'));
  cpSync(SRC, dir, { recursive: true });
  const j = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  edit(j.modelTopology.model_config.config);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(j));
  return join(dir, 'model.json');
}

function lossAndGradient(modelPath: string) {
  const net = buildNetwork(readTfjsModel(modelPath));
  const { x, y } = readArrays(`${SRC}/data.npz`);
  const { dataset, loss } = prepareData(`${SRC}/data.npz`, x, y, net, null);
  const obj = new Objective(net, dataset, loss, 64);
  try {
    return obj.lossAndGradient();
  } finally {
    obj.dispose();
  }
}

const keras3 = (cfg: any) => {
  const tensor = (ref: any[]) => ({ class_name: '__keras_tensor__', config: { shape: null, dtype: 'float32', keras_history: [ref[0], ref[1], ref[2]] } });
  for (const l of cfg.layers) {
    if (!l.inbound_nodes?.length) continue;
    const refs = l.inbound_nodes[0];
    l.inbound_nodes = [{ args: refs.length === 1 ? [tensor(refs[0])] : [refs.map(tensor)], kwargs: {} }];
  }
  cfg.output_layers = cfg.output_layers[0];
};

test('Keras 3 inbound nodes and a shuffled layer list give the same loss and gradient', async () => {
  await activateBackend('cpu');
  const base = lossAndGradient(`${SRC}/model.json`);
  const k3 = lossAndGradient(variant(keras3));
  const shuffled = lossAndGradient(variant((cfg) => cfg.layers.reverse()));
  for (const other of [k3, shuffled]) {
    assert.equal(other.loss, base.loss);
    assert.deepEqual(Array.from(other.gradient), Array.from(base.gradient));
  }
});

function rejects(path: string, pattern: RegExp) {
  assert.throws(() => buildNetwork(readTfjsModel(path)), (e: unknown) => e instanceof InputError && pattern.test(e.message));
}

test('malformed graphs: cycle, shared layer, two outputs, dangling reference, unconnected layer', () => {
  rejects(
    variant((cfg) => {
      const first = cfg.layers.find((l: any) => l.name === 'conv2d');
      first.inbound_nodes = [[['add', 0, 0, {}]]];
    }),
    /the layer graph has a cycle through/,
  );
  rejects(
    variant((cfg) => {
      const d = cfg.layers.find((l: any) => l.name === 'dense');
      d.inbound_nodes.push(d.inbound_nodes[0]);
    }),
    /is called 2 times; shared layers are not supported/,
  );
  rejects(
    variant((cfg) => cfg.output_layers.push(['add', 0, 0])),
    /the model has 2 outputs; exactly one is supported/,
  );
  rejects(
    variant((cfg) => {
      cfg.layers.find((l: any) => l.name === 'dense').inbound_nodes = [[['nope', 0, 0, {}]]];
    }),
    /reads from "nope", which is not a layer of the model/,
  );
  rejects(
    variant((cfg) => {
      cfg.layers.find((l: any) => l.name === 'add').inbound_nodes = [];
    }),
    /layer "add" \(Add\) is not connected to anything/,
  );
});
