/**
 * Drift end to end with a real model: reviews it never saw raise no alert; shuffled words,
 * foreign words and short texts do, with a warn log line and a webhook POST to a real local
 * HTTP server; the alert resolves (and posts again) when traffic is back in distribution.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { seededRandom } from '../../../src/ml/train/seeded-random.js';
import type { DriftAlertPayload } from '../../../src/runtime/monitoring/alert-webhook.js';
import { createMonitor, type ServingMonitor } from '../../../src/runtime/monitoring/create-monitor.js';
import { createJsonLogger } from '../../../src/runtime/monitoring/json-logger.js';
import type { PredictionEvent } from '../../../src/runtime/monitoring/monitor.js';
import { foreignWords, type ImdbFixture, imdbFixture, shortTexts, shuffledWords } from './imdb-fixture.js';

interface Webhook {
  url: string;
  received: { headers: http.IncomingHttpHeaders; body: DriftAlertPayload }[];
  close(): Promise<void>;
}

async function startWebhook(): Promise<Webhook> {
  const received: Webhook['received'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(body) as DriftAlertPayload });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/ledge?token=s3cret`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
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

/** Sends events in batches of 16, as a batching server would. */
function send(monitor: ServingMonitor, events: PredictionEvent[]): void {
  for (let i = 0; i < events.length; i += 16) monitor.onPredictions(events.slice(i, i + 16));
}

type Features = Record<string, { psi: number; ks: number; alert: boolean }>;

function driftOf(monitor: ServingMonitor, version: string): Features {
  const models = monitor.snapshot().models as { version: string; drift: { features: Features } }[];
  return models.find((m) => m.version === version)!.drift.features;
}

const fmt = (f: Features) =>
  Object.entries(f)
    .map(([name, v]) => `${name} PSI ${v.psi.toFixed(3)} KS ${v.ks.toFixed(3)}${v.alert ? ' ALERT' : ''}`)
    .join(', ');

describe('drift alerts with a real model', () => {
  let fixture: ImdbFixture;
  let webhook: Webhook;

  before(async () => {
    fixture = await imdbFixture();
    webhook = await startWebhook();
  });
  after(async () => {
    await webhook?.close();
    await fixture?.close();
  });

  it('stays quiet on reviews the model never saw, and fires on shifted ones', async (t) => {
    const { lines, logger } = logCapture();
    const monitor = createMonitor({
      logger,
      defaultMetrics: false,
      server: 'test-server',
      profileFor: () => fixture.profile,
      drift: { windowSize: 400, minSamples: 300, evaluateEvery: 100 },
      webhook: { url: webhook.url, timeoutMs: 2_000, headers: { authorization: 'Bearer hook-secret' } },
    });
    t.after(() => monitor.close());
    const random = seededRandom(7);
    const sets: [string, string[]][] = [
      ['1', fixture.heldOut],
      ['2', shuffledWords(fixture.heldOut, random)],
      ['3', foreignWords(fixture.heldOut, random)],
      ['4', shortTexts(fixture.heldOut)],
    ];
    for (const [version, texts] of sets) {
      monitor.onModelLoaded('imdb-sentiment', version, 0.01);
      send(monitor, await fixture.events(texts, version, `v${version}`));
    }
    monitor.evaluateDrift();

    const inDistribution = driftOf(monitor, '1');
    t.diagnostic(`held-out reviews: ${fmt(inDistribution)}`);
    for (const [name, f] of Object.entries(inDistribution)) {
      assert.ok(f.psi < 0.2 && f.ks < 0.2, `in-distribution ${name}: PSI ${f.psi}, KS ${f.ks}`);
      assert.equal(f.alert, false);
    }
    const shuffled = driftOf(monitor, '2');
    const foreign = driftOf(monitor, '3');
    const short = driftOf(monitor, '4');
    t.diagnostic(`shuffled words: ${fmt(shuffled)}`);
    t.diagnostic(`foreign words: ${fmt(foreign)}`);
    t.diagnostic(`short texts: ${fmt(short)}`);
    // Shuffling keeps the words (tokens, OOV unchanged) but breaks the word pairs the model
    // learned from: its scores lose confidence.
    assert.deepEqual(shuffled.token_count, inDistribution.token_count);
    assert.deepEqual(shuffled.oov_rate, inDistribution.oov_rate);
    assert.ok(shuffled.score!.alert, 'shuffled words move the score distribution');
    assert.ok(foreign.oov_rate!.alert && foreign.oov_rate!.psi > 1, 'foreign words raise the OOV rate');
    assert.ok(short.token_count!.alert && short.token_count!.psi > 1, 'short texts move the token count');

    // One warn line per alert, with what crossed which threshold; no secrets in any line.
    const warnings = lines.filter((l) => l.level === 'warn' && l.event === 'drift-alert-fired');
    const fired = warnings.map((l) => `${l.version}/${l.feature}`).sort();
    assert.ok(fired.includes('2/score') && fired.includes('3/oov_rate') && fired.includes('4/token_count'));
    assert.ok(!fired.some((f) => f.startsWith('1/')), `in-distribution fired: ${fired}`);
    for (const line of warnings) {
      assert.equal(line.model, 'imdb-sentiment');
      assert.ok((line.value as number) > (line.threshold as number));
      assert.ok(['psi', 'ks'].includes(line.statistic as string));
    }
    const all = JSON.stringify(lines);
    assert.ok(!all.includes('s3cret') && !all.includes('hook-secret'), 'a secret reached the logs');

    // Metrics carry the values and the alert count.
    const { body } = await monitor.metrics();
    assert.match(body, /ledge_drift_psi\{model="imdb-sentiment",version="3",feature="oov_rate"\} \d/);
    assert.match(body, /ledge_drift_ks\{model="imdb-sentiment",version="4",feature="token_count"\} 0\.\d/);
    assert.match(body, /ledge_drift_alerts_total\{model="imdb-sentiment",version="3",feature="oov_rate"\} 1/);
    assert.match(body, /ledge_drift_alert_active\{model="imdb-sentiment",version="1",feature="score"\} 0/);

    // Back in distribution: version 3's alert clears (and posts "resolved"); no re-fire meanwhile.
    send(monitor, await fixture.events(fixture.heldOut, '3', 'again'));
    monitor.evaluateDrift();
    assert.equal(driftOf(monitor, '3').oov_rate!.alert, false);
    await monitor.close();

    const posts = webhook.received.map((r) => r.body);
    const firing = posts.filter((p) => p.status === 'firing');
    assert.deepEqual(
      firing.map((p) => `${p.version}/${p.feature}`).sort(),
      fired,
      'one webhook per fired alert, none repeated',
    );
    const resolved = posts.filter((p) => p.status === 'resolved');
    assert.ok(resolved.some((p) => p.version === '3' && p.feature === 'oov_rate'));
    const oov = firing.find((p) => p.version === '3' && p.feature === 'oov_rate')!;
    assert.equal(oov.type, 'ledge.drift-alert');
    assert.equal(oov.server, 'test-server');
    assert.deepEqual(oov.thresholds, { psi: 0.2, ks: 0.2 });
    assert.ok(oov.samples >= 300 && oov.psi > 1 && typeof oov.message === 'string');
    assert.equal(webhook.received[0]!.headers['content-type'], 'application/json');
    assert.equal(webhook.received[0]!.headers.authorization, 'Bearer hook-secret');
  });

  it('logs a webhook that cannot be reached, and serving goes on', async (t) => {
    const { lines, logger } = logCapture();
    const monitor = createMonitor({
      logger,
      defaultMetrics: false,
      profileFor: () => fixture.profile,
      drift: { windowSize: 400, minSamples: 300 },
      webhook: { url: 'http://127.0.0.1:9/unreachable', timeoutMs: 500 },
    });
    t.after(() => monitor.close());
    send(monitor, await fixture.events(shortTexts(fixture.heldOut), '1', 'short'));
    monitor.evaluateDrift();
    await monitor.close();
    const failed = lines.find((l) => l.msg === 'drift alert webhook failed');
    assert.ok(failed, JSON.stringify(lines));
    assert.equal(failed.level, 'warn');
    assert.equal(failed.url, 'http://127.0.0.1:9/unreachable');
  });
});
