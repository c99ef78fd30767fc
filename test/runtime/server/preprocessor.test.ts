/**
 * Preprocessing threads: the same feature ids and statistics as on the main thread, the texts of
 * one event-loop turn in one message, and a thread that dies costs no request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadImdb } from '../../../src/ml/data/imdb.js';
import {
  createPreprocessor,
  INLINE_PREPROCESSOR,
  type Preprocessor,
  ThreadedPreprocessor,
} from '../../../src/runtime/server/preprocessor.js';
import { loadTextModel, type ServableModel } from '../../../src/runtime/server/servable-model.js';
import { SAMPLE_ARCHIVE } from '../../ml/data/fixtures.js';
import { type TrainedModel, trainTestModel } from './server-fixture.js';

const silent = { info() {}, error() {} };

describe('the preprocessor', () => {
  let trained: TrainedModel;
  let model: ServableModel;
  let reviews: string[];

  before(async () => {
    trained = await trainTestModel();
    model = await loadTextModel(trained.model);
    reviews = (await loadImdb(SAMPLE_ARCHIVE, { env: {} })).slice(0, 600).map((r) => r.text);
  });
  after(async () => {
    await model?.close();
    trained?.cleanup();
  });

  const same = async (threaded: Preprocessor, texts: string[], withStatistics: boolean) => {
    const [a, b] = await Promise.all([
      threaded.prepare(model, texts, withStatistics),
      INLINE_PREPROCESSOR.prepare(model, texts, withStatistics),
    ]);
    assert.equal(a.ids.length, texts.length);
    for (let i = 0; i < texts.length; i++) {
      assert.deepEqual(Array.from(a.ids[i]!), Array.from(b.ids[i]!), `ids of text ${i}`);
      assert.equal(a.tokens[i], b.tokens[i]);
      assert.equal(a.oovRates[i], b.oovRates[i]);
    }
  };

  it('on threads gives the ids and statistics of the main thread, requests of one turn batched', async () => {
    const threaded = createPreprocessor(2, silent);
    try {
      assert.equal(threaded.threads, 2);
      await same(threaded, reviews.slice(0, 300), true);
      await same(threaded, reviews.slice(300, 400), false);
      // Many requests in one turn, interleaved: each gets its own texts back.
      const requests = Array.from({ length: 50 }, (_, i) => reviews.slice(i * 5, i * 5 + 1 + (i % 5)));
      const results = await Promise.all(requests.map((texts) => threaded.prepare(model, texts, true)));
      for (const [i, result] of results.entries()) {
        const expected = await INLINE_PREPROCESSOR.prepare(model, requests[i]!, true);
        assert.deepEqual(
          result.ids.map((ids) => Array.from(ids)),
          expected.ids.map((ids) => Array.from(ids)),
        );
      }
    } finally {
      await threaded.close();
    }
  });

  it('redoes the work of a thread that died on the main thread, and keeps answering', async () => {
    const errors: string[] = [];
    const threaded = createPreprocessor(1, { info() {}, error: (msg) => errors.push(msg) });
    assert.ok(threaded instanceof ThreadedPreprocessor);
    try {
      await same(threaded, reviews.slice(0, 10), true);
      const pending = threaded.prepare(model, reviews.slice(10, 200), true);
      await threaded.thread(0).terminate();
      const result = await pending;
      assert.equal(result.ids.length, 190);
      await same(threaded, reviews.slice(200, 260), true);
      assert.equal(errors.length, 1, 'one error line');
      assert.match(errors[0]!, /preprocessing continues on the main thread/);
    } finally {
      await threaded.close();
    }
  });

  it('refuses a negative number of threads; 0 is the main thread', () => {
    assert.equal(createPreprocessor(0, silent), INLINE_PREPROCESSOR);
    assert.throws(() => createPreprocessor(-1, silent), /whole number/);
  });
});
