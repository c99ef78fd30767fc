/**
 * A deterministic, stratified train/validation split. Within each label, items are ranked by
 * a seeded 32-bit hash of (seed, label, id), ties broken by id, and the first
 * round(n × validationFraction) go to validation. So the split depends only on the seed and the
 * set of (label, id) keys: not on the input order, not on Math.random, and an item keeps its
 * side as long as its label's size does not move the cut past it.
 */
import { LedgeError } from '../../core/errors.js';

export interface SplitOptions {
  /** Share of each label held out for validation, in [0, 1) (default 0.2). */
  validationFraction?: number | undefined;
  /** Any 32-bit unsigned integer (default 0). */
  seed?: number | undefined;
}

export interface TrainValidationSplit<T> {
  /** Sorted by (label, id), as is `validation`. */
  train: T[];
  validation: T[];
}

/** What the split keys on: a label to stratify by and an id unique within the label. */
export interface SplitItem {
  label: string;
  id: number;
}

export const DEFAULT_VALIDATION_FRACTION = 0.2;

export function splitTrainValidation<T extends SplitItem>(
  items: readonly T[],
  options: SplitOptions = {},
): TrainValidationSplit<T> {
  const fraction = options.validationFraction ?? DEFAULT_VALIDATION_FRACTION;
  if (!(fraction >= 0 && fraction < 1)) {
    throw new LedgeError('usage', `validationFraction must be in [0, 1), not ${fraction}`, {
      hint: 'e.g. 0.2 holds out a fifth of each label',
    });
  }
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new LedgeError('usage', `seed must be an integer in [0, 2^32), not ${seed}`);
  }
  const byLabel = new Map<string, T[]>();
  for (const item of items) {
    if (!Number.isSafeInteger(item.id)) {
      throw new LedgeError('usage', `split: item id ${item.id} (label '${item.label}') is not an integer`);
    }
    const group = byLabel.get(item.label);
    if (group) group.push(item);
    else byLabel.set(item.label, [item]);
  }
  const train: T[] = [];
  const validation: T[] = [];
  for (const label of [...byLabel.keys()].sort(compareStrings)) {
    const group = byLabel.get(label)!;
    const labelKey = mix32(seed ^ hashString(label));
    const ranked = group
      .map((item) => ({ item, rank: mix32(labelKey ^ mix32(lowBits(item.id)) ^ highBits(item.id)) }))
      .sort((a, b) => a.rank - b.rank || a.item.id - b.item.id);
    for (let i = 1; i < ranked.length; i++) {
      if (ranked[i]!.item.id === ranked[i - 1]!.item.id) {
        throw new LedgeError('usage', `split: two items with label '${label}' and id ${ranked[i]!.item.id}`, {
          hint: 'ids must be unique within a label; split one dataset split (e.g. train) at a time',
        });
      }
    }
    const cut = Math.round(group.length * fraction);
    ranked.forEach(({ item }, i) => {
      (i < cut ? validation : train).push(item);
    });
  }
  const byKey = (a: T, b: T) => compareStrings(a.label, b.label) || a.id - b.id;
  return { train: train.sort(byKey), validation: validation.sort(byKey) };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A 32-bit integer finalizer (the `lowbias32` mix): every input bit affects every output bit. */
function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over UTF-16 code units. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function lowBits(id: number): number {
  return id >>> 0;
}

function highBits(id: number): number {
  return Math.floor(id / 0x100000000) >>> 0;
}
