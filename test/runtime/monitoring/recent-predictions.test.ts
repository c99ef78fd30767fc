/**
 * The recent predictions feedback joins labels to: lookups by id, eviction oldest first, reused
 * ids, expiry, and the open-addressing index staying consistent through many evictions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecentPredictions } from '../../../src/runtime/monitoring/recent-predictions.js';

describe('RecentPredictions', () => {
  it('finds what it remembers, forgets the oldest beyond its bound, and expires by age', () => {
    const recent = new RecentPredictions<string>({ maxEntries: 3, maxAgeSeconds: 10 });
    recent.add('a', 'm@1', 'pos', 1000);
    recent.add('b', 'm@1', 'neg', 2000);
    recent.add('c', 'm@2', 'pos', 3000);
    assert.equal(recent.size, 3);
    assert.deepEqual(
      { ...recent.get('b', 3000), slot: undefined },
      { series: 'm@1', label: 'neg', at: 2000, outcome: undefined, slot: undefined },
    );
    recent.add('d', 'm@2', 'neg', 4000);
    assert.equal(recent.get('a', 4000), undefined, 'evicted');
    assert.equal(recent.get('d', 4000)?.series, 'm@2');
    assert.equal(recent.get('nope', 4000), undefined);
    assert.equal(recent.get('b', 12_001), undefined, 'too old for a label');
    recent.expire(13_500);
    assert.equal(recent.size, 1);
    assert.equal(recent.get('d', 13_500)?.label, 'neg');
  });

  it('points a reused id at its latest prediction, and evicting the old one keeps the new', () => {
    const recent = new RecentPredictions<string>({ maxEntries: 3, maxAgeSeconds: 60 });
    recent.add('x', 's', 'pos', 1);
    recent.add('y', 's', 'pos', 2);
    recent.add('x', 's', 'neg', 3);
    assert.equal(recent.size, 2);
    assert.equal(recent.get('x', 3)?.label, 'neg');
    recent.add('z', 's', 'pos', 4); // evicts the first 'x' slot: the id now lives in a later one
    assert.equal(recent.get('x', 4)?.label, 'neg');
    assert.equal(recent.get('y', 4)?.label, 'pos');
  });

  it('keeps outcomes for labelled slots only until the slot is reused', () => {
    const recent = new RecentPredictions<string>({ maxEntries: 2, maxAgeSeconds: 60 });
    recent.add('p', 's', 'pos', 1);
    const entry = recent.get('p', 1)!;
    recent.setOutcome(entry.slot, { at: 1, correct: true, inWindow: true });
    assert.equal(recent.get('p', 1)?.outcome?.correct, true);
    recent.add('q', 's', 'pos', 2);
    recent.add('r', 's', 'pos', 3); // reuses p's slot
    assert.equal(recent.get('p', 3), undefined);
    assert.equal(recent.get('r', 3)?.outcome, undefined);
  });

  it('stays exact through 200,000 predictions in a ring of 1,000 (index deletions included)', () => {
    const recent = new RecentPredictions<number>({ maxEntries: 1000, maxAgeSeconds: 1e9 });
    for (let i = 0; i < 200_000; i++) {
      recent.add(`id-${i}`, i % 7, i % 2 ? 'pos' : 'neg', i);
      if (i % 997 === 0 && i >= 1000) {
        assert.equal(recent.size, 1000);
        assert.equal(recent.get(`id-${i - 1000}`, i), undefined, `id-${i - 1000} evicted`);
        for (let k = i - 999; k <= i; k += 37) {
          const entry = recent.get(`id-${k}`, i);
          assert.ok(entry, `id-${k} remembered at ${i}`);
          assert.equal(entry.series, k % 7);
          assert.equal(entry.at, k);
        }
      }
    }
  });
});
