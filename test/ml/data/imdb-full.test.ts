/**
 * The full 25,000-review training archive, streamed end to end (gunzip + tar parse, nothing
 * extracted). The archive lives outside the repository, at ../shared/datasets/imdb/; CI has it
 * there too, so a missing file is a failure, not a skip.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { it } from 'node:test';
import { readImdb } from '../../../src/ml/data/imdb.js';
import { FULL_TRAIN_ARCHIVE } from './fixtures.js';

it('streams the full training archive: 12,500 pos and 12,500 neg reviews', async (t) => {
  assert.ok(
    fs.existsSync(FULL_TRAIN_ARCHIVE),
    `the full IMDB training archive is missing: expected ${FULL_TRAIN_ARCHIVE} (see ../shared/datasets/imdb/README.md)`,
  );
  const started = process.hrtime.bigint();
  const counts = { pos: 0, neg: 0 };
  const ids = { pos: new Set<number>(), neg: new Set<number>() };
  let chars = 0;
  for await (const review of readImdb(FULL_TRAIN_ARCHIVE, { env: {} })) {
    assert.equal(review.split, 'train');
    counts[review.label]++;
    ids[review.label].add(review.id);
    chars += review.text.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.deepEqual(counts, { pos: 12_500, neg: 12_500 });
  assert.equal(ids.pos.size, 12_500);
  assert.equal(Math.max(...ids.neg), 12_499);
  const megabytes = fs.statSync(FULL_TRAIN_ARCHIVE).size / 1e6;
  t.diagnostic(
    `streamed ${megabytes.toFixed(1)} MB compressed, 25,000 reviews (${(chars / 1e6).toFixed(1)} M chars) in ${seconds.toFixed(2)} s`,
  );
  assert.ok(seconds < 15, `streaming took ${seconds.toFixed(1)} s`);
});
