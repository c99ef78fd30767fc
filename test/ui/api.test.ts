/**
 * The dashboard's HTTP API in memory (`app.request`), over a real metadata database: the same
 * suite on SQLite and on a private PostgreSQL cluster. Then what only the HTTP layer does
 * (security headers, the Host check, the page without JavaScript), the live proxy against
 * servers that answer, refuse or hang, and the snapshot of the real serving monitor read into
 * the dashboard's shape.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { Hono } from 'hono';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { diffExecutions } from '../../src/pipeline/run-records.js';
import { histogram, linearEdges } from '../../src/runtime/model/histogram.js';
import { createMonitor } from '../../src/runtime/monitoring/create-monitor.js';
import { SILENT_LOGGER } from '../../src/runtime/monitoring/json-logger.js';
import type {
  DeploymentDetail,
  DeploymentSummary,
  GateRefusal,
  LiveServer,
  ModelInfo,
  MonitoringHistory,
  RunDetail,
  RunDiff,
  RunLog,
  RunSummary,
} from '../../src/ui/api-types.js';
import { createUiApp } from '../../src/ui/app.js';
import { readSnapshot } from '../../src/ui/monitoring-snapshot.js';
import { startPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp-dir.js';
import { closedPort, startFakeMonitoringServer } from './fake-monitoring-server.js';
import {
  FAILED_REASON,
  GATE_REASON,
  PUSHED_COMMIT,
  SCRIPT_CAUSE,
  SCRIPT_NAME,
  SCRIPT_PARAM,
  type SeededRecords,
  seedDeployments,
  seedRecords,
} from './seed.js';

async function getJson<T>(app: Hono, url: string, status = 200): Promise<T> {
  const response = await app.request(url);
  const body = (await response.json()) as T;
  assert.equal(response.status, status, `${url}: ${JSON.stringify(body)}`);
  return body;
}

function appFor(metadata: MetadataStore, seeded: SeededRecords, servers: string[] = []): Hono {
  return createUiApp({
    metadata,
    servers,
    readLog: (digest) => seeded.logs.get(digest),
    diffRuns: (a, b, options) => diffExecutions(metadata, a, b, options),
    liveTimeoutMs: 500,
  });
}

async function openSqlite(t: TestContext): Promise<MetadataStore> {
  const metadata = await MetadataStore.open(path.join(tempDir(t), 'metadata.db'));
  t.after(() => metadata.close());
  return metadata;
}

/** The API suite, for each database. */
async function checkApi(metadata: MetadataStore): Promise<void> {
  const seeded = await seedRecords(metadata);
  const app = appFor(metadata, seeded);
  const [run1, run2] = seeded.runs;

  // Runs, newest first; filtered with the --where language (numbers compare numerically).
  const all = await getJson<RunSummary[]>(app, '/api/runs');
  assert.deepEqual(
    all.map((r) => r.id),
    [seeded.scriptRun, seeded.stages[1], run2, seeded.stages[0], run1],
  );
  const runs = await getJson<RunSummary[]>(app, '/api/runs?type=run');
  assert.deepEqual(
    runs.map((r) => r.id),
    [seeded.scriptRun, run2, run1],
  );
  assert.equal(runs[0]!.name, SCRIPT_NAME);
  assert.deepEqual(runs[1]!.params, { train: { epochs: 5, note: SCRIPT_PARAM } });
  assert.deepEqual(runs[1]!.metrics, { accuracy: 0.9, loss: { train: 0.2 } });
  const where = encodeURIComponent('metrics.accuracy > 0.85 or params.train.epochs = 3');
  const filtered = await getJson<RunSummary[]>(app, `/api/runs?type=run&where=${where}`);
  assert.deepEqual(
    filtered.map((r) => r.id),
    [run2, run1],
  );
  const stagesOnly = await getJson<RunSummary[]>(
    app,
    `/api/runs?type=stage&where=${encodeURIComponent('stage = train')}`,
  );
  assert.deepEqual(
    stagesOnly.map((r) => r.id),
    [seeded.stages[1], seeded.stages[0]],
  );
  assert.equal((await getJson<RunSummary[]>(app, '/api/runs?limit=1')).length, 1);
  const bad = await getJson<{ error: string }>(
    app,
    `/api/runs?where=${encodeURIComponent('metrics.accuracy >')}`,
    400,
  );
  assert.match(bad.error, /--where: .*at column/);
  assert.match(
    (await getJson<{ error: string }>(app, '/api/runs?type=job', 400)).error,
    /type must be run or stage/,
  );
  assert.match(
    (await getJson<{ error: string }>(app, '/api/runs?limit=-3', 400)).error,
    /limit must be a positive/,
  );

  // One run: environment, its stages, their inputs and outputs with digests; its logs.
  const detail = await getJson<RunDetail>(app, `/api/runs/${run2}`);
  assert.equal(detail.type, 'run');
  assert.equal(detail.status, 'succeeded');
  assert.equal(detail.environment.workspace, 'test:/ws');
  assert.equal(detail.environment.ledgeVersion, '0.1.0');
  assert.equal(detail.properties.os, 'Linux test');
  assert.deepEqual(
    detail.stages.map((s) => [s.id, s.name, s.status, s.exitCode]),
    [[seeded.stages[1], 'train', 'succeeded', 0]],
  );
  assert.deepEqual(
    detail.artifacts.map((a) => [a.stage, a.kind, a.path, a.digest]),
    [
      ['train', 'input', 'data', detail.artifacts[0]!.digest],
      ['train', 'output', 'model', seeded.modelDigests[1]],
      ['train', 'output', 'train.log', detail.artifacts[2]!.digest],
    ],
  );
  const stage = await getJson<RunDetail>(app, `/api/runs/${seeded.stages[0]}`);
  assert.equal(stage.parentId, run1);
  assert.deepEqual(stage.properties.reasons, ['never run']);
  const logs = await getJson<RunLog[]>(app, `/api/runs/${run1}/logs`);
  assert.equal(logs.length, 1);
  assert.equal(logs[0]!.name, 'train');
  assert.match(logs[0]!.text!, /^epoch 3\n<script>/);
  const noLogs = await getJson<RunLog[]>(app, `/api/runs/${seeded.scriptRun}/logs`);
  assert.deepEqual(noLogs, []);
  assert.match(
    (await getJson<{ error: string }>(app, '/api/runs/9999', 404)).error,
    /no run or execution with id 9999/,
  );
  assert.match(
    (await getJson<{ error: string }>(app, '/api/runs/abc', 400)).error,
    /run id must be a positive/,
  );

  // Two runs compared, as `ledge runs diff --json`.
  const diff = await getJson<RunDiff>(app, `/api/compare?a=${run1}&b=${run2}`);
  assert.deepEqual(diff.params, [{ key: 'train.epochs', old: 3, new: 5, change: 'changed', delta: 2 }]);
  assert.deepEqual(
    diff.metrics.map((row) => [row.key, row.change, row.delta]),
    [
      ['accuracy', 'changed', 0.1],
      ['loss.train', 'changed', -0.1],
    ],
  );
  assert.deepEqual(
    diff.artifacts.map((row) => [row.kind, row.path, row.old, row.new]),
    [['output', 'train:model', seeded.modelDigests[0], seeded.modelDigests[1]]],
  );
  const everything = await getJson<RunDiff>(app, `/api/compare?a=${run1}&b=${run2}&all=1`);
  assert.ok(everything.params.some((row) => row.key === 'train.note' && row.change === 'unchanged'));
  await getJson(app, '/api/compare?a=1', 400);

  // Models with versions (newest first) and aliases.
  const models = await getJson<ModelInfo[]>(app, '/api/models');
  assert.equal(models.length, 1);
  assert.equal(models[0]!.name, 'imdb-sentiment');
  assert.deepEqual(models[0]!.aliases, { production: 1, staging: 2 });
  assert.deepEqual(
    models[0]!.versions.map((v) => [v.version, v.digest, v.aliases, v.executionId]),
    [
      [2, seeded.modelDigests[1], ['staging'], seeded.stages[1]],
      [1, seeded.modelDigests[0], ['production'], seeded.stages[0]],
    ],
  );

  await checkDeployments(app, metadata, seeded);

  // Monitoring history, as servers recorded it.
  const history = await getJson<MonitoringHistory>(app, '/api/monitoring/history');
  assert.deepEqual(
    history.windows.map((w) => [w.model, w.version, w.throughput, w.p95Ms]),
    [
      ['imdb-sentiment', '2', 40, 7],
      ['imdb-sentiment', '2', 41, 8],
      ['imdb-sentiment', '2', 42, 9],
    ],
  );
  assert.deepEqual(history.windows[2]!.scores, { edges: [0, 0.5, 1], counts: [200, 202], reference: null });
  const oov = history.windows[2]!.drift.filter((d) => d.feature === 'oov_rate');
  assert.deepEqual(oov, [
    { feature: 'oov_rate', method: 'psi', value: 0.52, threshold: 0.2, alert: true },
    { feature: 'oov_rate', method: 'ks', value: 0.33, threshold: 0.15, alert: true },
  ]);
  assert.ok(history.windows[0]!.drift.every((d) => !d.alert));
  assert.deepEqual(
    history.events.map((e) => e.kind),
    ['drift-alert-fired', 'model-loaded'],
  );
  const other = await getJson<MonitoringHistory>(app, '/api/monitoring/history?server=elsewhere');
  assert.deepEqual(other, { windows: [], events: [] });

  assert.deepEqual(await getJson(app, '/api/monitoring/live'), []);
  assert.match((await getJson<{ error: string }>(app, '/api/nothing', 404)).error, /no such API endpoint/);
}

/** Deployments: none, then each with its chain from the change to the target. */
async function checkDeployments(app: Hono, metadata: MetadataStore, seeded: SeededRecords): Promise<void> {
  assert.deepEqual(await getJson(app, '/api/deployments'), []);
  assert.deepEqual(await getJson(app, '/api/deployments/refused'), []);
  const d = await seedDeployments(metadata, seeded);
  const [run1, run2] = seeded.runs;
  const [stage1, stage2] = seeded.stages;

  const all = await getJson<DeploymentSummary[]>(app, '/api/deployments');
  assert.deepEqual(
    all.map((x) => [x.id, x.target, x.label, x.status]),
    [
      [d.stopped, 'edge', `imdb-sentiment (${seeded.modelDigests[0].slice(0, 19)})`, 'stopped'],
      [d.failed, 'local', 'imdb-sentiment@1', 'failed'],
      [d.serving, 'local', 'imdb-sentiment@2', 'active'],
      [d.superseded, 'local', 'imdb-sentiment@1', 'superseded'],
    ],
  );
  const serving = all.find((x) => x.id === d.serving)!;
  assert.equal(serving.digest, seeded.modelDigests[1]);
  assert.equal(serving.kind, 'local');
  assert.equal(serving.url, 'http://127.0.0.1:8080');
  assert.equal(serving.previousId, d.superseded);
  assert.equal(serving.cause, "the example pipeline's deploy stage");
  assert.ok(serving.activatedAt && serving.activatedAt >= serving.startedAt, serving.activatedAt ?? 'null');
  assert.equal(serving.endedAt, null);
  // The chain: a saved params.yaml → control run → pipeline run 2 → its train stage → @2.
  assert.equal(serving.chain.controlRun?.id, d.controlRuns[1]);
  assert.deepEqual(serving.chain.controlRun?.causes, [
    { kind: 'file', at: '2026-11-27T09:30:00.000Z', paths: ['params.yaml'] },
  ]);
  assert.equal(serving.chain.controlRun?.status, 'succeeded');
  assert.equal(serving.chain.pipelineRun?.id, run2);
  assert.equal(serving.chain.pipelineRun?.type, 'run');
  assert.deepEqual(
    [serving.chain.producedBy?.id, serving.chain.producedBy?.name, serving.chain.producedByFrom],
    [stage2, 'train', 'registry'],
  );
  assert.deepEqual(
    [
      serving.chain.modelVersion?.name,
      serving.chain.modelVersion?.version,
      serving.chain.modelVersion?.aliases,
    ],
    ['imdb-sentiment', 2, ['staging']],
  );
  const superseded = all.find((x) => x.id === d.superseded)!;
  assert.equal(superseded.message, `replaced by deployment ${d.serving}`);
  assert.ok(superseded.endedAt);
  assert.equal(superseded.chain.controlRun?.causes[0]?.commit, PUSHED_COMMIT);
  assert.equal(superseded.chain.pipelineRun?.id, run1);
  const failed = all.find((x) => x.id === d.failed)!;
  assert.equal(failed.message, FAILED_REASON);
  assert.equal(failed.cause, SCRIPT_CAUSE);
  assert.equal(failed.activatedAt, null, 'a failed deployment never served');
  // A bundle deployed by path: not registered, its producer found by its digest.
  const stopped = all.find((x) => x.id === d.stopped)!;
  assert.equal(stopped.chain.modelVersion, null);
  assert.deepEqual(
    [stopped.chain.producedBy?.id, stopped.chain.producedByFrom, stopped.chain.pipelineRun?.id],
    [stage1, 'lineage', run1],
  );
  assert.equal(stopped.chain.controlRun?.id, d.controlRuns[0]);
  assert.equal(stopped.message, 'stopped by `ledge deploy stop`');

  // Filters: target, status (one or several), limit; mistakes are 400s.
  const ids = async (query: string) =>
    (await getJson<DeploymentSummary[]>(app, `/api/deployments${query}`)).map((x) => x.id);
  assert.deepEqual(await ids('?target=edge'), [d.stopped]);
  assert.deepEqual(await ids('?target=local&status=active'), [d.serving]);
  assert.deepEqual(await ids('?status=failed,stopped'), [d.stopped, d.failed]);
  assert.deepEqual(await ids('?target=nowhere'), []);
  assert.deepEqual(await ids('?limit=2'), [d.stopped, d.failed]);
  assert.match(
    (await getJson<{ error: string }>(app, '/api/deployments?status=serving', 400)).error,
    /status must be one or more of deploying, active, failed, rolled-back, superseded, stopped .*not 'serving'/,
  );
  assert.match(
    (await getJson<{ error: string }>(app, '/api/deployments?limit=0', 400)).error,
    /limit must be a positive integer/,
  );

  // One deployment: the whole chain, what it replaced, what came after, gate and steps.
  const detail = await getJson<DeploymentDetail>(app, `/api/deployments/${d.serving}`);
  assert.equal(detail.chain.controlRun?.id, d.controlRuns[1]);
  assert.deepEqual(detail.previous && [detail.previous.id, detail.previous.label, detail.previous.status], [
    d.superseded,
    'imdb-sentiment@1',
    'superseded',
  ]);
  assert.deepEqual(
    detail.followedBy.map((f) => [f.id, f.status, f.message]),
    [[d.failed, 'failed', FAILED_REASON]],
  );
  assert.deepEqual(detail.gate, {
    passed: true,
    forced: false,
    message: 'accuracy 0.8 passes the minimum 0.75',
  });
  assert.deepEqual(
    detail.steps.map((s) => [s.step, s.ok]),
    [
      ['start', true],
      ['ready', true],
      ['smoke', true],
      ['switch', true],
    ],
  );
  assert.deepEqual(
    detail.pipelineStages.map((s) => [s.id, s.name, s.status]),
    [[stage2, 'train', 'succeeded']],
  );
  const failedDetail = await getJson<DeploymentDetail>(app, `/api/deployments/${d.failed}`);
  assert.equal(failedDetail.previous?.id, d.serving);
  assert.deepEqual(failedDetail.steps, [{ step: 'start', ok: false, ms: 300, detail: FAILED_REASON }]);
  assert.match(
    (await getJson<{ error: string }>(app, '/api/deployments/9999', 404)).error,
    /no deployment with id 9999/,
  );
  assert.match(
    (await getJson<{ error: string }>(app, '/api/deployments/abc', 400)).error,
    /deployment id must be a positive integer/,
  );

  // What the quality gate refused: nothing was deployed; the gated run and why.
  const refused = await getJson<GateRefusal[]>(app, '/api/deployments/refused');
  assert.deepEqual(
    refused.map((r) => [
      r.pipelineRun.id,
      r.pipelineRun.status,
      r.reason,
      r.controlRun?.id,
      r.controlRun?.status,
    ]),
    [[d.gatedRun, 'gated', GATE_REASON, d.gatedControlRun, 'gated']],
  );
  assert.equal(refused[0]!.controlRun?.causes[0]?.name, 'nightly');
}

describe('dashboard API', () => {
  it('serves runs, details, logs, comparisons, models, deployments and monitoring history from SQLite', async (t) => {
    await checkApi(await openSqlite(t));
  });

  it('serves the same from PostgreSQL', async (t) => {
    const server = await startPostgres(t);
    const metadata = await MetadataStore.open(server.url);
    t.after(() => metadata.close());
    await checkApi(metadata);
  });

  it('sends a strict Content-Security-Policy and answers only loopback Host names', async (t) => {
    const metadata = await openSqlite(t);
    const app = appFor(metadata, await seedRecords(metadata));
    const page = await app.request('http://127.0.0.1:8686/');
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self'(;|$)/);
    assert.match(csp, /connect-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    const html = await page.text();
    // No inline script: the only script is the module from this origin.
    assert.deepEqual(html.match(/<script[^>]*>/g), ['<script type="module" src="/assets/client/main.js">']);
    for (const asset of [
      '/assets/client/main.js',
      '/assets/client/pages/runs.js',
      '/assets/styles.css',
      '/assets/icon.svg',
    ]) {
      const response = await app.request(`http://localhost:8686${asset}`);
      assert.equal(response.status, 200, asset);
    }
    assert.match(
      (await app.request('http://localhost/assets/client/main.js')).headers.get('content-type')!,
      /javascript/,
    );
    assert.equal((await app.request('http://localhost/assets/client/../api.js')).status, 404);
    assert.equal((await app.request('http://localhost/assets/client/main.ts')).status, 404);
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host name.
    for (const host of ['evil.example', 'evil.example:8686', '127.0.0.1.evil.example']) {
      const response = await app.request('http://127.0.0.1:8686/api/runs', { headers: { host } });
      assert.equal(response.status, 403, host);
    }
    for (const host of ['localhost:8686', '127.0.0.1', '[::1]:8686']) {
      const response = await app.request('http://127.0.0.1:8686/api/runs', { headers: { host } });
      assert.equal(response.status, 200, host);
    }
  });

  it('shows recent runs and models without JavaScript, with markup escaped', async (t) => {
    const metadata = await openSqlite(t);
    const app = appFor(metadata, await seedRecords(metadata));
    const html = await (await app.request('http://localhost/')).text();
    const noscript = html.slice(html.indexOf('<noscript>'), html.indexOf('</noscript>'));
    assert.match(noscript, /<th scope="col">Status<\/th>/);
    assert.match(noscript, /imdb-sentiment@2/);
    assert.ok(noscript.includes('&lt;script&gt;window.__xss = &quot;name&quot;&lt;/script&gt;&lt;img src=x'));
    assert.ok(!noscript.includes('<script>window'), 'a run name is never markup');
    assert.ok(!noscript.includes('<img'), 'a run name is never markup');
  });

  it('asks each --server for its snapshot, with an error for those that refuse or hang', async (t) => {
    const metadata = await openSqlite(t);
    const fake = await startFakeMonitoringServer();
    t.after(() => fake.close());
    const refused = `http://127.0.0.1:${await closedPort()}`;
    // A server that accepts connections and never answers.
    const hanging = http.createServer(() => {});
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      hanging.closeAllConnections();
      hanging.close();
    });
    const hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    // Servers that answer, but not with a snapshot: an error page, HTML, monitoring turned off.
    const answering = async (status: number, body: string) => {
      const server = http.createServer((_, response) => response.writeHead(status).end(body));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.after(() => {
        server.closeAllConnections();
        server.close();
      });
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    const failing = await answering(500, '{"error":"boom"}');
    const html = await answering(200, '<html>hello</html>');
    const off = await answering(200, '{"monitoring":"off"}');
    const app = createUiApp({
      metadata,
      servers: [fake.url, refused, hangingUrl, failing, html, off],
      liveTimeoutMs: 300,
    });
    const started = Date.now();
    const [ok, down, slow, error, notJson, monitoringOff] = await getJson<LiveServer[]>(
      app,
      '/api/monitoring/live',
    );
    assert.ok(Date.now() - started < 3000, 'servers are asked in parallel, bounded by the timeout');
    assert.equal(ok!.ok, true);
    assert.equal(ok!.models.length, 1);
    const model = ok!.models[0]!;
    assert.equal(model.model, 'imdb-sentiment');
    assert.equal(model.version, '2');
    assert.equal(model.throughput, 40);
    assert.deepEqual(model.latencyMs, { p50: 2.1, p95: 6.4, p99: 12.5 });
    assert.equal(model.liveAccuracy, 0.9);
    assert.equal(model.labelled, 120);
    assert.equal(model.alert, false);
    assert.equal(model.series.length, 60);
    assert.equal(model.scores?.counts.length, 10);
    assert.equal(model.scores?.reference?.length, 10);
    assert.deepEqual(
      model.drift.map((d) => `${d.feature} ${d.method}`),
      ['token_count psi', 'token_count ks', 'oov_rate psi', 'oov_rate ks', 'score psi', 'score ks'],
    );
    assert.equal(down!.ok, false);
    assert.match(down!.error!, /^unreachable: .*ECONNREFUSED/);
    assert.equal(slow!.ok, false);
    assert.equal(slow!.error, 'timed out after 0.3 s');
    assert.equal(error!.error, 'HTTP 500 Internal Server Error');
    assert.equal(notJson!.error, 'answered with something that is not JSON');
    assert.deepEqual(
      [monitoringOff!.ok, monitoringOff!.monitoring, monitoringOff!.models],
      [true, false, []],
    );

    fake.drifting = true;
    const [again] = await getJson<LiveServer[]>(app, '/api/monitoring/live');
    assert.equal(again!.models[0]!.throughput, 41, 'the snapshot changes on every request');
    assert.equal(again!.models[0]!.alert, true);
    assert.deepEqual(
      again!.models[0]!.drift.filter((d) => d.alert).map((d) => `${d.feature} ${d.method}`),
      ['oov_rate psi', 'oov_rate ks'],
    );
  });

  it("reads the real serving monitor's snapshot: throughput, latency, scores, drift, accuracy", async () => {
    const reference = (values: number[], edges: number[]) => histogram(values, edges);
    const n = 400;
    const referenceTokens = Array.from({ length: n }, (_, i) => 50 + (i % 100));
    const referenceOov = Array.from({ length: n }, (_, i) => (i % 10) / 100);
    const referenceScores = Array.from({ length: n }, (_, i) => (i % 100) / 100);
    const monitor = createMonitor({
      logger: SILENT_LOGGER,
      defaultMetrics: false,
      drift: { windowSize: 200, evaluateEvery: 50, minSamples: 50 },
    });
    try {
      monitor.addModel('imdb-sentiment', '3', {
        format: 'ledge.reference-profile',
        version: 1,
        examples: n,
        tokenCount: reference(referenceTokens, linearEdges(0, 400, 10)),
        oovRate: reference(referenceOov, linearEdges(0, 1, 10)),
        score: reference(referenceScores, linearEdges(0, 1, 10)),
        labels: { negative: n / 2, positive: n / 2 },
      });
      // Shifted traffic: long texts, most words unknown.
      for (let i = 0; i < 200; i++) {
        monitor.onRequest({
          model: 'imdb-sentiment',
          version: '3',
          endpoint: 'predict',
          status: 200,
          durationSeconds: 0.002,
          queueSeconds: 0,
        });
        monitor.onPredictions([
          {
            id: `p${i}`,
            model: 'imdb-sentiment',
            version: '3',
            text: 'zzz',
            tokens: 350,
            oovRate: 0.9,
            score: (i % 10) / 10,
            label: i % 2 ? 'positive' : 'negative',
          },
        ]);
      }
      monitor.evaluateDrift();
      const read = readSnapshot(monitor.snapshot());
      assert.equal(read.monitoring, true);
      const model = read.models.find((m) => m.model === 'imdb-sentiment');
      assert.ok(model, JSON.stringify(read));
      assert.equal(model.version, '3');
      assert.equal(model.requests, 200);
      assert.ok(model.throughput !== null && model.throughput > 0);
      assert.ok(model.latencyMs.p50 !== null && model.latencyMs.p50 > 1 && model.latencyMs.p50 < 3);
      assert.equal(
        model.scores?.counts.reduce((a, b) => a + b, 0),
        200,
      );
      assert.ok(model.series.length > 1);
      const oov = model.drift.filter((d) => d.feature === 'oov_rate');
      assert.deepEqual(
        oov.map((d) => d.method),
        ['psi', 'ks'],
      );
      assert.ok(oov.some((d) => d.alert && d.threshold !== null && d.value > d.threshold));
      assert.equal(model.alert, true);
    } finally {
      await monitor.close();
    }
  });
});
