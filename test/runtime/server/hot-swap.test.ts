/**
 * Hot swap over the model repository extension, under load: no request fails while a new
 * version loads, requests that start after the swap get it, the old version is released once
 * its requests are done; a broken new version (garbage ONNX, or NaN scores) leaves the old one
 * serving; unload and reload.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadTextModel, type ServableModel } from '../../../src/runtime/server/servable-model.js';
import { type RunningServer, startServer } from '../../../src/runtime/server/serve.js';
import {
  postJson,
  request,
  SpyMonitor,
  type TrainedModel,
  textInfer,
  trainTestModel,
} from './server-fixture.js';

let trained: TrainedModel;
let server: RunningServer;
const monitor = new SpyMonitor();
/** Every model the server loaded, by location, in order, and whether it was closed. */
const loaded: { location: string; closed: boolean; runs: number }[] = [];
const LOAD = '/v2/repository/models/imdb-sentiment/load';

/** The real loader, recording loads and closes; a location ending in `-nan` scores NaN. */
async function recordingLoader(location: string): Promise<ServableModel> {
  const model = await loadTextModel(location.endsWith('-nan') ? location.slice(0, -4) : location);
  const record = { location, closed: false, runs: 0 };
  loaded.push(record);
  return {
    ...model,
    async run(docs) {
      assert.equal(record.closed, false, `a request ran on ${location} after it was released`);
      record.runs++;
      const outputs = await model.run(docs);
      if (location.endsWith('-nan')) outputs.score.fill(Number.NaN);
      return outputs;
    },
    async close() {
      record.closed = true;
      await model.close();
    },
  };
}

describe('hot swap', () => {
  before(async () => {
    trained = await trainTestModel();
    fs.cpSync(trained.model, path.join(trained.root, 'model-v2'), { recursive: true });
    server = await startServer({
      models: [{ name: 'imdb-sentiment', location: trained.model }],
      port: 0,
      loader: recordingLoader,
      monitor,
      // A queue delay long enough that requests are waiting in v1's batcher during the swap.
      batching: { maxBatchSize: 16, maxQueueDelayMs: 15 },
      log: { info() {}, error() {} },
    });
  });
  after(async () => {
    await server?.close();
    trained?.cleanup();
  });

  const url = (p: string) => `${server.url}${p}`;

  it('loads v2 under load: no request fails, later requests get v2, v1 is released after its last request', async () => {
    const results: { status: number; version: string | undefined; started: number; ended: number }[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const started = performance.now();
        const response = await postJson(
          url('/v2/models/imdb-sentiment/infer'),
          textInfer([trained.texts[(w * 31 + i) % trained.texts.length]!]),
        );
        results.push({
          status: response.status,
          version: (response.body as { model_version?: string }).model_version,
          started,
          ended: performance.now(),
        });
      }
    };
    const workers = Array.from({ length: 12 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 150));
    const swapStarted = performance.now();
    const swap = await postJson(url(LOAD), {
      parameters: { location: path.join(trained.root, 'model-v2'), version: '2' },
    });
    const swapped = performance.now();
    assert.equal(swap.status, 200, swap.text);
    assert.deepEqual(swap.body, { name: 'imdb-sentiment', version: '2' });
    await new Promise((r) => setTimeout(r, 150));
    stop = true;
    await Promise.all(workers);

    const failed = results.filter((r) => r.status !== 200);
    assert.deepEqual(failed, [], 'no request fails during the swap');
    assert.ok(
      // While v2 loaded (however long that took on a busy machine), v1 kept answering.
      results.some((r) => r.version === '1' && r.ended > swapStarted),
      'v1 was busy around the swap',
    );
    const late = results.filter((r) => r.started > swapped);
    assert.ok(late.length > 0);
    assert.ok(
      late.every((r) => r.version === '2'),
      'requests that start after the swap get v2',
    );
    const v1 = loaded.find((l) => l.location === trained.model)!;
    assert.ok(v1.runs > 0);
    // Released once its requests were done (they all were: every worker has stopped).
    for (let i = 0; i < 100 && !v1.closed; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(v1.closed, true, 'v1 released after its last request');
    assert.deepEqual(
      server.models.versions().map((v) => [v.version, v.state]),
      [['2', 'ready']],
    );
    const metadata = await request(url('/v2/models/imdb-sentiment'));
    assert.deepEqual((metadata.body as { versions: string[] }).versions, ['2']);
    assert.equal((await request(url('/v2/models/imdb-sentiment/versions/1'))).status, 404);
    // Monitoring heard of both versions, with their reference profiles, and of the swap.
    assert.deepEqual(
      monitor.profiles.map((p) => [p.version, p.profile?.format]),
      [
        ['1', 'ledge.reference-profile'],
        ['2', 'ledge.reference-profile'],
      ],
    );
    assert.deepEqual(
      monitor.events.map((e) => [e.kind, e.version]),
      [
        ['server-started', undefined],
        ['model-swapped', '2'],
      ],
    );
  });

  it('a version whose model.onnx is garbage fails to load and the serving one keeps serving', async () => {
    const broken = path.join(trained.root, 'model-broken');
    fs.cpSync(trained.model, broken, { recursive: true });
    fs.writeFileSync(path.join(broken, 'model.onnx'), Buffer.from('this is not an ONNX model'));
    const response = await postJson(url(LOAD), { parameters: { location: broken, version: '3' } });
    assert.equal(response.status, 400);
    assert.match(
      (response.body as { error: string }).error,
      /cannot load version 3 .*ONNX Runtime cannot load/,
    );
    const infer = await postJson(url('/v2/models/imdb-sentiment/infer'), textInfer(['still fine']));
    assert.equal(infer.status, 200);
    assert.equal((infer.body as { model_version: string }).model_version, '2');
  });

  it('a version that scores NaN fails its smoke input, is released, and the serving one keeps serving', async () => {
    const response = await postJson(url(LOAD), { parameters: { location: `${trained.model}-nan` } });
    assert.equal(response.status, 400);
    assert.match((response.body as { error: string }).error, /smoke input .* scored NaN/);
    assert.equal(loaded.at(-1)!.closed, true, 'the failed model is released');
    const infer = await postJson(url('/v1/models/imdb-sentiment:predict'), { instances: ['still fine'] });
    assert.equal(infer.status, 200);
    assert.deepEqual(
      server.models.versions().map((v) => v.version),
      ['2'],
    );
  });

  it('a load without a location reloads the serving bundle as the same version', async () => {
    const before = loaded.length;
    const response = await request(url(LOAD), { method: 'POST' });
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.body, { name: 'imdb-sentiment', version: '2' });
    assert.equal(loaded.length, before + 1);
    const index = await request(url('/v2/repository/index'), { method: 'POST', body: '{}' });
    assert.equal(index.status, 200);
    assert.deepEqual(
      (index.body as { name: string; version: string; state: string }[]).filter((m) => m.state === 'READY'),
      [{ name: 'imdb-sentiment', version: '2', state: 'READY' }],
    );
  });

  it('unloads: not ready, 404 for the model; a load with a location and no version brings it back', async () => {
    const unload = await request(url('/v2/repository/models/imdb-sentiment/unload'), { method: 'POST' });
    assert.equal(unload.status, 200, unload.text);
    assert.equal((await request(url('/v2/health/ready'))).status, 503);
    assert.equal((await postJson(url('/v2/models/imdb-sentiment/infer'), textInfer(['x']))).status, 404);
    assert.ok(loaded.every((l) => l.closed));
    const load = await postJson(url(LOAD), { parameters: { location: trained.model } });
    assert.equal(load.status, 200, load.text);
    assert.deepEqual(load.body, { name: 'imdb-sentiment', version: '1' });
    assert.equal((await request(url('/v2/health/ready'))).status, 200);
  });
});
