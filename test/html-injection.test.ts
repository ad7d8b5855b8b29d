/**
 * A layer named `<img src=x onerror=alert(1)>` (from an untrusted model file, through the real engine)
 * shows as text in the panel's render functions, the hover's Markdown and the Markdown report: no element
 * is made from it, and Markdown renderers — even markdown-it with raw HTML enabled, more permissive than
 * VS Code's hover or preview — turn it into escaped text.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from '../extension/engine/inspect.js';
import type { InspectResult, TensorArrays } from '../extension/protocol.js';
import { layerHoverText } from '../extension/host/hoverText.js';
import { markdownReport } from '../extension/report/markdown.js';
import { writeModel } from './modelWriter.js';

const EVIL = '<img src=x onerror=alert(1)>';
const LINK_BREAKER = 'a) [x](command:workbench.action.terminal.new) (b';
const MarkdownIt = createRequire(__filename)('markdown-it') as new (o: object) => { render(s: string): string; parseInline(s: string, env: object): Array<{ children: Array<{ type: string; attrGet(n: string): string | null; content: string }> }> };
const md = new MarkdownIt({ html: true, linkify: true });

let result: InspectResult;
before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cl-evil-'));
  const modelPath = writeModel(dir, { inputs: 2, layers: [{ name: EVIL, units: 3, activation: 'tanh' }, { name: LINK_BREAKER, units: 2, activation: 'softmax' }] });
  result = await inspect({ modelPath, dataPath: null, backend: 'cpu', samples: 4, top: 1, bottom: 1, syntheticExamples: 8 });
  result.model.name = '<script>alert(1)</script>';
  result.layers[1].className = '<b onmouseover=alert(2)>Dense</b>';
});

/** Raw HTML elements or handlers in rendered HTML (escaped text like &lt;img is fine). */
function assertNoMarkup(html: string, where: string): void {
  assert.ok(!/<(img|script|b)\b/i.test(html), `${where}: an element was made from a name:\n${html}`);
  assert.ok(!/\son\w+=/i.test(html.replace(/&lt;[^]*?&gt;/g, '')), `${where}: an event handler attribute outside escaped text`);
}

test('the engine keeps the hostile layer names as they are in the file', () => {
  assert.deepEqual(result.layers.map((l) => l.name), [EVIL, LINK_BREAKER]);
});

test('hover: the names render as text, and the link carries the exact name to the one allowed command', () => {
  for (const l of result.layers) {
    const text = layerHoverText(l);
    const html = md.render(text);
    assertNoMarkup(html, `hover of ${l.name}`);
    const links = md.parseInline(text.split('\n').at(-1)!, {})[0].children.filter((t) => t.type === 'link_open');
    assert.equal(links.length, 1, `one link only: ${text.split('\n').at(-1)}`);
    const href = links[0].attrGet('href')!;
    assert.match(href, /^command:curvatureLens\.showLayer\?/);
    assert.deepEqual(JSON.parse(decodeURIComponent(href.slice(href.indexOf('?') + 1))), [l.name]);
  }
  assert.ok(md.render(layerHoverText(result.layers[0])).includes('&lt;img src=x onerror=alert(1)&gt;'), 'the name is shown, as text');
});

test('Markdown report: the names render as text (markdown-it with raw HTML on)', () => {
  const html = md.render(markdownReport(result));
  assertNoMarkup(html, 'report');
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
});

// ---- the panel: its render functions against a minimal DOM that records what is made ------------------

interface FakeNode {
  nodeType: number;
  parent: FakeElement | null;
}
class FakeText implements FakeNode {
  nodeType = 3;
  parent: FakeElement | null = null;
  constructor(public data: string) {}
}
class FakeElement implements FakeNode {
  nodeType = 1;
  parent: FakeElement | null = null;
  children: Array<FakeElement | FakeText> = [];
  attributes = new Map<string, string>();
  dataset: Record<string, string> = {};
  style: Record<string, string> = {};
  constructor(public tagName: string) {}
  setAttribute(k: string, v: string) {
    this.attributes.set(k, String(v));
  }
  removeAttribute(k: string) {
    this.attributes.delete(k);
  }
  getAttribute(k: string) {
    return this.attributes.get(k) ?? null;
  }
  appendChild(c: FakeElement | FakeText) {
    if (c instanceof FakeElement && c.tagName === '#fragment') {
      for (const k of c.children) this.appendChild(k);
      c.children = [];
      return c;
    }
    c.parent = this;
    this.children.push(c);
    return c;
  }
  append(...cs: Array<FakeElement | FakeText | string>) {
    for (const c of cs) this.appendChild(typeof c === 'string' ? new FakeText(c) : c);
  }
  set textContent(s: string) {
    this.children = s ? [new FakeText(s)] : [];
  }
  get textContent(): string {
    return this.children.map((c) => (c instanceof FakeText ? c.data : c.textContent)).join('');
  }
  set innerHTML(_s: string) {
    throw new Error('innerHTML was set: markup from a string');
  }
  insertAdjacentHTML() {
    throw new Error('insertAdjacentHTML was called: markup from a string');
  }
  /** What a browser's outerHTML gives: text and attribute values escaped. */
  html(): string {
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const attrs = [...this.attributes].map(([k, v]) => ` ${k}="${esc(v)}"`).join('');
    return `<${this.tagName}${attrs}>${this.children.map((c) => (c instanceof FakeText ? esc(c.data) : c.html())).join('')}</${this.tagName}>`;
  }
}

const created: string[] = [];
const texts: string[] = [];
function installFakeDom(): void {
  (globalThis as Record<string, unknown>).document = {
    createElement: (t: string) => (created.push(t.toLowerCase()), new FakeElement(t.toLowerCase())),
    createElementNS: (_ns: string, t: string) => (created.push(t.toLowerCase()), new FakeElement(t.toLowerCase())),
    createTextNode: (s: string) => (texts.push(s), new FakeText(s)),
    createDocumentFragment: () => new FakeElement('#fragment'),
  };
}

test('panel: layer sections, the summary and the error box put the names in text nodes only', async () => {
  installFakeDom();
  const { layerSection, renderSummary, renderError } = await import('../webview/render.js');
  const tensors: TensorArrays[] = result.layers.flatMap((l) => l.tensors.map((t) => ({ layer: l.name, name: t.name, shape: t.shape, values: Float32Array.from(t.diagonal.values ?? []), stderr: null })));
  const heatmaps = { figure: (t: { name: string }) => (document.createElement('figure') as unknown as HTMLElement).appendChild(document.createTextNode(t.name)).parentNode ?? document.createElement('figure') };
  const root = new FakeElement('main');
  for (const l of result.layers) {
    root.appendChild(layerSection(l, new Map(tensors.map((t) => [t.name, t])), heatmaps as never) as unknown as FakeElement);
  }
  const summary = new FakeElement('div');
  renderSummary(summary as unknown as HTMLElement, result, tensors);
  const kind = new FakeElement('div');
  const message = new FakeElement('pre');
  renderError(kind as unknown as HTMLElement, message as unknown as HTMLElement, { kind: 'input', message: `model.json: layer "${EVIL}" (Dense): this layer class is not supported` });
  for (const [where, e] of [['layers', root], ['summary', summary], ['error', message]] as const) assertNoMarkup(e.html(), where);
  assert.ok(!created.some((t) => ['img', 'script', 'b', 'iframe'].includes(t)), `elements made: ${[...new Set(created)]}`);
  assert.ok(texts.includes(EVIL), 'the layer name is shown as a text node');
  assert.ok(root.html().includes('data-layer="&lt;img src=x onerror=alert(1)&gt;"'), 'and as an attribute value');
});

test('panel sources build no markup from strings except the escaped SVG charts', () => {
  for (const f of readdirSync('webview').filter((n) => n.endsWith('.ts'))) {
    const src = readFileSync(join('webview', f), 'utf8');
    assert.ok(!/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(/.test(src), `${f} builds markup or code from a string`);
  }
});
