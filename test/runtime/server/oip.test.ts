/**
 * The server over real HTTP on loopback: the Open Inference Protocol endpoints and their exact
 * response shapes, inference with `text` and with `input_ids`, output selection, versions, the
 * text endpoint and feedback, scores equal to `TextModel.predict`, batching of concurrent
 * requests, and the monitoring hooks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TextModel } from '../../../src/runtime/model/text-model.js';
import { type RunningServer, startServer } from '../../../src/runtime/server/serve.js';
import { featurize } from '../../../src/runtime/text/features.js';
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
let reference: TextModel;
const monitor = new SpyMonitor();
const MAX_BATCH = 8;

describe('the inference server (Open Inference Protocol, text endpoint)', () => {
  before(async () => {
    trained = await trainTestModel();
    reference = await TextModel.load(trained.model);
    server = await startServer({
      models: [{ name: 'imdb-sentiment', location: trained.model }],
      port: 0,
      monitor,
      batching: { maxBatchSize: MAX_BATCH, maxQueueDelayMs: 5 },
      log: { info() {}, error() {} },
    });
  });
  after(async () => {
    await server?.close();
    await reference?.close();
    trained?.cleanup();
  });

  const url = (path: string) => `${server.url}${path}`;

  it('answers the health, server metadata and model metadata endpoints per the specification', async () => {
    assert.deepEqual((await request(url('/v2/health/live'))).body, { live: true });
    const ready = await request(url('/v2/health/ready'));
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { ready: true });
    const meta = await request(url('/v2'));
    assert.equal(meta.status, 200);
    assert.deepEqual(Object.keys(meta.body as object), ['name', 'version', 'extensions']);
    assert.equal((meta.body as { name: string }).name, 'ledge');
    assert.deepEqual((meta.body as { extensions: string[] }).extensions, ['model_repository']);

    const expected = {
      name: 'imdb-sentiment',
      versions: ['1'],
      platform: 'onnx_onnxv1',
      inputs: [
        { name: 'input_ids', datatype: 'INT64', shape: [-1, -1] },
        { name: 'text', datatype: 'BYTES', shape: [-1] },
      ],
      outputs: [
        { name: 'score', datatype: 'FP32', shape: [-1] },
        { name: 'logit', datatype: 'FP32', shape: [-1] },
      ],
    };
    assert.deepEqual((await request(url('/v2/models/imdb-sentiment'))).body, expected);
    assert.deepEqual((await request(url('/v2/models/imdb-sentiment/versions/1'))).body, expected);
    assert.deepEqual((await request(url('/v2/models/imdb-sentiment/ready'))).body, {
      name: 'imdb-sentiment',
      ready: true,
    });
    assert.equal((await request(url('/v2/models/imdb-sentiment/versions/1/ready'))).status, 200);
    const head = await fetch(url('/v2/health/live'), { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  it('infers from text: the response echoes the id and carries both outputs, equal to TextModel.predict', async () => {
    const texts = trained.texts.slice(0, 5);
    const response = await postJson(
      url('/v2/models/imdb-sentiment/infer'),
      textInfer(texts, { id: 'req-42' }),
    );
    assert.equal(response.status, 200, response.text);
    const body = response.body as {
      model_name: string;
      model_version: string;
      id: string;
      outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
    };
    assert.deepEqual(Object.keys(body), ['model_name', 'model_version', 'id', 'outputs']);
    assert.equal(body.model_name, 'imdb-sentiment');
    assert.equal(body.model_version, '1');
    assert.equal(body.id, 'req-42');
    assert.deepEqual(
      body.outputs.map((o) => [o.name, o.datatype, o.shape]),
      [
        ['score', 'FP32', [5]],
        ['logit', 'FP32', [5]],
      ],
    );
    const expected = await reference.predict(texts);
    body.outputs[0]!.data.forEach((score, i) => {
      assert.ok(Math.abs(score - expected[i]!.score) < 1e-6, `${score} vs ${expected[i]!.score}`);
      const logit = body.outputs[1]!.data[i]!;
      assert.ok(Math.abs(1 / (1 + Math.exp(-logit)) - score) < 1e-5);
    });
  });

  it('infers from input_ids, flat or nested, padding ignored; selects and orders outputs', async () => {
    const texts = trained.texts.slice(5, 8);
    const ids = texts.map((t) => Array.from(featurize(t, reference.preprocessing.features)));
    const seq = Math.max(...ids.map((r) => r.length)) + 3;
    const rows = ids.map((r) => [...r, ...new Array(seq - r.length).fill(0)]);
    const expected = await reference.predict(texts);
    for (const data of [rows, rows.flat()]) {
      const response = await postJson(url('/v2/models/imdb-sentiment/versions/1/infer'), {
        inputs: [{ name: 'input_ids', shape: [3, seq], datatype: 'INT64', data }],
        outputs: [{ name: 'logit' }, { name: 'score' }],
      });
      assert.equal(response.status, 200, response.text);
      const body = response.body as { id?: string; outputs: { name: string; data: number[] }[] };
      assert.equal(body.id, undefined, 'no id in the request, none in the response');
      assert.deepEqual(
        body.outputs.map((o) => o.name),
        ['logit', 'score'],
      );
      body.outputs[1]!.data.forEach((score, i) => {
        assert.ok(Math.abs(score - expected[i]!.score) < 1e-6);
      });
    }
    const only = await postJson(
      url('/v2/models/imdb-sentiment/infer'),
      textInfer(['fine'], { outputs: [{ name: 'score' }] }),
    );
    assert.deepEqual(
      (only.body as { outputs: { name: string }[] }).outputs.map((o) => o.name),
      ['score'],
    );
  });

  it('predicts texts, {"text"} objects and Keras-style sequences on the text endpoint, with prediction ids', async () => {
    const sequence = reference.vocabulary.encode('a wonderful movie');
    const response = await postJson(url('/v1/models/imdb-sentiment:predict'), {
      instances: ['a wonderful movie', { text: 'a dreadful waste of time' }, sequence],
    });
    assert.equal(response.status, 200, response.text);
    const { predictions } = response.body as { predictions: { label: string; score: number; id: string }[] };
    assert.equal(predictions.length, 3);
    const expected = await reference.predict(['a wonderful movie', 'a dreadful waste of time']);
    for (const [i, p] of predictions.entries()) {
      assert.deepEqual(Object.keys(p), ['label', 'score', 'id']);
      assert.equal(typeof p.id, 'string');
      const e = expected[i === 2 ? 0 : i]!;
      assert.equal(p.label, e.label);
      assert.ok(Math.abs(p.score - e.score) < 1e-6);
    }
    assert.equal(new Set(predictions.map((p) => p.id)).size, 3, 'ids are unique');

    // The predictions reached monitoring, with input statistics; their ids take feedback.
    const logged = monitor.predictions.find((p) => p.id === predictions[1]!.id);
    assert.ok(logged);
    assert.equal(logged.text, 'a dreadful waste of time');
    assert.equal(logged.tokens, 5);
    assert.ok(logged.oovRate >= 0 && logged.oovRate <= 1);
    assert.equal(logged.label, predictions[1]!.label);
    const feedback = await postJson(url('/v1/feedback'), { id: predictions[1]!.id, label: 'neg' });
    assert.equal(feedback.status, 200);
    assert.deepEqual(feedback.body, { matched: true });
    const unknown = await postJson(url('/v1/feedback'), { id: 'no-such-id', label: 'neg' });
    assert.equal(unknown.status, 404);
    assert.equal(typeof (unknown.body as { error: string }).error, 'string');
  });

  it('merges concurrent requests into batches no larger than maxBatchSize', async () => {
    const before = monitor.batches.length;
    const texts = trained.texts.slice(0, 32);
    const responses = await Promise.all(
      texts.map((text) => postJson(url('/v2/models/imdb-sentiment/infer'), textInfer([text]))),
    );
    assert.ok(responses.every((r) => r.status === 200));
    const batches = monitor.batches.slice(before);
    assert.equal(
      batches.reduce((n, b) => n + b.size, 0),
      32,
    );
    assert.ok(batches.length < 32, `${batches.length} batches for 32 requests`);
    assert.ok(batches.every((b) => b.size <= MAX_BATCH && b.model === 'imdb-sentiment' && b.version === '1'));
    const expected = await reference.predict(texts);
    responses.forEach((r, i) => {
      const score = (r.body as { outputs: { data: number[] }[] }).outputs[0]!.data[0]!;
      assert.ok(Math.abs(score - expected[i]!.score) < 1e-6);
    });
  });

  it('tells monitoring about each request: model, version, endpoint, status, times', async () => {
    monitor.requests.length = 0;
    await postJson(url('/v2/models/imdb-sentiment/infer'), textInfer(['good']));
    await postJson(url('/v2/models/nope/infer'), textInfer(['good']));
    await request(url('/v2/health/ready'));
    const [infer, missing, health] = monitor.requests;
    assert.deepEqual(
      [infer!.model, infer!.version, infer!.endpoint, infer!.status],
      ['imdb-sentiment', '1', 'infer', 200],
    );
    assert.ok(
      infer!.durationSeconds > 0 && infer!.queueSeconds >= 0 && infer!.queueSeconds <= infer!.durationSeconds,
    );
    assert.deepEqual([missing!.model, missing!.status], ['', 404], 'unknown names never become labels');
    assert.deepEqual([health!.endpoint, health!.status], ['health', 200]);
    assert.deepEqual(
      monitor.loads.map((l) => [l.model, l.version]),
      [['imdb-sentiment', '1']],
    );
  });

  it('serves monitoring views: /metrics with its content type, /v1/monitoring as JSON', async () => {
    const metrics = await fetch(url('/metrics'));
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(await metrics.text(), /^spy_requests \d+/);
    const snapshot = await request(url('/v1/monitoring'));
    assert.equal(snapshot.status, 200);
    assert.equal(typeof (snapshot.body as { requests: number }).requests, 'number');
  });

  it('answers unknown models and versions 404, wrong methods 405, unknown paths 404, all as {"error"}', async () => {
    for (const [method, path, status] of [
      ['GET', '/v2/models/nope', 404],
      ['GET', '/v2/models/imdb-sentiment/versions/7', 404],
      ['POST', '/v2/models/imdb-sentiment/versions/7/infer', 404],
      ['GET', '/v2/models/nope/ready', 404],
      ['POST', '/v1/models/nope:predict', 404],
      ['POST', '/v1/models/imdb-sentiment:explain', 404],
      ['GET', '/v2/models/imdb-sentiment/infer', 405],
      ['DELETE', '/v2/health/live', 405],
      ['GET', '/v1/feedback', 405],
      ['GET', '/v3/anything', 404],
    ] as const) {
      const response = await request(url(path), {
        method,
        ...(method === 'POST' ? { body: JSON.stringify(textInfer(['x'])) } : {}),
      });
      assert.equal(response.status, status, `${method} ${path}: ${response.text}`);
      assert.equal(typeof (response.body as { error: unknown }).error, 'string', `${method} ${path}`);
    }
    const notAllowed = await fetch(url('/v2/models/imdb-sentiment/infer'));
    assert.equal(notAllowed.headers.get('allow'), 'POST');
  });
});
