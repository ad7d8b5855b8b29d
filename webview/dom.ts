/**
 * The one way the panel builds DOM: `el()` creates an element, sets attributes with setAttribute and
 * children as text nodes, so strings from the result (layer names come from untrusted model files) can
 * never become markup. The only markup strings are the SVG charts, built by charts.ts with every label
 * escaped. No `style` attributes (the CSP forbids inline styles); sizes go through `element.style`.
 */

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K];
export function el(tag: string, attrs?: Attrs | null, ...children: Child[]): HTMLElement;
export function el(tag: string, attrs?: Attrs | null, ...children: Child[]): HTMLElement {
  const e = document.createElement(tag);
  if (attrs) setAttrs(e, attrs);
  append(e, ...children);
  return e;
}

export function setAttrs(e: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'style' || /^on/i.test(k)) throw new Error(`el(): refusing attribute ${k}`);
    if (v == null || v === false) e.removeAttribute(k);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c == null || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces all children of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.textContent = '';
  append(parent, ...children);
}

/**
 * Text with "λ_max"/"λ_min" (any "λ_word") shown as λ with a subscript, built as DOM so the text stays
 * text.
 */
export function subscripted(text: string): Node {
  const f = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(/λ_([A-Za-z]+)/g)) {
    append(f, text.slice(last, m.index), 'λ', el('sub', null, m[1]));
    last = (m.index ?? 0) + m[0].length;
  }
  append(f, text.slice(last));
  return f;
}

/** Parses an SVG string from charts.ts into a node (the string is built with every label escaped). */
export function svgNode(markup: string): Element {
  const doc = new DOMParser().parseFromString(markup, 'image/svg+xml');
  const root = doc.documentElement;
  if (root.nodeName !== 'svg' || doc.getElementsByTagName('parsererror').length) throw new Error('chart markup is not well-formed SVG');
  return document.importNode(root, true);
}

/** Shows or hides an element with the `hidden` attribute. */
export function show(e: Element | null, visible: boolean): void {
  if (!e) return;
  if (visible) e.removeAttribute('hidden');
  else e.setAttribute('hidden', '');
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing from the panel's HTML`);
  return e as T;
}
