import assert from 'node:assert/strict';
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

/**
 * A strict little XML well-formedness check: tags nest and close, attributes are double-quoted and
 * unique, `<` never appears raw and `&` only starts an entity, one root element.
 */
export function assertWellFormed(xml: string): void {
  const token = /<!--[\s\S]*?-->|<(\/?)([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  const entity = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
  const stack: string[] = [];
  let roots = 0;
  let pos = 0;
  for (let m = token.exec(xml); m; m = token.exec(xml)) {
    assert.equal(m.index, pos, `unparsable markup at ${pos}: ${xml.slice(pos, pos + 40)}`);
    pos = token.lastIndex;
    if (m[6]) assert.fail(`raw "<" at ${m.index}: ${xml.slice(m.index, m.index + 40)}`);
    if (m[5] !== undefined) {
      assert.ok(!entity.test(m[5]), `raw "&" in text: ${m[5]}`);
      assert.ok(stack.length > 0 || m[5].trim() === '', `text outside the root: ${m[5]}`);
      continue;
    }
    if (m[0].startsWith('<!--')) continue;
    const [, close, name, attrs, self] = m;
    if (close) {
      assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
      continue;
    }
    const names = [...(attrs ?? '').matchAll(/([A-Za-z_:][\w:.-]*)="([^"]*)"/g)].map((a) => {
      assert.ok(!entity.test(a[2]), `raw "&" in attribute ${a[1]}="${a[2]}"`);
      return a[1];
    });
    assert.equal(new Set(names).size, names.length, `repeated attribute in <${name}>`);
    if (stack.length === 0) roots++;
    if (!self) stack.push(name);
  }
  assert.equal(pos, xml.length, 'trailing markup');
  assert.deepEqual(stack, [], `unclosed: ${stack.join(', ')}`);
  assert.equal(roots, 1, 'exactly one root element');
}
