/**
 * Metrics and params as flat maps, and the one comparison every diff command uses
 * (`ledge metrics diff`, `ledge runs diff`). Pure: reading files, git and the cache happens in
 * the callers (metrics-files.ts, run-records.ts).
 *
 *     flatten({train: {loss: 0.3, acc: 0.9}})  →  {'train.loss': 0.3, 'train.acc': 0.9}
 */
import { LedgeError } from '../core/errors.js';

/** Dotted keys (`train.epochs`) to leaf values: numbers, strings, booleans, null, arrays. */
export type FlatValues = Record<string, unknown>;

export type Change = 'added' | 'removed' | 'changed' | 'unchanged';

/** One key compared: absent sides are left out (`old` of an added key, `new` of a removed one). */
export interface DiffRow {
  key: string;
  old?: unknown;
  new?: unknown;
  change: Change;
  /** `new - old` when both are numbers. */
  delta?: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Nested objects become dotted keys; arrays and scalars are leaves; empty objects vanish. */
export function flatten(value: Record<string, unknown>, prefix = ''): FlatValues {
  const flat: FlatValues = {};
  for (const [key, child] of Object.entries(value)) {
    const dotted = prefix ? `${prefix}.${key}` : key;
    if (isPlainObject(child)) Object.assign(flat, flatten(child, dotted));
    else flat[dotted] = child;
  }
  return flat;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b);
}

/** `b - a` without float noise in the last digits (0.92 - 0.88 is 0.04, not 0.040000000000000036). */
function difference(a: number, b: number): number {
  return Number((b - a).toPrecision(12));
}

/**
 * Compares two flat maps key by key, sorted by key. Unchanged keys are left out unless `all`.
 */
export function diffFlat(old: FlatValues, next: FlatValues, options: { all?: boolean } = {}): DiffRow[] {
  const keys = [...new Set([...Object.keys(old), ...Object.keys(next)])].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const rows: DiffRow[] = [];
  for (const key of keys) {
    const inOld = Object.hasOwn(old, key);
    const inNew = Object.hasOwn(next, key);
    const a = old[key];
    const b = next[key];
    if (!inOld) rows.push({ key, new: b, change: 'added' });
    else if (!inNew) rows.push({ key, old: a, change: 'removed' });
    else {
      const change: Change = sameValue(a, b) ? 'unchanged' : 'changed';
      if (change === 'unchanged' && !options.all) continue;
      const row: DiffRow = { key, old: a, new: b, change };
      if (typeof a === 'number' && typeof b === 'number') row.delta = difference(a, b);
      rows.push(row);
    }
  }
  return rows;
}

/** A metrics file's text as the JSON object it must hold (nested objects allowed). */
export function parseMetricsObject(text: string, shownAs: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // V8 quotes the whole text after the reason (newlines included): keep the reason only.
    const reason = (error as Error).message.replace(/, ".*$/s, '').replace(/\s+/g, ' ');
    throw new LedgeError('unreadable', `${shownAs} is not valid JSON: ${reason}`, {
      hint: 'metrics files hold one JSON object, e.g. {"accuracy": 0.91}',
      cause: error,
    });
  }
  if (!isPlainObject(value)) {
    const what = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;
    throw new LedgeError('unreadable', `${shownAs} holds ${what}, not a JSON object`, {
      hint: 'metrics files hold one JSON object, e.g. {"accuracy": 0.91}',
    });
  }
  return value;
}

/** A metrics file's values as dotted keys. */
export function parseMetrics(text: string, shownAs: string): FlatValues {
  return flatten(parseMetricsObject(text, shownAs));
}

/** A metrics file's values, or undefined when the file does not exist. */
export interface MetricsOfFile {
  path: string;
  values: FlatValues | undefined;
}

/** A compared key of one metrics file. */
export interface MetricsDiffRow extends DiffRow {
  path: string;
}

/**
 * Compares metrics files by path (a file missing on one side counts as empty there), in the
 * order of `next` and then of paths only in `old`.
 */
export function diffMetricsFiles(
  old: MetricsOfFile[],
  next: MetricsOfFile[],
  options: { all?: boolean } = {},
): MetricsDiffRow[] {
  const oldByPath = new Map(old.map((file) => [file.path, file.values]));
  const paths = [...new Set([...next.map((file) => file.path), ...old.map((file) => file.path)])];
  const nextByPath = new Map(next.map((file) => [file.path, file.values]));
  return paths.flatMap((path) =>
    diffFlat(oldByPath.get(path) ?? {}, nextByPath.get(path) ?? {}, options).map((row) => ({
      path,
      ...row,
    })),
  );
}
