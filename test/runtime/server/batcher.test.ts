/**
 * The dynamic batcher in memory, with a runner that records its calls: merging, the size bound,
 * splitting, the delay, batching off, failures.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Batcher } from '../../../src/runtime/server/batcher.js';

/** A runner whose output for a document is its first id (and the id negated). */
function recordingRunner(delayMs = 0) {
  const calls: number[] = [];
  const runner = async (docs: Int32Array[]) => {
    calls.push(docs.length);
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    const first = Float32Array.from(docs, (d) => d[0] ?? -1);
    return [first, first.map((x) => -x)];
  };
  return { calls, runner };
}

const doc = (id: number) => Int32Array.of(id, id + 1);

describe('Batcher', () => {
  it('merges concurrent requests into one call and hands each its own results', async () => {
    const { calls, runner } = recordingRunner();
    const sizes: number[] = [];
    const batcher = new Batcher(runner, { maxBatchSize: 64, maxQueueDelayMs: 5 }, (n) => sizes.push(n));
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => batcher.submit([doc(10 * i), doc(10 * i + 1)])),
    );
    assert.deepEqual(calls, [20]);
    assert.deepEqual(sizes, [20]);
    results.forEach((result, i) => {
      assert.deepEqual(Array.from(result.outputs[0]!), [10 * i, 10 * i + 1]);
      assert.deepEqual(Array.from(result.outputs[1]!), [-10 * i, -(10 * i + 1)]);
      assert.ok(result.queueSeconds >= 0 && result.queueSeconds < 1);
    });
  });

  it('by default (delay 0) batches what was submitted in the same event-loop turn, and never waits for more', async () => {
    const { calls, runner } = recordingRunner();
    const batcher = new Batcher(runner);
    assert.equal(batcher.settings.maxQueueDelayMs, 0);
    // Submitted in one turn: one batch, run right after the turn.
    await Promise.all([batcher.submit([doc(1)]), batcher.submit([doc(2)]), batcher.submit([doc(3)])]);
    assert.deepEqual(calls, [3]);
    // A lone request runs at once: no timer (Node's setTimeout waits at least 1 ms).
    const started = performance.now();
    await batcher.submit([doc(4)]);
    assert.ok(performance.now() - started < 50);
    assert.deepEqual(calls, [3, 1]);
    // One submitted in a later turn (after a timer) starts a batch of its own.
    const first = batcher.submit([doc(5)]);
    const later = new Promise<unknown>((resolve) => setTimeout(() => resolve(batcher.submit([doc(6)])), 5));
    await Promise.all([first, later]);
    assert.deepEqual(calls, [3, 1, 1, 1]);
  });

  it('runs a batch as soon as maxBatchSize documents are queued, and never more', async () => {
    const { calls, runner } = recordingRunner();
    const batcher = new Batcher(runner, { maxBatchSize: 4, maxQueueDelayMs: 10_000 });
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => batcher.submit([doc(i)])));
    assert.ok(performance.now() - started < 5000, 'full batches do not wait for the delay');
    assert.deepEqual(calls, [4, 4]);
    assert.deepEqual(
      results.map((r) => r.outputs[0]![0]),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
  });

  it('splits a request larger than maxBatchSize and reassembles it in order', async () => {
    const { calls, runner } = recordingRunner(1);
    const batcher = new Batcher(runner, { maxBatchSize: 3, maxQueueDelayMs: 1 });
    const [small, big] = await Promise.all([
      batcher.submit([doc(100)]),
      batcher.submit(Array.from({ length: 7 }, (_, i) => doc(i))),
    ]);
    assert.ok(calls.every((n) => n <= 3));
    assert.equal(
      calls.reduce((a, b) => a + b, 0),
      8,
    );
    assert.deepEqual(Array.from(small!.outputs[0]!), [100]);
    assert.deepEqual(Array.from(big!.outputs[0]!), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(Array.from(big!.outputs[1]!), [-0, -1, -2, -3, -4, -5, -6]);
  });

  it('waits at most maxQueueDelayMs for a batch to fill', async () => {
    const { calls, runner } = recordingRunner();
    const batcher = new Batcher(runner, { maxBatchSize: 64, maxQueueDelayMs: 30 });
    const started = performance.now();
    const result = await batcher.submit([doc(1)]);
    const waited = performance.now() - started;
    assert.ok(waited >= 25, `waited ${waited} ms`);
    assert.ok(result.queueSeconds >= 0.025);
    assert.deepEqual(calls, [1]);
  });

  it('with batching off, runs every request alone, whole', async () => {
    const { calls, runner } = recordingRunner();
    const batcher = new Batcher(runner, { enabled: false, maxBatchSize: 2 });
    await Promise.all([batcher.submit([doc(1), doc(2), doc(3)]), batcher.submit([doc(4)])]);
    assert.deepEqual(calls.sort(), [1, 3]);
  });

  it('with maxBatchSize 1, runs every document alone', async () => {
    const { calls, runner } = recordingRunner();
    const batcher = new Batcher(runner, { maxBatchSize: 1, maxQueueDelayMs: 0 });
    const results = await Promise.all([batcher.submit([doc(1), doc(2)]), batcher.submit([doc(3)])]);
    assert.deepEqual(calls, [1, 1, 1]);
    assert.deepEqual(Array.from(results[0]!.outputs[0]!), [1, 2]);
  });

  it('fails every request of a failed batch, once, and keeps working', async () => {
    let fail = true;
    const batcher = new Batcher(
      async (docs) => {
        if (fail) throw new Error('boom');
        return [new Float32Array(docs.length), new Float32Array(docs.length)];
      },
      { maxBatchSize: 2, maxQueueDelayMs: 1 },
    );
    const outcomes = await Promise.allSettled([
      batcher.submit([doc(1), doc(2), doc(3)]),
      batcher.submit([doc(4)]),
    ]);
    assert.ok(outcomes.every((o) => o.status === 'rejected'));
    fail = false;
    const ok = await batcher.submit([doc(5)]);
    assert.equal(ok.outputs[0]!.length, 1);
  });

  it('refuses settings that cannot work', () => {
    const { runner } = recordingRunner();
    assert.throws(() => new Batcher(runner, { maxBatchSize: 0 }), RangeError);
    assert.throws(() => new Batcher(runner, { maxQueueDelayMs: -1 }), RangeError);
  });
});
