/**
 * The slice of the browser's DOM the dashboard uses, typed here (the project compiles without
 * the DOM library, and adding it would change the globals every other component sees), and
 * `h`/`svg` to build elements. Text only ever enters the page as text nodes or attribute
 * values, never as HTML: a run named `<script>` shows as those characters.
 */

export interface DomEvent {
  readonly target: unknown;
  preventDefault(): void;
}

export interface Elem {
  textContent: string | null;
  hidden: boolean;
  readonly tagName: string;
  setAttribute(name: string, value: string): void;
  removeAttribute(name: string): void;
  getAttribute(name: string): string | null;
  append(...children: (Elem | string)[]): void;
  replaceChildren(...children: (Elem | string)[]): void;
  addEventListener(type: string, listener: (event: DomEvent) => void): void;
  querySelector(selector: string): Elem | null;
  querySelectorAll(selector: string): ArrayLike<Elem>;
  focus(options?: { preventScroll?: boolean }): void;
}

/** `<input>`, `<select>`, `<button>`: what forms read and set. */
export interface FormElem extends Elem {
  value: string;
  checked: boolean;
  disabled: boolean;
}

interface Doc {
  title: string;
  createElement(tag: string): Elem;
  createElementNS(namespace: string, tag: string): Elem;
  getElementById(id: string): Elem | null;
}

interface Win {
  location: { hash: string };
  addEventListener(type: 'hashchange', listener: () => void): void;
}

const browser = globalThis as unknown as { document: Doc; window: Win };

export const doc: Doc = browser.document;
export const win: Win = browser.window;

export type Attrs = Record<string, string | number | boolean | null | undefined>;
export type Child = Elem | string | number | null | undefined | false | Child[];

function fill(element: Elem, attrs: Attrs | undefined, children: Child[]): Elem {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  const add = (child: Child) => {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(add);
    else element.append(typeof child === 'number' ? String(child) : child);
  };
  children.forEach(add);
  return element;
}

/** An HTML element: `h('td', {class: 'num'}, '0.91')`. Strings become text nodes. */
export function h(tag: string, attrs?: Attrs, ...children: Child[]): Elem {
  return fill(doc.createElement(tag), attrs, children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element: `svg('rect', {x: 0, y: 0, width: 10, height: 4})`. */
export function svg(tag: string, attrs?: Attrs, ...children: Child[]): Elem {
  return fill(doc.createElementNS(SVG_NS, tag), attrs, children);
}

/** A form control found by id (throws when the page does not have it: a bug). */
export function control(root: Elem, selector: string): FormElem {
  const found = root.querySelector(selector);
  if (!found) throw new Error(`missing ${selector}`);
  return found as FormElem;
}
