/**
 * `ledge serve` as users run it, in a child process: it prints where it listens, SIGHUP reloads
 * the model, SIGTERM in the middle of a load lets the requests in flight finish and exits 0;
 * a bundle that cannot load and a bad flag fail at once, with the usual exit codes.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { finished, runLedge, startLedge, waitFor } from '../../helpers/cli.js';
import { type TrainedModel, trainTestModel } from './server-fixture.js';

let trained: TrainedModel;

/** Output of a child as it arrives. */
function collect(child: ChildProcess): { out: string; err: string } {
  const seen = { out: '', err: '' };
  child.stdout!.on('data', (chunk: Buffer) => {
    seen.out += chunk.toString('utf8');
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    seen.err += chunk.toString('utf8');
  });
  return seen;
}

describe('ledge serve', () => {
  before(async () => {
    trained = await trainTestModel();
  });
  after(() => trained?.cleanup());

  it('serves, reloads on SIGHUP, and on SIGTERM finishes the requests in flight and exits 0', async (t) => {
    // Requests wait up to 5 s for a batch to fill: SIGTERM arrives while they are queued.
    const child = startLedge(['serve', 'model', '--port', '0', '--max-delay-ms', '5000'], {
      cwd: trained.root,
      t,
    });
    const seen = collect(child);
    // The last line printed on start.
    await waitFor(() => seen.out.includes('/v2/repository/models/imdb-sentiment/load\n'), 'the endpoints');
    assert.match(seen.out, /^serving imdb-sentiment version 1 at http:\/\/127\.0\.0\.1:\d+\n/);
    const url = /at (http:\/\/\S+)\n/.exec(seen.out)![1]!;
    const lines = seen.out.trim().split('\n');
    assert.ok(lines.includes(`  POST ${url}/v2/models/imdb-sentiment/infer`), seen.out);
    assert.ok(lines.includes(`  POST ${url}/v1/models/imdb-sentiment:predict`), seen.out);
    assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);

    child.kill('SIGHUP');
    await waitFor(() => seen.err.includes('reloaded imdb-sentiment version 1'), 'the reload');

    const started = performance.now();
    const inFlight = trained.texts.slice(0, 16).map(async (text) => {
      const response = await fetch(`${url}/v1/models/imdb-sentiment:predict`, {
        method: 'POST',
        body: JSON.stringify({ instances: [text] }),
      });
      return { status: response.status, body: (await response.json()) as { predictions?: unknown[] } };
    });
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGTERM');
    const answers = await Promise.all(inFlight);
    const waited = performance.now() - started;
    assert.deepEqual(
      answers.map((a) => a.status),
      new Array(16).fill(200),
    );
    assert.ok(answers.every((a) => a.body.predictions?.length === 1));
    assert.ok(waited < 4500, `shutdown ran the queued batch at once (${Math.round(waited)} ms)`);

    const result = await finished(child);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /shutting down: finishing requests in flight/);
    assert.match(result.stderr, /stopped/);
    await assert.rejects(fetch(`${url}/v2/health/live`), 'the port is closed');
  });

  it('in a workspace: serves a registered model by reference, logs predictions, and records its events', async (t) => {
    const root = trained.root;
    const init = await runLedge(['init'], { cwd: root });
    assert.equal(init.code, 0, init.stderr);
    const registered = await runLedge(
      ['model', 'register', 'model', '--name', 'imdb-sentiment', '--alias', 'production'],
      {
        cwd: root,
      },
    );
    assert.equal(registered.code, 0, registered.stderr);
    const child = startLedge(['serve', 'imdb-sentiment@production', '--port', '0', '--hash-text'], {
      cwd: root,
      t,
    });
    const seen = collect(child);
    await waitFor(() => /at http:\/\/\S+\n/.test(seen.out), 'the server');
    assert.match(seen.out, /^serving imdb-sentiment version 1 at /);
    const url = /at (http:\/\/\S+)\n/.exec(seen.out)![1]!;
    const response = await fetch(`${url}/v1/models/imdb-sentiment:predict`, {
      method: 'POST',
      body: JSON.stringify({ instances: ['a moving, beautiful film'] }),
    });
    const { predictions } = (await response.json()) as { predictions: { id: string }[] };
    const feedback = await fetch(`${url}/v1/feedback`, {
      method: 'POST',
      body: JSON.stringify({ id: predictions[0]!.id, label: 'pos' }),
    });
    assert.equal(feedback.status, 200);
    assert.match(
      await (await fetch(`${url}/metrics`)).text(),
      /ledge_live_accuracy\{model="imdb-sentiment",version="1"\} 1/,
    );
    child.kill('SIGTERM');
    const result = await finished(child);
    assert.equal(result.code, 0, result.stderr);

    // The prediction log holds a hash of the text, not the text.
    const log = fs.readFileSync(
      path.join(root, '.ledge', 'serving', 'imdb-sentiment', 'predictions.jsonl'),
      'utf8',
    );
    assert.match(log, /"text_sha256":"[0-9a-f]{64}"/);
    assert.doesNotMatch(log, /moving, beautiful/);
    // Serving events and the last monitoring window reached the metadata store.
    const { MetadataStore } = await import('../../../src/metadata/metadata-store.js');
    const metadata = await MetadataStore.open(path.join(root, '.ledge', 'state', 'metadata.db'));
    try {
      const kinds = (
        await metadata.db.selectFrom('serving_events').select('kind').orderBy('id').execute()
      ).map((r) => r.kind);
      assert.deepEqual(
        kinds.filter((k) => k !== 'model-loaded'),
        ['server-started', 'server-stopped'],
      );
      const windows = await metadata.db.selectFrom('monitoring_windows').selectAll().execute();
      assert.ok(windows.reduce((n, w) => n + Number(w.requests), 0) >= 1, 'the requests were summarised');
    } finally {
      await metadata.close();
    }
  });

  it('fails at once, exit 1, when the bundle cannot load; exit 2 on a bad flag', async () => {
    const broken = path.join(trained.root, 'broken');
    fs.cpSync(trained.model, broken, { recursive: true });
    fs.writeFileSync(path.join(broken, 'model.onnx'), 'garbage');
    const failed = await runLedge(['serve', 'broken', '--port', '0'], { cwd: trained.root });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /ledge: error: cannot load version 1 of 'imdb-sentiment'/);
    const usage = await runLedge(['serve', 'model', '--port', 'eighty'], { cwd: trained.root });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--port must be an integer/);
  });
});
