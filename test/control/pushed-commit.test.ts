/**
 * Runs of pushes and new commits run the pushed commit: a real bare `origin`, the server's
 * workspace cloned from it and a developer's clone that pushes. Through the real `ledge server`
 * with signed GitHub deliveries (coalesced pushes run the newest), then through the queue:
 * a dirty tree, a diverged branch and another checked-out branch refuse the run and leave the
 * workspace as it was; what ledge itself wrote (ledge.lock, .gitignore lines) is no edit.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { ledgeRunLauncher } from '../../src/control/queue/pipeline-launcher.js';
import { workspacePreparer } from '../../src/control/queue/run-preparer.js';
import { RunQueue } from '../../src/control/queue/run-queue.js';
import { githubSignature } from '../../src/control/triggers/webhook-signature.js';
import type { RunCause } from '../../src/metadata/control-runs.js';
import { LEDGE_BIN, runLedge } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/temp-dir.js';
import { countOf, openRecords, until } from './helpers/control-workspace.js';
import { gitIn, pushCommit, read, workspaceWithOrigin } from './helpers/git-remote.js';
import { api, startServer } from './helpers/server-process.js';

const SECRET = 'push secret';
/** Outputs already ignored, as a developer who ran the pipeline once committed them. */
const GITIGNORE = '.counts/\n.pids/\nhold\n/prepared.txt\n/model.txt\n';

function deliver(url: string, commit: string, delivery: string) {
  const body = JSON.stringify({ ref: 'refs/heads/main', after: commit, repository: { full_name: 'acme/m' } });
  return api(`${url}/api/webhooks/github`, 'POST', undefined, body, {
    'x-github-event': 'push',
    'x-github-delivery': delivery,
    'x-hub-signature-256': githubSignature(body, SECRET),
  });
}

describe('runs of pushed commits through ledge server', () => {
  it('a signed push runs the pushed commit; pushes during a run go to the newest in one follow-up', async (t) => {
    const { root, dev } = workspaceWithOrigin(t, {
      '.gitignore': GITIGNORE,
      '.ledge/server.yaml': `port: 0\npublic_read: true\ntriggers:\n  github: { secret_env: TEST_GITHUB_SECRET, branch: main }\n`,
    });
    fs.writeFileSync(path.join(root, 'hold'), '');
    const server = await startServer(t, root, [], { TEST_GITHUB_SECRET: SECRET });

    const a = pushCommit(dev, { 'input.txt': 'two\n' }, 'two');
    const first = await deliver(server.url, a, 'd-a');
    assert.equal(first.status, 202, first.text);
    // Its train stage holds: the workspace is at the pushed commit while it runs.
    await until(() => fs.existsSync(path.join(root, '.pids', 'train')) || undefined, 'train to start');
    assert.equal(gitIn(root, 'rev-parse', 'HEAD'), a);
    assert.equal(read(root, 'prepared.txt'), 'two\n');

    const b = pushCommit(dev, { 'input.txt': 'three\n' }, 'three');
    const second = await deliver(server.url, b, 'd-b');
    const c = pushCommit(dev, { 'input.txt': 'four\n' }, 'four');
    const third = await deliver(server.url, c, 'd-c');
    assert.equal(third.body.merged, true);
    assert.equal(third.body.run.id, second.body.run.id);
    fs.rmSync(path.join(root, 'hold'));

    const get = async (id: number) => (await api(`${server.url}/api/queue/${id}`, 'GET')).body;
    const done = await until(async () => {
      const run = await get(second.body.run.id);
      return run.status === 'queued' || run.status === 'running' ? undefined : run;
    }, 'the follow-up run to end');
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.properties.commit, c, 'the newest pushed commit ran');
    assert.equal((await get(first.body.run.id)).properties.commit, a);
    assert.equal(gitIn(root, 'rev-parse', 'HEAD'), c);
    assert.equal(read(root, 'prepared.txt'), 'four\n');
    assert.match(read(root, 'model.txt'), /^four\n/);
    const log = (await api(`${server.url}/api/queue/${done.id}/log`, 'GET')).text;
    assert.match(log, new RegExp(`fast-forwarded main from ${a} to ${c}`));
    const pipelineRun = (await api(`${server.url}/api/runs/${done.pipelineRunId}`, 'GET')).body;
    assert.equal(pipelineRun.gitCommit, c);
  });
});

describe('runs of pushed commits with the file-watch trigger on', () => {
  it("the server's own checkout of a push is not a save: one run per push; a real save still runs", async (t) => {
    const { root, dev } = workspaceWithOrigin(t, {
      '.gitignore': GITIGNORE,
      '.ledge/server.yaml':
        'port: 0\npublic_read: true\ntriggers:\n  watch: { debounce: 0.2 }\n' +
        '  github: { secret_env: TEST_GITHUB_SECRET, branch: main }\n',
    });
    const server = await startServer(t, root, [], { TEST_GITHUB_SECRET: SECRET });
    const runs = async () =>
      (await api(`${server.url}/api/queue`, 'GET')).body as {
        id: number;
        status: string;
        causes: { kind: string }[];
      }[];
    const settled = (list: { status: string }[]) =>
      list.every((r) => r.status !== 'queued' && r.status !== 'running');

    const pushed = pushCommit(
      dev,
      { 'input.txt': 'pushed\n', 'params.yaml': 'train:\n  epochs: 2\n' },
      'pushed',
    );
    assert.equal((await deliver(server.url, pushed, 'd-watch')).status, 202);
    await until(async () => {
      const list = await runs();
      return list.length > 0 && settled(list) ? list : undefined;
    }, 'the push run to end');
    // Longer than the debounce: a watcher taking the checkout for saves would have queued a run.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const afterPush = await runs();
    assert.deepEqual(
      afterPush.map((r) => [r.status, r.causes.map((c) => c.kind).join('+')]),
      [['succeeded', 'webhook']],
    );
    assert.equal(read(root, 'prepared.txt'), 'pushed\n');

    fs.writeFileSync(path.join(root, 'input.txt'), 'saved by hand\n');
    const saved = await until(async () => {
      const list = await runs();
      return list.length === 2 && settled(list) ? list : undefined;
    }, 'a run for the save');
    assert.ok(
      saved.some((r) => r.causes.some((c) => c.kind === 'file')),
      JSON.stringify(saved),
    );
  });
});

const push = (commit: string): RunCause => ({
  kind: 'webhook',
  at: new Date().toISOString(),
  provider: 'github',
  delivery: commit.slice(0, 8),
  branch: 'main',
  commit,
});

async function queueFor(t: TestContext, root: string) {
  const { metadata, records } = await openRecords(t, root);
  const logDir = path.join(root, '.ledge', 'state', 'control', 'runs');
  const ledge = [process.execPath, LEDGE_BIN];
  const queue = new RunQueue({
    records,
    metadata,
    lockPath: path.join(root, '.ledge', 'lock'),
    launcher: ledgeRunLauncher({ ledge, cwd: root, logDir }),
    preparer: workspacePreparer({ root, remote: 'origin', ledge, logDir }),
  });
  t.after(() => queue.stop({ cancelActive: true }));
  await queue.start();
  const runFor = async (cause: RunCause) => {
    const { run } = await queue.enqueue({ causes: [cause], stages: [] });
    await queue.idle();
    return records.get(run.id);
  };
  return { runFor };
}

describe('runs of pushed commits: refusals that leave the workspace as it was', () => {
  it('refuses a dirty tree, another branch and a diverged branch', async (t) => {
    const { root, dev } = workspaceWithOrigin(t, { '.gitignore': GITIGNORE });
    const { runFor } = await queueFor(t, root);
    const before = gitIn(root, 'rev-parse', 'HEAD');
    const pushed = pushCommit(dev, { 'input.txt': 'pushed\n' }, 'pushed');

    fs.writeFileSync(path.join(root, 'params.yaml'), 'train:\n  epochs: 99\n');
    const dirty = await runFor(push(pushed));
    assert.equal(dirty.status, 'failed');
    assert.equal(
      dirty.reason,
      `the workspace has uncommitted changes to params.yaml: commit ${pushed.slice(0, 12)} was not checked out (commit or stash them)`,
    );
    assert.equal(read(root, 'params.yaml'), 'train:\n  epochs: 99\n', 'the edit is kept');
    assert.equal(gitIn(root, 'rev-parse', 'HEAD'), before);
    assert.equal(countOf(root, 'train'), 0, 'nothing ran');
    gitIn(root, 'checkout', '--', 'params.yaml');

    gitIn(root, 'switch', '-q', '-c', 'feature');
    const elsewhere = await runFor(push(pushed));
    assert.equal(elsewhere.status, 'failed');
    assert.match(elsewhere.reason!, /^the workspace is on branch feature, not on main: /);
    gitIn(root, 'switch', '-q', 'main');

    fs.writeFileSync(path.join(root, 'input.txt'), 'local\n');
    gitIn(root, 'commit', '-qam', 'a local commit');
    const local = gitIn(root, 'rev-parse', 'HEAD');
    const diverged = await runFor(push(pushed));
    assert.equal(diverged.status, 'failed');
    assert.match(
      diverged.reason!,
      /^diverged: the workspace's main \(\w{12}\) is not an ancestor of the pushed /,
    );
    assert.equal(gitIn(root, 'rev-parse', 'HEAD'), local);
    assert.equal(read(root, 'input.txt'), 'local\n');
    assert.equal(countOf(root, 'train'), 0);
  });

  it('runs a commit HEAD contains as it is; what ledge wrote here (lock, .gitignore lines) gives way to the pushed commit', async (t) => {
    const { root, dev } = workspaceWithOrigin(t);
    const { runFor } = await queueFor(t, root);
    const head = gitIn(root, 'rev-parse', 'HEAD');
    const same = await runFor(push(head));
    assert.equal(same.status, 'succeeded', JSON.stringify(same));
    assert.equal(same.properties.commit, head);
    assert.match(gitIn(root, 'status', '--porcelain'), /^ ?M \.gitignore$/m, 'the run ignored its outputs');
    // The lock is committed and pushed, as docs/pipelines.md asks; then a run here rewrites it.
    gitIn(root, 'add', 'ledge.lock');
    gitIn(root, 'commit', '-qm', 'lock');
    gitIn(root, 'push', '-q', 'origin', 'main');
    fs.appendFileSync(path.join(root, 'ledge.lock'), '# rewritten by a run here\n');

    gitIn(dev, 'pull', '-q');
    fs.writeFileSync(path.join(dev, 'params.yaml'), 'train:\n  epochs: 5\n');
    const ran = await runLedge(['run'], { cwd: dev });
    assert.equal(ran.code, 0, ran.stderr);
    const pushed = pushCommit(dev, {}, 'epochs 5, with its lock');
    const run = await runFor(push(pushed));
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.properties.commit, pushed);
    assert.equal(gitIn(root, 'rev-parse', 'HEAD'), pushed);
    assert.match(read(root, 'model.txt'), /epochs: 5/);
    assert.equal(gitIn(root, 'status', '--porcelain', '--untracked-files=no'), '');
  });

  it('pulls the data a pushed commit names from the default data remote', async (t) => {
    const { root, dev } = workspaceWithOrigin(t);
    const { runFor } = await queueFor(t, root);
    const store = path.join(tempDir(t, 'ledge-data-remote-'), 'store');
    const inDev = async (...args: string[]) => {
      const result = await runLedge(args, { cwd: dev });
      assert.equal(result.code, 0, `ledge ${args.join(' ')}: ${result.stderr}`);
    };
    // The developer adds data, pushes its objects to the data remote and its pointer to git.
    await inDev('remote', 'add', 'store', store, '--default');
    writeTree(dev, { 'data/extra.txt': 'only on the data remote\n' });
    await inDev('add', 'data/extra.txt');
    await inDev('push');
    const pushed = pushCommit(dev, {}, 'extra data');

    const run = await runFor(push(pushed));
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(read(root, 'data/extra.txt'), 'only on the data remote\n');
    assert.match(read(root, path.join('.ledge', 'state', 'control', 'runs', `${run.id}.log`)), /ledge pull/);
  });
});
