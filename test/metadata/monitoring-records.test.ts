/**
 * Monitoring history in the metadata store (migration 0004), one suite on SQLite and on a real
 * PostgreSQL server: window summaries and serving events written, read back, pruned; and a
 * monitor writing through it as the server's sink.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { MonitoringRecords } from '../../src/metadata/monitoring-records.js';
import { startMonitoringRetention } from '../../src/metadata/monitoring-retention.js';
import { createMonitor } from '../../src/runtime/monitoring/create-monitor.js';
import { SILENT_LOGGER } from '../../src/runtime/monitoring/json-logger.js';
import type { MonitoringSink, WindowSummary } from '../../src/runtime/monitoring/monitoring-sink.js';
import { startPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp-dir.js';

const backends: { name: string; target: (t: TestContext) => Promise<string> }[] = [
  { name: 'SQLite', target: async (t) => path.join(tempDir(t), 'state', 'metadata.db') },
  { name: 'PostgreSQL', target: async (t) => (await startPostgres(t)).url },
];

async function open(t: TestContext, target: string): Promise<MetadataStore> {
  const store = await MetadataStore.open(target);
  t.after(() => store.close());
  return store;
}

const window = (startedAt: string, extra: Partial<WindowSummary> = {}): WindowSummary => ({
  server: 'edge-1',
  model: 'imdb-sentiment',
  version: '3',
  startedAt,
  endedAt: new Date(Date.parse(startedAt) + 10_000).toISOString(),
  requests: 120,
  errors: 2,
  throughput: 12,
  predictions: 130,
  p50Ms: 1.2,
  p95Ms: 3.4,
  p99Ms: 7.25,
  liveAccuracy: 0.875,
  labelled: 40,
  scores: { edges: [0, 0.5, 1], counts: [60, 70] },
  drift: {
    samples: 130,
    evaluatedAt: startedAt,
    features: {
      token_count: { psi: 0.01, ks: 0.02, alert: false, thresholds: { psi: 0.2, ks: 0.2 } },
      oov_rate: { psi: 3.5, ks: 0.9, alert: true, thresholds: { psi: 0.2, ks: 0.2 } },
      score: { psi: 0.05, ks: 0.04, alert: false, thresholds: { psi: 0.2, ks: 0.2 } },
    },
  },
  ...extra,
});

for (const backend of backends) {
  describe(`monitoring records on ${backend.name}`, () => {
    it('stores window summaries and serving events, and reads them back', async (t) => {
      const store = await open(t, await backend.target(t));
      const records = new MonitoringRecords(store.db);
      // The compiler checks that the metadata side implements the runtime's interface.
      const sink: MonitoringSink = records;
      await sink.recordWindow(window('2025-06-01T12:00:00.000Z'));
      await sink.recordWindow(
        window('2025-06-01T12:00:10.000Z', {
          requests: 0,
          p50Ms: null,
          p95Ms: null,
          p99Ms: null,
          liveAccuracy: null,
          labelled: 0,
          drift: null,
          throughput: Number.NaN,
        }),
      );
      await sink.recordWindow(window('2025-06-01T12:00:00.000Z', { version: '4', server: 'edge-2' }));
      await sink.recordEvent({
        at: '2025-06-01T12:00:00.000Z',
        server: 'edge-1',
        kind: 'server-started',
        model: null,
        version: null,
        message: 'listening on 127.0.0.1:8080',
        properties: { port: 8080 },
      });
      await sink.recordEvent({
        at: '2025-06-01T12:00:05.000Z',
        server: 'edge-1',
        kind: 'drift-alert-fired',
        model: 'imdb-sentiment',
        version: '3',
        message: 'drift on imdb-sentiment 3: oov_rate PSI 3.500 > 0.2',
        properties: { feature: 'oov_rate', psi: 3.5, ks: 0.9 },
      });

      const windows = await records.windows({ model: 'imdb-sentiment', version: '3' });
      assert.equal(windows.length, 2);
      const { id, ...first } = windows[0]!;
      assert.ok(id > 0);
      const { predictions: _, ...stored } = window('2025-06-01T12:00:00.000Z');
      assert.deepEqual(first, stored);
      assert.deepEqual(
        [windows[1]!.p50Ms, windows[1]!.liveAccuracy, windows[1]!.drift, windows[1]!.throughput],
        [null, null, null, 0],
      );
      assert.equal((await records.windows({ server: 'edge-2' }))[0]!.version, '4');
      assert.equal((await records.windows({ since: '2025-06-01T12:00:05.000Z' })).length, 1);
      assert.equal((await records.windows({ limit: 1 }))[0]!.startedAt, '2025-06-01T12:00:10.000Z');

      const events = await records.events();
      assert.deepEqual(
        events.map((e) => e.kind),
        ['drift-alert-fired', 'server-started'],
      );
      assert.deepEqual(events[1]!.properties, { port: 8080 });
      assert.equal(events[1]!.model, null);
      assert.equal((await records.events({ kinds: ['server-started'] })).length, 1);
      assert.equal((await records.events({ model: 'imdb-sentiment' }))[0]!.version, '3');

      assert.deepEqual(await records.prune('2025-06-01T12:00:15.000Z'), { windows: 2, events: 2 });
      assert.equal((await records.windows()).length, 1);
    });

    it('keeps the last N days of history: pruned at start and on its interval, never by 0 days', async (t) => {
      const store = await open(t, await backend.target(t));
      const records = new MonitoringRecords(store.db);
      for (const startedAt of [
        '2025-05-01T00:00:00.000Z',
        '2025-05-20T00:00:00.000Z',
        '2025-06-01T00:00:00.000Z',
      ])
        await records.recordWindow(window(startedAt));
      await records.recordEvent({
        at: '2025-05-01T00:00:01.000Z',
        server: 'edge-1',
        kind: 'server-started',
        model: null,
        version: null,
        message: 'serving',
        properties: {},
      });
      let now = Date.parse('2025-06-02T00:00:00.000Z');
      const pruned: { windows: number; events: number }[] = [];
      const none = startMonitoringRetention(records, { keepDays: 0, now: () => now });
      await none.settled;
      assert.equal((await records.windows()).length, 3);
      const retention = startMonitoringRetention(records, {
        keepDays: 30,
        intervalMs: 50,
        now: () => now,
        onPruned: (deleted) => pruned.push(deleted),
        onError: (error) => assert.fail(String(error)),
      });
      t.after(() => retention.stop());
      await retention.settled;
      assert.deepEqual(pruned[0], { windows: 1, events: 1 });
      assert.deepEqual(
        (await records.windows()).map((w) => w.startedAt),
        ['2025-05-20T00:00:00.000Z', '2025-06-01T00:00:00.000Z'],
      );
      now = Date.parse('2025-06-25T00:00:00.000Z'); // the May 20 window is now older than 30 days
      while ((await records.windows()).length > 1) await new Promise((resolve) => setTimeout(resolve, 20));
      retention.stop();
      await retention.settled;
      assert.deepEqual(
        (await records.windows()).map((w) => w.startedAt),
        ['2025-06-01T00:00:00.000Z'],
      );
      assert.throws(() => startMonitoringRetention(records, { keepDays: -1 }), /≥ 0/);
    });

    it('indexes windows by model, version and start, and events by time', async (t) => {
      const store = await open(t, await backend.target(t));
      const query =
        backend.name === 'SQLite'
          ? sql<{ name: string }>`select name from sqlite_master where type = 'index'`
          : sql<{ name: string }>`select indexname as name from pg_indexes`;
      const names = (await query.execute(store.db)).rows.map((row) => row.name);
      assert.ok(names.includes('monitoring_windows_by_model'));
      assert.ok(names.includes('serving_events_by_at'));
    });

    it('receives what a running monitor sends', async (t) => {
      const store = await open(t, await backend.target(t));
      const records = new MonitoringRecords(store.db);
      const monitor = createMonitor({
        sink: records,
        server: 'edge-9',
        logger: SILENT_LOGGER,
        defaultMetrics: false,
      });
      monitor.onServingEvent({ kind: 'server-started', message: 'listening', properties: { port: 1 } });
      monitor.onModelLoaded('imdb-sentiment', '3', 0.2);
      for (let i = 0; i < 5; i++) {
        monitor.onRequest({
          model: 'imdb-sentiment',
          version: '3',
          endpoint: 'predict',
          status: 200,
          durationSeconds: 0.003,
          queueSeconds: 0.001,
        });
        monitor.onPredictions([
          {
            id: `p${i}`,
            model: 'imdb-sentiment',
            version: '3',
            text: 'a fine film',
            tokens: 3,
            oovRate: 0,
            score: 0.91,
            label: 'pos',
          },
        ]);
      }
      monitor.feedback('p0', 'pos');
      monitor.onServingEvent({ kind: 'server-stopped', message: 'drained' });
      await monitor.close();
      const [row] = await records.windows({ server: 'edge-9' });
      assert.deepEqual(
        [row!.model, row!.version, row!.requests, row!.errors, row!.liveAccuracy, row!.labelled],
        ['imdb-sentiment', '3', 5, 0, 1, 1],
      );
      assert.ok(row!.p99Ms! > 2.8 && row!.p99Ms! < 3.2);
      assert.equal(
        row!.scores.counts.reduce((a, b) => a + b, 0),
        5,
      );
      assert.deepEqual((await records.events()).map((e) => e.kind).reverse(), [
        'server-started',
        'model-loaded',
        'server-stopped',
      ]);
    });
  });
}
