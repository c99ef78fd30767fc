/**
 * The triggers: cron schedules under a controllable clock, the pipeline-change watcher (what
 * counts as a change, debounce, coalescing), and new commits on a branch of a real git
 * repository; then both end to end through `ledge server`, timing a saved change to its run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/control/clock.js';
import { silentLogger } from '../../src/control/log.js';
import type { RunRequest } from '../../src/control/queue/coalesce.js';
import { parseServerConfig } from '../../src/control/server-config.js';
import { FileWatchTrigger } from '../../src/control/triggers/file-watch-trigger.js';
import { GitBranchTrigger } from '../../src/control/triggers/git-branch-trigger.js';
import { ScheduleTrigger } from '../../src/control/triggers/schedule-trigger.js';
import { isWatchedChange, watchSetOf } from '../../src/control/triggers/watch-set.js';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { TriggerRecords } from '../../src/metadata/trigger-records.js';
import { parsePipeline } from '../../src/pipeline/pipeline-file.js';
import { runLedge } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';
import { controlWorkspace, openRecords, PIPELINE, sleep, until } from './helpers/control-workspace.js';
import { gitIn, pushCommit, workspaceWithOrigin } from './helpers/git-remote.js';
import { ManualClock } from './helpers/manual-clock.js';
import { api, startServer } from './helpers/server-process.js';

function collector() {
  const requests: RunRequest[] = [];
  return { requests, enqueue: async (request: RunRequest) => void requests.push(request) };
}

describe('schedule trigger', () => {
  it('asks for a run at each time of the cron expression, as the clock moves', async () => {
    const clock = new ManualClock('2026-11-27T10:01:30.000Z');
    const { requests, enqueue } = collector();
    const trigger = new ScheduleTrigger(
      [
        { name: 'five', cron: '*/5 * * * *', stages: ['train'] },
        { cron: '0 3 * * *', timezone: 'Europe/Paris', stages: [] },
      ],
      enqueue,
      clock,
      silentLogger,
    );
    await trigger.start();
    clock.advanceTo('2026-11-27T10:04:59.000Z');
    assert.equal(requests.length, 0);
    clock.advanceTo('2026-11-27T10:05:00.000Z');
    assert.equal(requests.length, 1);
    assert.deepEqual(requests[0]!.stages, ['train']);
    assert.equal(requests[0]!.causes[0]!.kind, 'schedule');
    assert.equal(requests[0]!.causes[0]!.scheduledFor, '2026-11-27T10:05:00.000Z');
    assert.equal(requests[0]!.causes[0]!.name, 'five');
    clock.advanceTo('2026-11-27T10:21:00.000Z');
    assert.deepEqual(
      requests.map((r) => r.causes[0]!.scheduledFor),
      ['10:05', '10:10', '10:15', '10:20'].map((t) => `2026-11-27T${t}:00.000Z`),
    );
    // 03:00 in Paris is 02:00 UTC in winter.
    clock.advanceTo('2026-11-28T02:00:00.000Z');
    const paris = requests.filter((r) => r.causes[0]!.cron === '0 3 * * *');
    assert.deepEqual(
      paris.map((r) => r.causes[0]!.scheduledFor),
      ['2026-11-28T02:00:00.000Z'],
    );
    await trigger.stop();
    assert.equal(clock.pending, 0);
    clock.advanceTo('2026-11-29T00:00:00.000Z');
    assert.equal(paris.length, 1);
  });
});

describe('schedule catch-up', () => {
  it('makes up for times missed while stopped in one run; the last fire time is kept in the metadata store', async (t) => {
    const metadata = await MetadataStore.open(path.join(tempDir(t), 'metadata.db'));
    t.after(() => metadata.close());
    const memory = { state: new TriggerRecords(metadata), keyPrefix: 'schedule:test:' };
    const entries = [
      { name: 'hourly', cron: '0 * * * *', stages: ['train'] },
      { name: 'off', cron: '0 * * * *', stages: [], catchUp: false },
      { name: 'recent', cron: '0 * * * *', stages: [], catchUpWithinMs: 30 * 60_000 },
    ];
    const { requests, enqueue } = collector();
    const names = () => requests.map((r) => `${r.causes[0]!.name} ${r.causes[0]!.scheduledFor}`);
    const startAt = async (time: string) => {
      const clock = new ManualClock(time);
      const trigger = new ScheduleTrigger(entries, enqueue, clock, silentLogger, memory);
      await trigger.start();
      return { clock, trigger };
    };

    // The first start is the baseline: nothing before it was missed.
    const first = await startAt('2026-11-27T10:30:00.000Z');
    assert.equal(requests.length, 0);
    first.clock.advanceTo('2026-11-27T11:00:00.000Z');
    await until(() => requests.length === 3 || undefined, 'the 11:00 runs');
    await sleep(50); // each fire time is remembered once its run is queued
    await first.trigger.stop();

    // Down from 11:05 to 15:45: 12:00, 13:00, 14:00 and 15:00 were missed.
    requests.length = 0;
    const second = await startAt('2026-11-27T15:45:00.000Z');
    assert.deepEqual(names(), ['hourly 2026-11-27T15:00:00.000Z'], 'one run, not four; 15:00 is 45 min late');
    assert.equal(requests[0]!.causes[0]!.catchUp, true);
    assert.equal(requests[0]!.causes[0]!.missed, 4);
    assert.deepEqual(requests[0]!.stages, ['train']);
    second.clock.advanceTo('2026-11-27T16:00:00.000Z');
    await until(() => requests.length === 4 || undefined, 'the 16:00 runs');
    await sleep(50);
    await second.trigger.stop();

    // Restarted before the next time: nothing to make up. Down 16:10 to 17:20: `recent` is in its window.
    requests.length = 0;
    await (await startAt('2026-11-27T16:10:00.000Z')).trigger.stop();
    assert.equal(requests.length, 0);
    const third = await startAt('2026-11-27T17:20:00.000Z');
    t.after(() => third.trigger.stop());
    assert.deepEqual(names().sort(), ['hourly 2026-11-27T17:00:00.000Z', 'recent 2026-11-27T17:00:00.000Z']);
  });
});

describe('pipeline-change trigger', () => {
  it('counts ledge.yaml, params, pointer files and dependencies; not outputs, the lock file or .ledge', () => {
    const set = watchSetOf(parsePipeline(PIPELINE, 'ledge.yaml'));
    for (const rel of ['ledge.yaml', 'params.yaml', 'input.txt', 'data/reviews.ledge'])
      assert.ok(isWatchedChange(rel, set), rel);
    for (const rel of [
      'prepared.txt',
      'model.txt',
      'ledge.lock',
      '.ledge/state/metadata.db',
      '.git/index',
      'notes.md',
    ])
      assert.ok(!isWatchedChange(rel, set), rel);
  });

  it('debounces a burst of saves into one request naming the changed paths', async (t) => {
    const root = controlWorkspace(t, { 'data/a.txt': 'a\n', 'corpus/reviews/r.txt': 'r\n' });
    fs.writeFileSync(
      path.join(root, 'ledge.yaml'),
      `${PIPELINE}  extra:\n    cmd: cat data/a.txt > extra.txt\n    deps: [data, corpus/reviews]\n    outs: [extra.txt]\n`,
    );
    const { requests, enqueue } = collector();
    const trigger = new FileWatchTrigger({
      root,
      debounceMs: 150,
      paths: [],
      stages: [],
      enqueue,
      log: silentLogger,
    });
    await trigger.start();
    t.after(() => trigger.stop());
    fs.writeFileSync(path.join(root, 'model.txt'), 'an output: not a change\n');
    fs.writeFileSync(path.join(root, 'notes.md'), 'not read by the pipeline\n');
    await sleep(300);
    assert.equal(requests.length, 0);
    for (let i = 0; i < 5; i++) {
      fs.writeFileSync(path.join(root, 'params.yaml'), `train:\n  epochs: ${i}\n`);
      await sleep(20);
    }
    fs.mkdirSync(path.join(root, 'data', 'more'));
    await sleep(50);
    fs.writeFileSync(path.join(root, 'data', 'more', 'b.txt'), 'b\n');
    fs.writeFileSync(path.join(root, 'corpus', 'reviews.ledge'), 'a new data version\n');
    await until(() => requests.length > 0 || undefined, 'a request');
    await sleep(300);
    assert.equal(requests.length, 1);
    assert.deepEqual(requests[0]!.causes[0]!.paths, [
      'corpus/reviews.ledge',
      'data/more',
      'data/more/b.txt',
      'params.yaml',
    ]);
  });
});

describe('git branch trigger', () => {
  it('asks for a run for each new commit on the branch, remembering the last across restarts', async (t) => {
    const root = controlWorkspace(t);
    const { metadata } = await openRecords(t, root);
    const state = new TriggerRecords(metadata);
    const { requests, enqueue } = collector();
    const make = () =>
      new GitBranchTrigger({
        root,
        branch: 'main',
        intervalMs: 50,
        stages: [],
        state,
        stateKey: 'git:test:main',
        enqueue,
        clock: systemClock,
        log: silentLogger,
      });
    const trigger = make();
    await trigger.start();
    await sleep(150);
    assert.equal(requests.length, 0, 'the commit there at the start is not news');
    const commit = (message: string) => {
      fs.appendFileSync(path.join(root, 'input.txt'), `${message}\n`);
      execFileSync('git', ['commit', '-qam', message], { cwd: root });
      return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    };
    const first = commit('one');
    await until(() => requests.length === 1 || undefined, 'the first commit');
    assert.equal(requests[0]!.causes[0]!.commit, first);
    assert.equal(requests[0]!.causes[0]!.branch, 'main');
    await trigger.stop();
    // Committed while stopped: seen at the next start.
    const second = commit('two');
    const again = make();
    await again.start();
    t.after(() => again.stop());
    assert.equal(requests.length, 2);
    assert.equal(requests[1]!.causes[0]!.commit, second);
    assert.equal(requests[1]!.causes[0]!.previous, first);
  });
});

describe('git branch trigger on a remote', () => {
  it('fetches the remote branch and asks for a run for each pushed commit, leaving the workspace alone', async (t) => {
    const { root, dev } = workspaceWithOrigin(t);
    const { metadata } = await openRecords(t, root);
    const { requests, enqueue } = collector();
    const trigger = new GitBranchTrigger({
      root,
      branch: 'main',
      remote: 'origin',
      intervalMs: 50,
      stages: [],
      state: new TriggerRecords(metadata),
      stateKey: 'git:test:origin/main',
      enqueue,
      clock: systemClock,
      log: silentLogger,
    });
    await trigger.start();
    t.after(() => trigger.stop());
    const before = gitIn(root, 'rev-parse', 'HEAD');
    await sleep(150);
    assert.equal(requests.length, 0, 'what the remote has at the start is not news');
    const pushed = pushCommit(dev, { 'input.txt': 'pushed\n' }, 'pushed');
    await until(() => requests.length === 1 || undefined, 'the pushed commit');
    assert.deepEqual(
      [requests[0]!.causes[0]!.commit, requests[0]!.causes[0]!.remote, requests[0]!.causes[0]!.previous],
      [pushed, 'origin', before],
    );
    assert.equal(gitIn(root, 'rev-parse', 'HEAD'), before, 'the run moves the workspace, not the trigger');
  });
});

describe('triggers through ledge server', () => {
  it('runs the pipeline on a saved params change and on a new commit', async (t) => {
    const root = controlWorkspace(t, {
      '.ledge/server.yaml':
        'port: 0\npublic_read: true\ntriggers:\n  watch: { debounce: 0.2 }\n  git: { branch: main, interval: 0.2 }\n',
    });
    const first = await runLedge(['trigger', '--json'], { cwd: root });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).status, 'succeeded');
    const server = await startServer(t, root);
    await sleep(300);
    const saved = Date.now();
    fs.writeFileSync(path.join(root, 'params.yaml'), 'train:\n  epochs: 4\n');
    const byFile = await until(async () => {
      const { body } = await api(`${server.url}/api/queue`, 'GET');
      return body.find((r: { causes: { kind: string }[]; startedAt: string | null }) =>
        r.causes.some((c) => c.kind === 'file') && r.startedAt ? r : undefined,
      );
    }, 'a run for the saved change');
    const latencyMs = Date.parse(byFile.startedAt) - saved;
    assert.deepEqual(byFile.causes[0].paths, ['params.yaml']);
    assert.ok(latencyMs < 2_000 + 200, `${latencyMs} ms from save to run start`);
    await until(
      async () =>
        (await api(`${server.url}/api/queue/${byFile.id}`, 'GET')).body.status === 'succeeded'
          ? true
          : undefined,
      'it to succeed',
    );

    execFileSync('git', ['commit', '-qam', 'epochs 4'], { cwd: root });
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const byCommit = await until(async () => {
      const { body } = await api(`${server.url}/api/queue`, 'GET');
      return body.find((r: { causes: { kind: string; commit: string }[] }) =>
        r.causes.some((c) => c.kind === 'commit' && c.commit === head) ? r : undefined,
      );
    }, 'a run for the commit');
    const done = await until(async () => {
      const { body } = await api(`${server.url}/api/queue/${byCommit.id}`, 'GET');
      return ['succeeded', 'failed'].includes(body.status) ? body : undefined;
    }, 'the commit run to end');
    assert.equal(done.status, 'succeeded');
    assert.match(done.reason ?? '', /up to date/);
    t.diagnostic(`saved change → run started: ${latencyMs} ms (debounce 200 ms)`);
  });
});

describe('server.yaml', () => {
  it('reads defaults and names the file, line and key of a mistake', () => {
    const config = parseServerConfig(
      'triggers:\n  schedule:\n    - cron: "0 3 * * *"\n    - { cron: "0 * * * *", catch_up: false, catch_up_within: 600 }\n',
      '.ledge/server.yaml',
    );
    assert.equal(config.port, 8787);
    assert.equal(config.git_remote, 'origin');
    assert.equal(config.triggers.schedule[0]!.timezone, 'UTC');
    assert.deepEqual(
      config.triggers.schedule.map((s) => [s.catch_up, s.catch_up_within]),
      [
        [true, undefined],
        [false, 600],
      ],
    );
    assert.throws(
      () =>
        parseServerConfig(
          'port: 8787\ntriggers:\n  github: { secret_env: GH, secret: abc }\n',
          '.ledge/server.yaml',
        ),
      /^LedgeError: \.ledge\/server\.yaml:3: triggers\.github: unknown key 'secret'/,
    );
  });
});
