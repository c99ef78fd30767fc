/**
 * Continuous delivery through the queue: a pipeline that trains the IMDB model on the bundled
 * sample and ends in `ledge deploy` behind the quality gate. A model the gate refuses makes the
 * run `gated` with the gate's reason (and the pipeline run too), not `failed`; nothing is deployed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ledgeRunLauncher } from '../../src/control/queue/pipeline-launcher.js';
import { RunQueue } from '../../src/control/queue/run-queue.js';
import { listDeployments } from '../../src/metadata/deployments.js';
import { LEDGE_BIN, runLedge } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { PREPARE_AND_TRAIN } from '../helpers/imdb-sample-pipeline.js';
import { controlWorkspace, openRecords, until } from './helpers/control-workspace.js';
import { api, startServer } from './helpers/server-process.js';

const PIPELINE = `${PREPARE_AND_TRAIN}  deploy:
    cmd: ledge deploy models/imdb-sentiment --cause "continuous delivery"
    deps: [models/imdb-sentiment]
`;

describe('continuous delivery', () => {
  it('records a run whose deploy stage the quality gate refuses as gated, with the reason', async (t) => {
    const root = controlWorkspace(t, {
      'ledge.yaml': PIPELINE,
      'params.yaml': 'prepare:\n  seed: 0\ntrain:\n  bits: 16\n  epochs: 1\n',
      '.ledge/deploy.yaml': 'targets:\n  local:\n    port: 1\n    gate: { metric: accuracy, min: 0.999 }\n',
    });
    const { metadata, records } = await openRecords(t, root);
    const queue = new RunQueue({
      records,
      metadata,
      lockPath: path.join(root, '.ledge', 'lock'),
      launcher: ledgeRunLauncher({
        ledge: [process.execPath, LEDGE_BIN],
        cwd: root,
        logDir: path.join(root, '.ledge', 'state', 'control', 'runs'),
      }),
    });
    t.after(() => queue.stop({ cancelActive: true }));
    await queue.start();
    const { run } = await queue.enqueue({
      causes: [{ kind: 'file', at: new Date().toISOString(), paths: ['params.yaml'] }],
      stages: [],
    });
    await queue.idle();
    const ended = await records.get(run.id);
    assert.equal(ended.status, 'gated', JSON.stringify(ended));
    assert.match(
      ended.reason ?? '',
      /^quality gate: refusing models\/imdb-sentiment on target 'local': validation\.accuracy [0-9.]+ .*below the minimum 0\.999/,
    );
    assert.ok(ended.pipelineRunId !== null);
    const [pipelineRun] = await metadata.listExecutions({ type: 'run', limit: 1 });
    assert.equal(pipelineRun?.id, ended.pipelineRunId);
    assert.equal(pipelineRun?.status, 'gated');
    assert.equal(JSON.parse(pipelineRun!.properties).gate, ended.reason);
    assert.ok(fs.existsSync(path.join(root, 'models', 'imdb-sentiment')), 'the model was trained');
    const status = await runLedge(['deploy', 'status', '--json'], { cwd: root });
    assert.doesNotMatch(status.stdout, /"active"/, 'nothing was deployed');
  });

  it('edit params.yaml → a run starts by itself → trained → deployed to the local target', async (t) => {
    const port = await freePort();
    // Registered before the workspace: hooks run in order, and the supervisor must stop before
    // its directory is removed.
    let root = '';
    t.after(async () => {
      if (root) await runLedge(['deploy', 'stop'], { cwd: root });
    });
    root = controlWorkspace(t, {
      'ledge.yaml': PIPELINE,
      'params.yaml': 'prepare:\n  seed: 0\ntrain:\n  bits: 16\n  epochs: 1\n',
      '.ledge/deploy.yaml': `targets:\n  local:\n    port: ${port}\n    gate: { metric: accuracy, min: 0.5, against_deployed: false }\n`,
      '.ledge/server.yaml': 'port: 0\npublic_read: true\ntriggers:\n  watch: { debounce: 0.3 }\n',
    });
    const first = await runLedge(['trigger', '--json'], { cwd: root });
    assert.equal(first.code, 0, first.stderr);
    const server = await startServer(t, root);
    const { metadata } = await openRecords(t, root);
    const active = async () => (await listDeployments(metadata.db, { status: ['active'] }))[0];
    const before = await active();
    assert.ok(before, 'the first run deployed the model');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const saved = Date.now();
    fs.writeFileSync(
      path.join(root, 'params.yaml'),
      'prepare:\n  seed: 0\ntrain:\n  bits: 16\n  epochs: 2\n',
    );
    const next = await until(
      async () => {
        const now = await active();
        return now && now.id !== before.id ? now : undefined;
      },
      'the new model to serve',
      120_000,
    );
    const servingMs = Date.now() - saved;
    const { body: runs } = await api(`${server.url}/api/queue`, 'GET');
    const run = runs.find((r: { causes: { kind: string }[] }) => r.causes.some((c) => c.kind === 'file'));
    assert.ok(run, 'a run triggered by the saved file');
    const startMs = Date.parse(run.startedAt) - saved;
    const answer = await fetch(`http://127.0.0.1:${port}/v2/health/ready`);
    assert.equal(answer.status, 200);
    assert.equal(next.cause, 'continuous delivery');
    t.diagnostic(
      `saved params.yaml → run started ${startMs} ms → new model serving ${servingMs} ms (debounce 300 ms)`,
    );
  });
});
