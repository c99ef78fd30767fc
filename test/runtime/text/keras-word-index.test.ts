/** The Keras `imdb` integer encoding: ranks, reserved indices, numWords, saving, Keras's own word index. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLedgeError } from '../../../src/core/errors.js';
import { loadImdb } from '../../../src/ml/data/imdb.js';
import {
  INDEX_FROM,
  KerasWordIndex,
  OOV_INDEX,
  OOV_TOKEN,
  padSequences,
  START_INDEX,
} from '../../../src/runtime/text/keras-word-index.js';
import { tokenize } from '../../../src/runtime/text/tokenizer.js';
import { SAMPLE_ARCHIVE } from '../../ml/data/fixtures.js';

// Counts: the 4, a 3, cat 2, dog 2 (tie: cat before dog), sat 1, mat 1, on 1.
const texts = ['The cat sat on the mat.', 'A dog, a cat, a DOG!', 'the end<br />the'];

describe('Keras imdb encoding', () => {
  it('ranks words by frequency, ties by the word, and offsets indices by 3', () => {
    const index = KerasWordIndex.fromTexts(texts);
    assert.deepEqual(index.toKerasWordIndex(), {
      the: 1,
      a: 2,
      cat: 3,
      dog: 4,
      '!': 5,
      end: 6,
      mat: 7,
      on: 8,
      sat: 9,
    });
    assert.equal(INDEX_FROM, 3);
    assert.equal(index.indexOf('the'), 4);
    assert.equal(index.indexOf('unicorn'), OOV_INDEX);
    assert.deepEqual(index.encode('The cat and the unicorn'), [START_INDEX, 4, 6, 2, 4, 2]);
    assert.deepEqual(index.encode(''), [1]);
    assert.equal(index.decode([0, 0, 1, 4, 6, 2, 4, 999]), `the cat ${OOV_TOKEN} the ${OOV_TOKEN}`);
    assert.equal(index.decode(new BigInt64Array([1n, 7n, 5n])), 'dog a');
  });

  it('is deterministic whatever the order of the texts', () => {
    const a = KerasWordIndex.fromTexts(texts).toJSON();
    const b = KerasWordIndex.fromTexts([...texts].reverse()).toJSON();
    assert.deepEqual(a, b);
  });

  it('maps indices at or beyond numWords to 2, as Keras does, and keeps only those words', () => {
    const index = KerasWordIndex.fromTexts(texts, { numWords: 6 });
    // Indices 3..5 are kept: the (4), a (5); cat would be 6.
    assert.deepEqual(index.encode('the cat a'), [1, 4, 2, 5]);
    assert.equal(index.size, 2);
    assert.throws(() => KerasWordIndex.fromTexts(texts, { numWords: 3 }), /numWords must be an integer > 3/);
  });

  it('saves and restores itself as JSON', () => {
    const index = KerasWordIndex.fromTexts(texts, { numWords: 10 });
    const json = JSON.parse(JSON.stringify(index));
    assert.deepEqual(json, {
      format: 'keras-imdb-word-index',
      version: 1,
      indexFrom: 3,
      numWords: 10,
      words: ['the', 'a', 'cat', 'dog', '!', 'end'],
    });
    const restored = KerasWordIndex.fromJSON(json);
    for (const text of texts) assert.deepEqual(restored.encode(text), index.encode(text));
    for (const bad of [
      null,
      {},
      { ...json, version: 2 },
      { ...json, words: [1] },
      { ...json, words: ['a', 'a'] },
    ]) {
      assert.throws(
        () => KerasWordIndex.fromJSON(bad),
        (error: unknown) => isLedgeError(error) && /word index/.test(error.message),
      );
    }
  });

  it("accepts Keras's published imdb_word_index.json form, gaps included", () => {
    // The head of keras.datasets.imdb.get_word_index(), with a gap at rank 4.
    const keras = { the: 1, and: 2, a: 3, to: 5, "it's": 6 };
    const index = KerasWordIndex.fromKerasWordIndex(keras);
    // the=4 and=5 a=6 (7 unused: rank 4 is a gap) to=8 it's=9; film, joy and ! are not in it.
    assert.deepEqual(index.encode("The film, and it's a joy!"), [1, 4, 2, 5, 9, 6, 2, 2]);
    assert.equal(index.decode([1, 4, 2, 5, 9, 6, 7]), `the ${OOV_TOKEN} and it's a ${OOV_TOKEN}`);
    assert.deepEqual(index.toKerasWordIndex(), keras);
    assert.deepEqual(KerasWordIndex.fromJSON(index.toJSON()).toKerasWordIndex(), keras);
    assert.deepEqual(KerasWordIndex.fromKerasWordIndex(keras, { numWords: 7 }).encode("a it's"), [1, 6, 2]);
    assert.throws(() => KerasWordIndex.fromKerasWordIndex({ a: 0 }), /'a' has rank 0/);
    assert.throws(() => KerasWordIndex.fromKerasWordIndex({ a: 1, b: 1 }), /rank 1 is given to 'a' and 'b'/);
    assert.throws(() => KerasWordIndex.fromKerasWordIndex([1, 2]), /expected an object/);
  });

  it('round-trips the sample reviews through encode and decode', async () => {
    const reviews = await loadImdb(SAMPLE_ARCHIVE, { env: {} });
    const index = KerasWordIndex.fromTexts(reviews.map((r) => r.text));
    for (const review of reviews.slice(0, 200)) {
      const sequence = index.encode(review.text);
      assert.equal(sequence[0], START_INDEX);
      assert.ok(sequence.slice(1).every((i) => i >= INDEX_FROM));
      assert.equal(index.decode(sequence), tokenize(review.text).join(' '));
    }
    const limited = KerasWordIndex.fromTexts(
      reviews.map((r) => r.text),
      { numWords: 1000 },
    );
    const encoded = reviews.flatMap((r) => limited.encode(r.text));
    assert.ok(encoded.every((i) => i < 1000));
    assert.ok(encoded.includes(OOV_INDEX));
  });

  it("pads and truncates like Keras's pad_sequences", () => {
    const seqs = [
      [1, 5, 6, 7],
      [1, 8],
    ];
    assert.deepEqual(padSequences(seqs, 3), [
      [5, 6, 7],
      [0, 1, 8],
    ]);
    assert.deepEqual(padSequences(seqs, 3, { padding: 'post', truncating: 'post' }), [
      [1, 5, 6],
      [1, 8, 0],
    ]);
    assert.throws(() => padSequences(seqs, 0), /maxLength must be a positive integer/);
  });
});
