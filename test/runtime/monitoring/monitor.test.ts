/**
 * The monitor in memory, through the `Monitor` interface the server calls: Prometheus metrics,
 * delayed labels and live accuracy, the prediction log's sampling, the dashboard snapshot,
 * window summaries and events for the sink, drift on simulated statistics, robustness.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isLedgeError } from '../../../src/core/errors.js';
import { seededRandom } from '../../../src/ml/train/seeded-random.js';
import type { ReferenceProfile } from '../../../src/runtime/model/bundle-format.js';
import { histogram, linearEdges, quantileEdges } from '../../../src/runtime/model/histogram.js';
import { createMonitor, type MonitorOptions } from '../../../src/runtime/monitoring/create-monitor.js';
import { createJsonLogger, SILENT_LOGGER } from '../../../src/runtime/monitoring/json-logger.js';
import {
  type Monitor,
  NO_MONITORING,
  type PredictionEvent,
} from '../../../src/runtime/monitoring/monitor.js';
import type {
  MonitoringSink,
  ServingEventRecord,
  WindowSummary,
} from '../../../src/runtime/monitoring/monitoring-sink.js';
import { tempDir } from '../../helpers/temp-dir.js';

const T0 = Date.parse('2025-06-01T12:00:00.000Z');

function clock() {
  let now = T0;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function logCapture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createJsonLogger({ stream, level: 'debug' }) };
}

function monitorFor(t: { after: (fn: () => Promise<void>) => void }, options: MonitorOptions = {}) {
  const monitor = createMonitor({ logger: SILENT_LOGGER, defaultMetrics: false, ...options });
  t.after(() => monitor.close());
  return monitor;
}

const prediction = (id: string, label: string, score: number, extra: Partial<PredictionEvent> = {}) => ({
  id,
  model: 'imdb',
  version: '3',
  text: `text of ${id}`,
  tokens: 120,
  oovRate: 0.02,
  score,
  label,
  ...extra,
});

const request = (status: number, durationSeconds: number, queueSeconds = 0) => ({
  model: 'imdb',
  version: '3',
  endpoint: 'predict',
  status,
  durationSeconds,
  queueSeconds,
});

interface ModelSnapshot {
  model: string;
  version: string;
  requests: number;
  errors: number;
  throughput: number;
  predictionsPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number };
  scores: { edges: number[]; counts: number[] };
  accuracy: { value: number | null; labelled: number; correct: number };
  drift: { samples: number; features: Record<string, { psi: number; ks: number; alert: boolean }> } | null;
  series: { t: number; requests: number; p50Ms: number | null }[];
}

const modelsOf = (monitor: Monitor) => monitor.snapshot().models as ModelSnapshot[];

describe('Prometheus metrics', () => {
  it('follow Prometheus naming, with model, version, endpoint, code and label labels', async (t) => {
    const monitor = monitorFor(t, { defaultMetrics: true });
    monitor.onModelLoaded('imdb', '3', 0.25);
    for (let i = 0; i < 3; i++) monitor.onRequest(request(200, 0.0012, 0.0004));
    monitor.onRequest(request(400, 0.0002));
    monitor.onBatch('imdb', '3', 8);
    monitor.onPredictions([
      prediction('a', 'pos', 0.9),
      prediction('b', 'pos', 0.8),
      prediction('c', 'neg', 0.1),
    ]);
    const { contentType, body } = await monitor.metrics();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    for (const line of [
      'ledge_inference_requests_total{model="imdb",version="3",endpoint="predict",code="200"} 3',
      'ledge_inference_requests_total{model="imdb",version="3",endpoint="predict",code="400"} 1',
      'ledge_inference_request_duration_seconds_bucket{le="0.00025",model="imdb",version="3"} 1',
      'ledge_inference_request_duration_seconds_bucket{le="0.0025",model="imdb",version="3"} 4',
      'ledge_inference_request_duration_seconds_count{model="imdb",version="3"} 4',
      'ledge_inference_queue_duration_seconds_count{model="imdb",version="3"} 3',
      'ledge_inference_batch_size_sum{model="imdb",version="3"} 8',
      'ledge_predictions_total{model="imdb",version="3",label="pos"} 2',
      'ledge_predictions_total{model="imdb",version="3",label="neg"} 1',
      'ledge_model_load_duration_seconds{model="imdb",version="3"} 0.25',
      'ledge_model_info{model="imdb",version="3"} 1',
    ]) {
      assert.ok(body.includes(`\n${line}\n`), `missing: ${line}`);
    }
    const types = [...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    for (const [name, type] of types) {
      assert.match(name, /^(ledge|process|nodejs)_[a-z0-9_]+$/);
      if (type === 'counter') assert.match(name, /_total$/, name);
      if (name.includes('duration')) assert.match(name, /_seconds$/, name);
    }
    const names = types.map(([name]) => name);
    for (const name of [
      'ledge_live_accuracy',
      'ledge_feedback_total',
      'ledge_drift_psi',
      'ledge_drift_ks',
      'ledge_drift_alerts_total',
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      assert.ok(names.includes(name), `no ${name}`);
    }
  });

  it('forget the info gauge of an unloaded or replaced version', async (t) => {
    const monitor = monitorFor(t);
    monitor.onModelLoaded('imdb', '3', 0.1);
    monitor.onModelLoaded('imdb', '4', 0.1);
    monitor.onServingEvent({
      kind: 'model-swapped',
      model: 'imdb',
      version: '4',
      message: 'imdb 4 replaces 3',
      properties: { previousVersion: '3' },
    });
    const { body } = await monitor.metrics();
    assert.ok(body.includes('ledge_model_info{model="imdb",version="4"} 1'));
    assert.ok(!body.includes('ledge_model_info{model="imdb",version="3"}'));
  });
});

describe('delayed labels', () => {
  it('join to logged predictions: live accuracy, replaced labels, unknown ids', async (t) => {
    const monitor = monitorFor(t);
    monitor.onPredictions([
      prediction('a', 'pos', 0.9),
      prediction('b', 'pos', 0.7),
      prediction('c', 'neg', 0.2),
      prediction('d', 'neg', 0.1),
    ]);
    assert.deepEqual(monitor.feedback('a', 'pos'), { matched: true });
    assert.deepEqual(monitor.feedback('b', 'neg'), { matched: true });
    assert.deepEqual(monitor.feedback('c', 'neg'), { matched: true });
    assert.deepEqual(modelsOf(monitor)[0]!.accuracy, {
      value: 2 / 3,
      labelled: 3,
      correct: 2,
      windowLabels: 1000,
      windowSeconds: null,
    });
    // The second label for b replaces the first: 3 of 3 correct, still 3 labels.
    monitor.feedback('b', 'pos');
    assert.equal(modelsOf(monitor)[0]!.accuracy.value, 1);
    assert.equal(modelsOf(monitor)[0]!.accuracy.labelled, 3);
    assert.deepEqual(monitor.feedback('no-such-id', 'pos'), { matched: false });
    const { body } = await monitor.metrics();
    assert.ok(body.includes('ledge_live_accuracy{model="imdb",version="3"} 1\n'));
    assert.ok(body.includes('ledge_feedback_total{model="imdb",version="3",matched="true"} 4\n'));
    assert.ok(body.includes('ledge_feedback_total{model="",version="",matched="false"} 1\n'));
  });

  it('count in a sliding window, by labels and by time', (t) => {
    const time = clock();
    const monitor = monitorFor(t, { now: time.now, accuracy: { windowLabels: 3, windowSeconds: 60 } });
    monitor.onPredictions(['a', 'b', 'c', 'd', 'e'].map((id) => prediction(id, 'pos', 0.9)));
    monitor.feedback('a', 'neg'); // wrong
    monitor.feedback('b', 'pos');
    monitor.feedback('c', 'pos');
    monitor.feedback('d', 'pos'); // pushes a out of the 3-label window
    assert.deepEqual([modelsOf(monitor)[0]!.accuracy.value, modelsOf(monitor)[0]!.accuracy.labelled], [1, 3]);
    // a, relabelled after it left the window, counts once as a new label.
    monitor.feedback('a', 'neg');
    assert.deepEqual(
      [modelsOf(monitor)[0]!.accuracy.correct, modelsOf(monitor)[0]!.accuracy.labelled],
      [2, 3],
    );
    time.advance(61_000);
    monitor.feedback('e', 'neg');
    assert.deepEqual([modelsOf(monitor)[0]!.accuracy.value, modelsOf(monitor)[0]!.accuracy.labelled], [0, 1]);
  });

  it('only match sampled, recent predictions (bounded memory)', (t) => {
    const time = clock();
    const monitor = monitorFor(t, {
      now: time.now,
      predictionLog: { rememberLast: 5, rememberSeconds: 3600 },
    });
    monitor.onPredictions(Array.from({ length: 10 }, (_, i) => prediction(`p${i}`, 'pos', 0.9)));
    assert.equal(monitor.feedback('p4', 'pos').matched, false, 'evicted: only the last 5 are kept');
    assert.equal(monitor.feedback('p5', 'pos').matched, true);
    // A reused id refers to its latest prediction, and eviction still goes oldest first.
    monitor.onPredictions([prediction('p5', 'neg', 0.1)]);
    monitor.feedback('p5', 'neg');
    assert.equal(modelsOf(monitor)[0]!.accuracy.correct, 2);
    monitor.onPredictions([prediction('q1', 'pos', 0.9), prediction('q2', 'pos', 0.9)]);
    assert.equal(monitor.feedback('p7', 'pos').matched, false, 'evicted');
    assert.equal(monitor.feedback('p8', 'pos').matched, true);
    time.advance(3601_000);
    assert.equal(monitor.feedback('p9', 'pos').matched, false, 'expired');
    monitor.flushWindows();
    assert.equal((monitor.snapshot().predictionLog as { remembered: number }).remembered, 0);
  });
});

describe('input statistics for drift: a sample of a busy server', () => {
  it('asks for at most maxSamplesPerSecond (a token bucket of one window), always with a prediction log', async (t) => {
    const c = clock();
    const monitor = monitorFor(t, {
      now: c.now,
      drift: { windowSize: 100, minSamples: 10, maxSamplesPerSecond: 50 },
    });
    const wants = monitor.wantsInputStatistics!.bind(monitor);
    assert.equal(wants(100), true, 'a full bucket at the start');
    assert.equal(wants(1), false);
    c.advance(100); // 5 more
    assert.equal(wants(5), true);
    assert.equal(wants(1), false);
    c.advance(60_000); // never more than one window
    assert.equal(wants(60), true);
    assert.equal(wants(60), false);
    assert.equal(wants(40), true);
    // A request of more texts than a window still gets statistics once the bucket is full.
    c.advance(2_000);
    assert.equal(wants(500), true);

    // Predictions without statistics count in the metrics, not in the drift window.
    monitor.addModel?.('imdb', '1', undefined);
    monitor.onPredictions([
      prediction('a', 'pos', 0.9, { oovRate: Number.NaN }),
      prediction('b', 'neg', 0.1, { oovRate: Number.NaN }),
    ]);
    assert.match((await monitor.metrics()).body, /ledge_predictions_total\{[^}]*label="pos"[^}]*\} 1/);

    const logged = monitorFor(t, {
      now: c.now,
      drift: { windowSize: 100, minSamples: 10, maxSamplesPerSecond: 1 },
      predictionLog: { dir: tempDir(t) },
    });
    for (let i = 0; i < 5; i++)
      assert.equal(logged.wantsInputStatistics!(100), true, 'the log records them all');
  });
});

describe('prediction log sampling', () => {
  it('logs the configured share of predictions, and only those can get labels', async (t) => {
    const dir = tempDir(t);
    const monitor = monitorFor(t, {
      predictionLog: { dir, sampleRate: 0.25, hashText: true },
      random: seededRandom(5),
    });
    const events = Array.from({ length: 2000 }, (_, i) => prediction(`s${i}`, 'pos', 0.9));
    monitor.onPredictions(events);
    await monitor.close();
    const lines = fs.readFileSync(path.join(dir, 'predictions.jsonl'), 'utf8').trim().split('\n');
    assert.ok(lines.length > 400 && lines.length < 600, `${lines.length} of 2000 logged`);
    const logged = new Set(lines.map((line) => (JSON.parse(line) as { id: string }).id));
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(first.text, undefined);
    assert.match(String(first.text_sha256), /^[0-9a-f]{64}$/);
    const matched = events.filter((e) => monitor.feedback(e.id, 'pos').matched).map((e) => e.id);
    assert.deepEqual(new Set(matched), logged);
  });
});

describe('the dashboard snapshot', () => {
  it('holds throughput, latency quantiles, errors, scores and a one-second time series', (t) => {
    const time = clock();
    const monitor = monitorFor(t, { now: time.now });
    monitor.onModelLoaded('imdb', '3', 0.1);
    // 100 requests over 10 s taking 1…100 ms, one prediction each; every tenth a 500.
    for (let i = 1; i <= 100; i++) {
      time.advance(100);
      monitor.onRequest(request(i % 10 === 0 ? 500 : 200, i / 1000));
      monitor.onPredictions([prediction(`r${i}`, 'pos', (i - 0.5) / 100)]);
    }
    const [m] = modelsOf(monitor);
    assert.equal(m!.requests, 100);
    assert.equal(m!.errors, 10);
    assert.ok(Math.abs(m!.throughput - 10) < 1.1, `throughput ${m!.throughput}`);
    assert.ok(Math.abs(m!.predictionsPerSecond - 10) < 1.1);
    const near = (actual: number, expected: number) =>
      assert.ok(Math.abs(actual - expected) / expected <= 0.06, `${actual} vs ${expected}`);
    near(m!.latencyMs.p50, 50);
    near(m!.latencyMs.p95, 95);
    near(m!.latencyMs.p99, 99);
    assert.deepEqual(m!.scores.counts, Array(10).fill(10));
    assert.equal(m!.series.length, 60);
    assert.equal(
      m!.series.reduce((sum, p) => sum + p.requests, 0),
      100,
    );
    assert.equal(m!.series[59]!.t, Math.floor(time.now() / 1000) * 1000);
    // A minute later the traffic has left the windows.
    time.advance(61_000);
    const [later] = modelsOf(monitor);
    assert.deepEqual([later!.requests, later!.throughput, later!.latencyMs.p50], [0, 0, null]);
    assert.equal(NO_MONITORING.snapshot().monitoring, 'off');
  });
});

class MemorySink implements MonitoringSink {
  windows: WindowSummary[] = [];
  events: ServingEventRecord[] = [];
  fail = false;

  async recordWindow(summary: WindowSummary) {
    if (this.fail) throw new Error('database is locked');
    this.windows.push(summary);
  }

  async recordEvent(event: ServingEventRecord) {
    if (this.fail) throw new Error('database is locked');
    this.events.push(event);
  }
}

describe('window summaries and serving events', () => {
  it('reach the sink every window; idle windows are skipped; close flushes the last one', async (t) => {
    const time = clock();
    const sink = new MemorySink();
    const monitor = monitorFor(t, { now: time.now, sink, server: 'edge-1', windowSeconds: 10 });
    monitor.onServingEvent({
      kind: 'server-started',
      message: 'listening on :8080',
      properties: { port: 8080 },
    });
    monitor.onModelLoaded('imdb', '3', 0.5);
    for (let i = 0; i < 20; i++) {
      time.advance(500);
      monitor.onRequest(request(i === 0 ? 400 : 200, 0.002));
      monitor.onPredictions([prediction(`w${i}`, 'pos', 0.95)]);
    }
    monitor.feedback('w1', 'pos');
    monitor.flushWindows();
    time.advance(10_000);
    monitor.flushWindows(); // idle: nothing written
    time.advance(3_000);
    monitor.onRequest(request(200, 0.004));
    monitor.onServingEvent({ kind: 'server-stopped', message: 'drained' });
    await monitor.close();

    assert.equal(sink.windows.length, 2);
    const [first, last] = sink.windows;
    assert.deepEqual(
      {
        server: first!.server,
        model: first!.model,
        version: first!.version,
        startedAt: first!.startedAt,
        endedAt: first!.endedAt,
        requests: first!.requests,
        errors: first!.errors,
        throughput: first!.throughput,
        predictions: first!.predictions,
        liveAccuracy: first!.liveAccuracy,
        labelled: first!.labelled,
        drift: first!.drift,
      },
      {
        server: 'edge-1',
        model: 'imdb',
        version: '3',
        startedAt: new Date(T0).toISOString(),
        endedAt: new Date(T0 + 10_000).toISOString(),
        requests: 20,
        errors: 1,
        throughput: 2,
        predictions: 20,
        liveAccuracy: 1,
        labelled: 1,
        drift: null,
      },
    );
    assert.ok(Math.abs(first!.p50Ms! - 2) < 0.11 && Math.abs(first!.p99Ms! - 2) < 0.11);
    assert.deepEqual(first!.scores.counts, [0, 0, 0, 0, 0, 0, 0, 0, 0, 20]);
    assert.equal(first!.scores.edges.length, 11);
    assert.equal(last!.requests, 1);
    assert.equal(last!.startedAt, new Date(T0 + 20_000).toISOString());
    assert.deepEqual(
      sink.events.map((e) => [e.kind, e.model, e.version]),
      [
        ['server-started', null, null],
        ['model-loaded', 'imdb', '3'],
        ['server-stopped', null, null],
      ],
    );
    assert.deepEqual(sink.events[0]!.properties, { port: 8080 });
    assert.equal(sink.events[0]!.server, 'edge-1');
  });

  it('a failing sink is logged, never thrown into serving', async (t) => {
    const { lines, logger } = logCapture();
    const sink = new MemorySink();
    sink.fail = true;
    const monitor = monitorFor(t, { sink, logger });
    monitor.onModelLoaded('imdb', '3', 0.5);
    monitor.onRequest(request(200, 0.001));
    monitor.flushWindows();
    await monitor.close();
    const failures = lines.filter((l) => l.msg === 'monitoring sink failed');
    assert.equal(failures.length, 2);
    assert.deepEqual(failures[0]!.error, { message: 'database is locked' });
    assert.equal(failures[0]!.level, 'warn');
  });

  it('are sent by the monitor’s own timer', async (t) => {
    const sink = new MemorySink();
    const monitor = monitorFor(t, { sink, windowSeconds: 0.05 });
    monitor.onRequest(request(200, 0.001));
    const deadline = Date.now() + 5_000;
    while (sink.windows.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 150)); // later, idle windows are not sent
    assert.equal(sink.windows.length, 1);
  });
});

/** Live statistics like the IMDB ones: long-tailed token counts, OOV rates often exactly 0. */
function statistics(random: () => number) {
  return {
    tokens: () => 40 + Math.floor(random() * random() * 600),
    oovRate: () => (random() < 0.3 ? 0 : random() * 0.1),
    score: () => (random() < 0.5 ? random() * 0.3 : 0.7 + random() * 0.3),
  };
}

/** The reference profile of 5,000 draws, built the way training builds it. */
function referenceProfile(draw: ReturnType<typeof statistics>): ReferenceProfile {
  const n = 5000;
  const tokens = Float64Array.from({ length: n }, draw.tokens);
  const oov = Float64Array.from({ length: n }, draw.oovRate);
  const scores = Float64Array.from({ length: n }, draw.score);
  return {
    format: 'ledge.reference-profile',
    version: 1,
    examples: n,
    tokenCount: histogram(tokens, quantileEdges(tokens, 10)),
    oovRate: histogram(oov, quantileEdges(oov, 10)),
    score: histogram(scores, linearEdges(0, 1, 10)),
    labels: { neg: 0.5, pos: 0.5 },
  };
}

describe('drift on simulated statistics, default settings', () => {
  it('no alert for values drawn like the reference; an alert for shifted ones', async (t) => {
    const draw = statistics(seededRandom(3));
    const profile = referenceProfile(draw);
    const { lines, logger } = logCapture();
    const monitor = monitorFor(t, { logger });
    monitor.addModel('imdb', '3', profile);
    monitor.onModelLoaded('imdb', '3', 0.1);
    const events = (n: number, shift: (e: PredictionEvent) => PredictionEvent) =>
      Array.from({ length: n }, (_, i) =>
        shift(prediction(`d${i}`, 'pos', draw.score(), { tokens: draw.tokens(), oovRate: draw.oovRate() })),
      );
    // Before minSamples (300): values, but no alert whatever they are.
    monitor.onPredictions(events(200, (e) => ({ ...e, tokens: 3 })));
    monitor.evaluateDrift();
    assert.equal(modelsOf(monitor)[0]!.drift!.features.token_count!.alert, false);
    // 1,000 from the reference push those out of the window.
    monitor.onPredictions(events(1000, (e) => e));
    monitor.evaluateDrift();
    const calm = modelsOf(monitor)[0]!.drift!;
    t.diagnostic(
      `from the reference: ${JSON.stringify(calm.features, ['token_count', 'oov_rate', 'score', 'psi', 'ks'])}`,
    );
    assert.equal(calm.samples, 1000);
    for (const f of Object.values(calm.features)) assert.ok(f.psi < 0.05 && f.ks < 0.06 && !f.alert);
    // Half the window with four times the OOV rate.
    monitor.onPredictions(events(500, (e) => ({ ...e, oovRate: Math.min(1, e.oovRate * 4 + 0.05) })));
    monitor.evaluateDrift();
    const shifted = modelsOf(monitor)[0]!.drift!.features.oov_rate!;
    t.diagnostic(`half the window shifted: oov_rate PSI ${shifted.psi}, KS ${shifted.ks}`);
    assert.ok(shifted.alert && shifted.psi > 0.2);
    const warn = lines.find((l) => l.event === 'drift-alert-fired');
    assert.ok(warn);
    assert.deepEqual(
      [warn.level, warn.model, warn.version, warn.feature, warn.threshold],
      ['warn', 'imdb', '3', 'oov_rate', 0.2],
    );
  });
});

describe('robustness', () => {
  it('hooks never throw, whatever they are given', async (t) => {
    const monitor = monitorFor(t);
    const bad = undefined as unknown as string;
    monitor.onRequest({ ...request(200, Number.NaN), queueSeconds: Number.POSITIVE_INFINITY });
    monitor.onRequest(null as never);
    monitor.onBatch('imdb', '3', Number.NaN);
    monitor.onPredictions([prediction('x', bad, Number.NaN, { tokens: Number.NaN, text: bad })]);
    monitor.onPredictions(null as never);
    monitor.onModelLoaded('imdb', '3', Number.NaN);
    monitor.addModel('imdb', '3', { nonsense: true } as never);
    assert.deepEqual(monitor.feedback(bad, bad), { matched: false });
    assert.ok((await monitor.metrics()).body.includes('ledge_inference_requests_total'));
    assert.equal(typeof JSON.stringify(monitor.snapshot()), 'string');
  });

  it('keeps a bounded number of model versions (random names fold into model "")', (t) => {
    const monitor = monitorFor(t, { maxSeries: 4 });
    monitor.onModelLoaded('imdb', '3', 0.1);
    for (let i = 0; i < 1000; i++) monitor.onRequest({ ...request(404, 0.001), model: `fuzz-${i}` });
    const models = modelsOf(monitor);
    assert.ok(models.length <= 5, `${models.length} series`);
    assert.ok(models.some((m) => m.model === 'imdb'));
    assert.equal(
      models.reduce((sum, m) => sum + m.requests, 0),
      1000,
    );
  });

  it('refuses options that cannot work, with a one-line config error', () => {
    for (const options of [
      { drift: { minSamples: 2000 } },
      { drift: { windowSize: 0.5 } },
      { predictionLog: { sampleRate: 1.5 } },
      { windowSeconds: -1 },
      { predictionLog: { keepFiles: 0 } },
    ]) {
      assert.throws(
        () => createMonitor({ logger: SILENT_LOGGER, defaultMetrics: false, ...options }),
        (error: unknown) =>
          isLedgeError(error) && error.code === 'config' && /monitoring option/.test(error.message),
        JSON.stringify(options),
      );
    }
  });

  it('timers never keep the process alive', () => {
    const dist = path.resolve(
      path.dirname(fileURLToPath(import.meta.url)),
      '../../../src/runtime/monitoring',
    );
    const script = `import { createMonitor } from ${JSON.stringify(path.join(dist, 'create-monitor.js'))};
      const m = createMonitor({ windowSeconds: 1 });
      m.onRequest({ model: 'm', version: '1', endpoint: 'predict', status: 200, durationSeconds: 0.001, queueSeconds: 0 });`;
    const started = Date.now();
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 });
    assert.equal(result.status, 0, String(result.stderr));
    assert.ok(Date.now() - started < 5_000);
  });
});

describe('structured logs', () => {
  it('are one JSON object per line, with time, level and msg, and no secrets', () => {
    const { lines, logger } = logCapture();
    logger.info('model loaded', { model: 'imdb', seconds: 0.5 });
    logger.warn('webhook', { headers: { Authorization: 'Bearer x' }, password: 'p', apiKey: 'k' });
    logger.error('failed', { error: Object.assign(new Error('boom'), { code: 'EIO' }) });
    assert.deepEqual(Object.keys(lines[0]!), ['time', 'level', 'msg', 'model', 'seconds']);
    assert.match(String(lines[0]!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(lines[1]!.headers, { Authorization: '[redacted]' });
    assert.deepEqual([lines[1]!.password, lines[1]!.apiKey], ['[redacted]', '[redacted]']);
    assert.deepEqual(lines[2]!.error, { message: 'boom', code: 'EIO' });
    const quiet: string[] = [];
    const warnOnly = createJsonLogger({
      level: 'warn',
      stream: new Writable({
        write(chunk, _e, done) {
          quiet.push(String(chunk));
          done();
        },
      }),
    });
    warnOnly.info('dropped');
    warnOnly.warn('kept');
    assert.equal(quiet.length, 1);
  });
});
