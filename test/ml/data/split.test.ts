/** The seeded, stratified train/validation split. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadImdb } from '../../../src/ml/data/imdb.js';
import { splitTrainValidation } from '../../../src/ml/data/split.js';
import { SAMPLE_ARCHIVE } from './fixtures.js';

interface Item {
  label: string;
  id: number;
}

function items(perLabel: number): Item[] {
  return ['neg', 'pos'].flatMap((label) => Array.from({ length: perLabel }, (_, id) => ({ label, id })));
}

const keys = (list: Item[]) => list.map((i) => `${i.label}/${i.id}`);

/** A seeded Fisher–Yates shuffle, only to scramble the input. */
function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('train/validation split', () => {
  it('holds out the fraction of each label, sorted, and partitions the input', () => {
    const all = items(1000);
    const { train, validation } = splitTrainValidation(all, { seed: 7 });
    assert.equal(validation.filter((i) => i.label === 'neg').length, 200);
    assert.equal(validation.filter((i) => i.label === 'pos').length, 200);
    assert.equal(train.length, 1600);
    assert.deepEqual([...keys(train), ...keys(validation)].sort(), keys(all).sort());
    for (const part of [train, validation]) {
      assert.deepEqual(
        keys(part),
        keys([...part].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : a.id - b.id))),
      );
    }
  });

  it('depends on the seed and the items, never on their order', () => {
    const all = items(500);
    const a = splitTrainValidation(all, { seed: 42, validationFraction: 0.25 });
    const b = splitTrainValidation(shuffled(all, 3), { seed: 42, validationFraction: 0.25 });
    assert.deepEqual(keys(a.validation), keys(b.validation));
    assert.deepEqual(keys(a.train), keys(b.train));
    const c = splitTrainValidation(all, { seed: 43, validationFraction: 0.25 });
    assert.notDeepEqual(keys(a.validation), keys(c.validation));
    // Spread over the ids, not a block of them.
    const ids = a.validation.filter((i) => i.label === 'pos').map((i) => i.id);
    assert.ok(Math.min(...ids) < 50 && Math.max(...ids) > 450, `${Math.min(...ids)}..${Math.max(...ids)}`);
    // Labels are split independently: pos and neg do not hold out the same ids.
    const negIds = new Set(a.validation.filter((i) => i.label === 'neg').map((i) => i.id));
    assert.ok(ids.filter((id) => negIds.has(id)).length < ids.length / 2);
  });

  it('splits the IMDB sample 80/20 per label by default', async () => {
    const reviews = await loadImdb(SAMPLE_ARCHIVE, { env: {} });
    const { train, validation } = splitTrainValidation(reviews);
    assert.deepEqual(
      [train.length, validation.length, validation.filter((r) => r.label === 'pos').length],
      [1600, 400, 200],
    );
    assert.deepEqual(splitTrainValidation(reviews.toReversed()).validation, validation);
  });

  it('allows no validation, and refuses bad options and duplicate ids', () => {
    assert.equal(splitTrainValidation(items(10), { validationFraction: 0 }).validation.length, 0);
    assert.throws(
      () => splitTrainValidation(items(10), { validationFraction: 1 }),
      /validationFraction must be in \[0, 1\)/,
    );
    assert.throws(
      () => splitTrainValidation(items(10), { validationFraction: Number.NaN }),
      /validationFraction/,
    );
    assert.throws(() => splitTrainValidation(items(10), { seed: -1 }), /seed must be an integer/);
    assert.throws(
      () => splitTrainValidation([...items(3), { label: 'pos', id: 1 }]),
      /two items with label 'pos' and id 1/,
    );
    assert.throws(() => splitTrainValidation([{ label: 'pos', id: 1.5 }]), /is not an integer/);
  });
});
