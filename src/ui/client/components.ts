/** Pieces every page uses: tables with headers, status badges, empty and error states. */
import { type Child, type Elem, h } from './dom.js';
import { formatValue } from './format.js';

/** A table with a caption and column headers; `numeric` columns are right-aligned. */
export function dataTable(options: {
  caption: string;
  headers: string[];
  rows: Child[][];
  numeric?: number[];
  className?: string;
  /** For tables right under a heading that says the same: the caption is for screen readers. */
  hideCaption?: boolean;
  rowClass?: (index: number) => string | undefined;
}): Elem {
  const numeric = new Set(options.numeric ?? []);
  return h(
    'table',
    { class: options.className ?? 'data' },
    h('caption', { class: options.hideCaption ? 'visually-hidden' : undefined }, options.caption),
    h('thead', {}, h('tr', {}, ...options.headers.map((title) => h('th', { scope: 'col' }, title)))),
    h(
      'tbody',
      {},
      ...options.rows.map((cells, i) =>
        h(
          'tr',
          { class: options.rowClass?.(i) },
          ...cells.map((cell, c) => h('td', { class: numeric.has(c) ? 'num' : undefined }, cell)),
        ),
      ),
    ),
  );
}

/** Key/value rows (params, metrics): a key column as row headers. */
export function valuesTable(caption: string, values: Record<string, unknown>, empty: string): Elem {
  const keys = Object.keys(values).sort();
  if (keys.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'table',
    { class: 'data values' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Value'))),
    h(
      'tbody',
      {},
      ...keys.map((key) =>
        h('tr', {}, h('th', { scope: 'row' }, key), h('td', {}, formatValue(values[key]))),
      ),
    ),
  );
}

/** A definition list from label/value pairs (values left out when undefined). */
export function facts(pairs: [string, Child][]): Elem {
  return h(
    'dl',
    { class: 'facts' },
    ...pairs.flatMap(([term, value]) => (value === undefined ? [] : [h('dt', {}, term), h('dd', {}, value)])),
  );
}

export function statusBadge(status: string): Elem {
  return h('span', { class: `status status-${status.replace(/[^a-z]/g, '')}` }, status);
}

export function emptyState(text: string, ...more: Child[]): Elem {
  return h('div', { class: 'empty-state' }, h('p', {}, text), ...more);
}

export function errorBox(message: string): Elem {
  return h('p', { class: 'error', role: 'alert' }, message);
}

export function link(href: string, ...children: Child[]): Elem {
  return h('a', { href }, ...children);
}

/** A page heading that takes focus when the page changes (for keyboard and screen readers). */
export function pageHeading(text: string): Elem {
  return h('h2', { tabindex: -1, class: 'page-heading' }, text);
}
