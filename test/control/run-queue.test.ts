/**
 * The run queue against real `ledge run` child processes on a tiny pipeline: runs never
 * overlap, a burst of triggers becomes one follow-up run, cancelling stops the stage's process
 * tree, failures and causes are recorded.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { ledgeRunLauncher } from '../../src/control/queue/pipeline-launcher.js';
import { RunQueue } from '../../src/control/queue/run-queue.js';
import type { ControlRun, RunCause } from '../../src/metadata/control-runs.js';
import { LEDGE_BIN } from '../helpers/cli.js';
import { controlWorkspace, countOf, openRecords, pidAlive, until } from './helpers/control-workspace.js';

const manual = (note: string): RunCause => ({ kind: 'manual', at: new Date().toISOString(), note });

async function queueFor(t: TestContext, root: string, graceMs = 5_000) {
  const { metadata, records } = await openRecords(t, root);
  const changes: ControlRun[] = [];
  const queue = new RunQueue({
    records,
    metadata,
    lockPath: path.join(root, '.ledge', 'lock'),
    graceMs,
    launcher: ledgeRunLauncher({
      ledge: [process.execPath, LEDGE_BIN],
      cwd: root,
      logDir: path.join(root, '.ledge', 'state', 'control', 'runs'),
    }),
    onChange: (run) => changes.push(run),
  });
  t.after(() => queue.stop({ cancelActive: true }));
  await queue.start();
  return { queue, records, metadata, changes };
}

describe('run queue', () => {
  it('runs a queued request with ledge run and links the pipeline run and its cause', async (t) => {
    const root = controlWorkspace(t);
    const { queue, records, metadata } = await queueFor(t, root);
    const { run } = await queue.enqueue({ causes: [manual('first')], stages: [] });
    await queue.idle();
    const done = await records.get(run.id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.exitCode, 0);
    assert.ok(done.pipelineRunId !== null);
    assert.equal(countOf(root, 'train'), 1);
    const [execution] = await metadata.listExecutions({ type: 'run', limit: 1 });
    assert.equal(execution?.id, done.pipelineRunId);
    assert.equal(execution?.cause, `control run ${run.id}: manual: first`);
  });

  it('never overlaps runs and coalesces triggers that arrive during a run into one follow-up', async (t) => {
    const root = controlWorkspace(t, { hold: '' });
    const { queue, records } = await queueFor(t, root);
    const first = await queue.enqueue({ causes: [manual('a')], stages: ['train'] });
    assert.equal(first.run.status, 'running');
    const later = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        queue.enqueue({ causes: [manual(`b${i}`)], stages: i % 2 === 0 ? ['train'] : ['prepare'] }),
      ),
    );
    const ids = new Set(later.map((r) => r.run.id));
    assert.equal(ids.size, 1, 'every trigger during the run joins one queued run');
    assert.equal(later.filter((r) => r.merged).length, 19);
    fs.writeFileSync(path.join(root, 'input.txt'), 'two\n');
    fs.rmSync(path.join(root, 'hold'));
    await queue.idle();
    const runs = await records.list();
    assert.equal(runs.length, 2);
    const follow = runs[0]!;
    assert.deepEqual(new Set(follow.stages), new Set(['train', 'prepare']));
    assert.equal(follow.causes.length, 20);
    assert.deepEqual(
      runs.map((r) => r.status),
      ['succeeded', 'succeeded'],
    );
    // The follow-up started only after the first ended.
    assert.ok(follow.startedAt! >= runs[1]!.endedAt!);
  });

  it('cancels a running run: the stage process tree stops, the lock is released', async (t) => {
    const root = controlWorkspace(t, { hold: '' });
    const { queue, records } = await queueFor(t, root);
    const { run } = await queue.enqueue({ causes: [manual('to cancel')], stages: [] });
    const pidFile = path.join(root, '.pids', 'train');
    const stagePid = await until(
      () => (fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) || undefined : undefined),
      'the train stage to start',
    );
    assert.ok(pidAlive(stagePid));
    const queued = await queue.enqueue({ causes: [manual('queued')], stages: [] });
    await queue.cancel(queued.run.id, 'test');
    await queue.cancel(run.id, 'test');
    await queue.idle();
    const ended = await records.get(run.id);
    assert.equal(ended.status, 'cancelled');
    assert.equal(ended.reason, 'cancelled by test');
    assert.equal((await records.get(queued.run.id)).status, 'cancelled');
    await until(() => !pidAlive(stagePid), 'the stage process to end', 5_000);
    assert.equal(fs.existsSync(path.join(root, '.ledge', 'lock')), false, 'workspace lock released');
    assert.equal(countOf(root, 'train'), 0);
  });

  it('records a failing run as failed with the error line', async (t) => {
    const root = controlWorkspace(t);
    fs.writeFileSync(path.join(root, 'input.txt'), 'x\n');
    fs.writeFileSync(
      path.join(root, 'ledge.yaml'),
      'stages:\n  broken:\n    cmd: echo about to fail && exit 3\n    deps: [input.txt]\n',
    );
    const { queue, records } = await queueFor(t, root);
    const { run } = await queue.enqueue({ causes: [manual('fail')], stages: [] });
    await queue.idle();
    const ended = await records.get(run.id);
    assert.equal(ended.status, 'failed');
    assert.equal(ended.exitCode, 1);
    assert.match(ended.reason ?? '', /stage 'broken'/);
    assert.ok(ended.pipelineRunId !== null);
  });
});
