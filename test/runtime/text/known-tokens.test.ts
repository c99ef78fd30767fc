/**
 * The out-of-vocabulary rate from token hashes (what the server's drift statistics use)
 * against the exact vocabulary lookup the training profile was built with.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadImdb } from '../../../src/ml/data/imdb.js';
import { hashTokens } from '../../../src/runtime/text/features.js';
import { KerasWordIndex, OOV_INDEX } from '../../../src/runtime/text/keras-word-index.js';
import { KnownTokenHashes } from '../../../src/runtime/text/known-tokens.js';
import { tokenize } from '../../../src/runtime/text/tokenizer.js';
import { SAMPLE_ARCHIVE } from '../../ml/data/fixtures.js';

describe('KnownTokenHashes', () => {
  it('holds exactly the words it was built from (with a zero hash kept aside)', () => {
    const seed = 7;
    const words = Array.from({ length: 5000 }, (_, i) => `word${i}`);
    const known = KnownTokenHashes.of(words, seed);
    assert.equal(hashTokens(['word1'], seed).length, 1);
    assert.equal(known.countUnknown(hashTokens(words, seed)), 0);
    const strangers = Array.from({ length: 5000 }, (_, i) => `other${i}`);
    assert.equal(known.countUnknown(hashTokens(strangers, seed)), 5000);
    const empty = KnownTokenHashes.of([], seed);
    assert.equal(empty.has(0), false);
    assert.equal(empty.has(12345), false);
  });

  it('gives the OOV rate of the exact vocabulary lookup on real reviews, numWords applied', async () => {
    const reviews = (await loadImdb(SAMPLE_ARCHIVE, { env: {} })).map((r) => r.text);
    const vocabulary = KerasWordIndex.fromTexts(reviews.slice(0, 500), { numWords: 2000 });
    const seed = 0x1ed9e;
    const known = KnownTokenHashes.of(vocabulary.knownWords(), seed);
    let tokensSeen = 0;
    for (const text of reviews.slice(500, 900)) {
      const tokens = tokenize(text);
      const exact = tokens.filter((t) => vocabulary.indexOf(t) === OOV_INDEX).length;
      assert.equal(known.countUnknown(hashTokens(tokens, seed)), exact, text.slice(0, 60));
      tokensSeen += tokens.length;
    }
    assert.ok(tokensSeen > 50_000);
  });
});
