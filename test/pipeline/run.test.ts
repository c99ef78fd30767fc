/**
 * `ledge run` through the real CLI on real files, real git and the real metadata database:
 * what reruns and why, the lock file, the run-cache, parallel stages, failures, interrupts
 * and the records each run leaves.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parse } from 'yaml';
import { finished, LEDGE_BIN, runLedge, startLedge, waitFor } from '../helpers/cli.js';
import { startPostgres } from '../helpers/postgres.js';
import { tempDir, writeTree } from '../helpers/temp-dir.js';

/** A stage command that counts its executions in `.counts/<name>` (outside any output). */
const count = (name: string) => `mkdir -p .counts && echo x >> .counts/${name}`;

const PIPELINE = `stages:
  prepare:
    cmd:
      - ${count('prepare')}
      - mkdir -p prepared && for f in data/*.txt; do tr a-z A-Z < $f > prepared/$(basename $f); done
      - echo prepared $(ls data | wc -l) files
    deps: [data]
    params: [prepare.lower]
    outs: [prepared]
  train:
    cmd:
      - ${count('train')}
      - mkdir -p model && cat prepared/* > model/weights.txt && echo "epochs $(grep epochs params.yaml)" >> model/weights.txt
      - 'echo "{\\"accuracy\\": 0.9, \\"loss\\": {\\"train\\": 0.25}}" > metrics.json'
    deps: [prepared]
    params: [train.epochs]
    outs: [model]
    metrics: [metrics.json]
  report:
    cmd: ${count('report')} && cp metrics.json report.txt
    deps: [metrics.json]
    outs: [report.txt]
`;

function workspace(t: TestContext, pipeline = PIPELINE): string {
  const root = tempDir(t);
  execFileSync('git', ['init', '-q'], { cwd: root });
  writeTree(root, {
    'data/a.txt': 'first review\n',
    'data/b.txt': 'second review\n',
    'params.yaml': 'prepare:\n  lower: true\ntrain:\n  epochs: 3\n',
    'ledge.yaml': pipeline,
  });
  execFileSync(process.execPath, [LEDGE_BIN, 'init'], { cwd: root, stdio: 'ignore' });
  return root;
}

async function ledge(root: string, args: string[], env: Record<string, string> = {}) {
  const result = await runLedge(args, { cwd: root, env });
  return result;
}

async function ok(root: string, args: string[], env: Record<string, string> = {}) {
  const result = await ledge(root, args, env);
  assert.equal(result.code, 0, `ledge ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

function runs(root: string, name: string): number {
  const file = path.join(root, '.counts', name);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').length - 1 : 0;
}

function setParam(root: string, from: string, to: string): void {
  const file = path.join(root, 'params.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(from, to));
}

async function listJson(root: string, args: string[] = []) {
  const result = await ok(root, ['runs', 'list', '--json', ...args]);
  return JSON.parse(result.stdout) as {
    id: number;
    type: string;
    name: string;
    status: string;
    parent_id: number | null;
    params: Record<string, unknown>;
    metrics: Record<string, unknown>;
    git_commit: string | null;
    git_dirty: number | null;
    cache_key: string | null;
  }[];
}

describe('ledge run', () => {
  it('runs every stage once, writes ledge.lock, and then has nothing to do', async (t) => {
    const root = workspace(t);
    execFileSync('git', ['add', '-A'], { cwd: root });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'start'], {
      cwd: root,
    });
    const first = await ok(root, ['run']);
    assert.match(first.stdout, /Running stage 'prepare' \(never run\)/);
    assert.match(first.stdout, /^prepare \| prepared 2 files$/m, 'stage output is streamed with its name');
    assert.match(first.stdout, /Run \d+ finished/);
    assert.deepEqual([runs(root, 'prepare'), runs(root, 'train'), runs(root, 'report')], [1, 1, 1]);

    const lock = parse(fs.readFileSync(path.join(root, 'ledge.lock'), 'utf8'));
    assert.deepEqual(lock.stages.train.params, { 'params.yaml': { 'train.epochs': 3 } });
    assert.equal(lock.stages.train.deps[0].path, 'prepared');
    assert.equal(lock.stages.train.deps[0].digest, lock.stages.prepare.outs[0].digest);
    assert.equal(lock.stages.prepare.outs[0].files, 2);
    assert.match(lock.stages.train.metrics[0].digest, /^sha256:[0-9a-f]{64}$/);
    // Outputs are kept out of git, like ledge-added data; metrics files are not.
    const ignored = fs.readFileSync(path.join(root, '.gitignore'), 'utf8');
    assert.match(ignored, /^\/prepared$/m);
    assert.match(ignored, /^\/model$/m);
    assert.doesNotMatch(ignored, /metrics\.json/);

    const second = await ok(root, ['run']);
    assert.match(second.stdout, /Nothing to do: 3 stages are up to date/);
    assert.deepEqual([runs(root, 'prepare'), runs(root, 'train'), runs(root, 'report')], [1, 1, 1]);

    // The run and its stages are recorded with params, metrics, commit and dirty flag.
    const rows = await listJson(root);
    assert.equal(rows.length, 4, 'the no-op run is not recorded');
    const run = rows.find((r) => r.type === 'run')!;
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(run.params, { prepare: { lower: true }, train: { epochs: 3 } });
    assert.deepEqual(run.metrics, { accuracy: 0.9, loss: { train: 0.25 } });
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    assert.equal(run.git_commit, head);
    assert.equal(run.git_dirty, 0);
    const train = rows.find((r) => r.name === 'train')!;
    assert.equal(train.parent_id, run.id);
    assert.deepEqual(train.metrics, { accuracy: 0.9, loss: { train: 0.25 } });
    assert.match(train.cache_key ?? '', /^sha256:/);

    const shown = JSON.parse((await ok(root, ['runs', 'show', String(train.id), '--json'])).stdout);
    const kinds = shown.events.map((e: { kind: string; path: string }) => `${e.kind} ${e.path}`).sort();
    assert.deepEqual(kinds, ['input prepared', 'output metrics.json', 'output model', 'output train.log']);
    assert.equal(shown.user_name.length > 0, true);
    assert.match(shown.platform, /^linux\//);
    const properties = JSON.parse(
      (await ok(root, ['runs', 'show', String(run.id), '--json'])).stdout,
    ).properties;
    assert.ok(properties === undefined || typeof properties === 'string' || typeof properties === 'object');
  });

  it('reruns only what a change reaches, says why, and restores earlier results from the run-cache', async (t) => {
    const root = workspace(t);
    await ok(root, ['run']);
    setParam(root, 'epochs: 3', 'epochs: 5');

    const dry = await ok(root, ['run', '--dry-run']);
    assert.match(dry.stdout, /Stage 'prepare' is up to date/);
    assert.match(dry.stdout, /Would run 'train' \(param train\.epochs changed: 3 -> 5\)/);
    assert.match(dry.stdout, /Would run 'report' \(upstream stage 'train' is stale\)/);
    const status = JSON.parse((await ok(root, ['status', '--json'])).stdout);
    assert.deepEqual(
      status.stages.map((s: { name: string; state: string }) => `${s.name}:${s.state}`),
      ['prepare:up-to-date', 'train:stale', 'report:stale'],
    );
    assert.deepEqual([runs(root, 'prepare'), runs(root, 'train')], [1, 1], 'a dry run runs nothing');

    await ok(root, ['run']);
    assert.deepEqual([runs(root, 'prepare'), runs(root, 'train'), runs(root, 'report')], [1, 2, 1]);
    // The second run only executed train; compared as whole pipelines, only train's model differs.
    const [second, first] = await listJson(root, ['--type', 'run']);
    const diff = JSON.parse(
      (await ok(root, ['runs', 'diff', String(first!.id), String(second!.id), '--json'])).stdout,
    );
    assert.deepEqual(
      diff.params.map((r: { key: string; old: unknown; new: unknown }) => [r.key, r.old, r.new]),
      [['train.epochs', 3, 5]],
    );
    assert.deepEqual(
      diff.artifacts.map(
        (r: { kind: string; path: string; change: string }) => `${r.kind} ${r.path} ${r.change}`,
      ),
      ['output train:model changed'],
    );
    assert.match(fs.readFileSync(path.join(root, 'model/weights.txt'), 'utf8'), /epochs: 5/);

    // Back to 3 epochs: that execution is in the run-cache, so nothing runs.
    setParam(root, 'epochs: 5', 'epochs: 3');
    const back = await ok(root, ['run']);
    assert.match(back.stdout, /Stage 'train' restored from the run-cache \(execution \d+\)/);
    assert.equal(runs(root, 'train'), 2);
    assert.match(fs.readFileSync(path.join(root, 'model/weights.txt'), 'utf8'), /epochs: 3/);
    const cached = (await listJson(root, ['--where', 'status = cached']))[0]!;
    assert.equal(cached.name, 'train');
    assert.deepEqual(cached.metrics, { accuracy: 0.9, loss: { train: 0.25 } });

    // --no-run-cache and --force run anyway.
    setParam(root, 'epochs: 3', 'epochs: 5');
    await ok(root, ['run', '--no-run-cache', 'train']);
    assert.equal(runs(root, 'train'), 3);
    await ok(root, ['run', '--force', 'prepare']);
    assert.equal(runs(root, 'prepare'), 2);
    assert.equal(runs(root, 'train'), 3, 'a forced target does not force what depends on it');
  });

  it('restores a deleted output from the cache and keeps a hand-edited one before rerunning', async (t) => {
    const root = workspace(t);
    await ok(root, ['run']);
    fs.rmSync(path.join(root, 'model'), { recursive: true });
    const restored = await ok(root, ['run']);
    assert.match(restored.stdout, /Stage 'train' restored from the cache/);
    assert.equal(runs(root, 'train'), 1);
    assert.ok(fs.existsSync(path.join(root, 'model/weights.txt')));

    fs.chmodSync(path.join(root, 'prepared/a.txt'), 0o644);
    fs.writeFileSync(path.join(root, 'prepared/a.txt'), 'edited by hand\n');
    const dry = await ok(root, ['run', '--dry-run']);
    assert.match(dry.stdout, /output prepared was modified/);
    const rerun = await ok(root, ['run']);
    const saved = /saved the previous contents of prepared in the cache as (sha256:[0-9a-f]+)/.exec(
      rerun.stderr,
    );
    assert.ok(saved, `the edited output is saved before it is replaced:\n${rerun.stderr}`);
    assert.equal(fs.readFileSync(path.join(root, 'prepared/a.txt'), 'utf8'), 'FIRST REVIEW\n');
  });

  it('keeps stage outputs and logs through gc, and moves outputs with push and pull', async (t) => {
    const root = workspace(t);
    await ok(root, ['remote', 'add', 'origin', path.join(tempDir(t, 'ledge-remote-'), 'store'), '--default']);
    await ok(root, ['run']);
    const gc = JSON.parse((await ok(root, ['gc', '--json'])).stdout);
    assert.equal(gc.removed, 0, 'nothing the lock file or the run records reference is removed');
    const prepare = (await listJson(root, ['--where', 'stage = prepare']))[0]!;
    assert.equal((await ok(root, ['runs', 'log', String(prepare.id)])).stdout, 'prepared 2 files\n');

    // A clone of the repository gets the outputs with `ledge pull`, without running anything.
    await ok(root, ['push']);
    const clone = tempDir(t);
    for (const file of ['ledge.yaml', 'ledge.lock', 'params.yaml']) {
      fs.copyFileSync(path.join(root, file), path.join(clone, file));
    }
    fs.cpSync(path.join(root, 'data'), path.join(clone, 'data'), { recursive: true });
    fs.cpSync(path.join(root, '.ledge', 'config.yaml'), path.join(clone, '.ledge', 'config.yaml'));
    await ok(clone, ['pull']);
    assert.match(fs.readFileSync(path.join(clone, 'model/weights.txt'), 'utf8'), /FIRST REVIEW/);
    const status = JSON.parse((await ok(clone, ['status', '--json'])).stdout);
    assert.ok(status.stages.every((s: { state: string }) => s.state === 'up-to-date'));
    assert.match((await ok(clone, ['run'])).stdout, /Nothing to do/);
    assert.equal(runs(clone, 'train'), 0);
  });

  it('runs independent stages in parallel with -j, one at a time with -j 1', async (t) => {
    const stage = (name: string) => `  ${name}:
    cmd: date +%s%N > ${name}.start && sleep 0.6 && date +%s%N > ${name}.end
    outs: [${name}.start, ${name}.end]
`;
    const root = workspace(t, `stages:\n${stage('a')}${stage('b')}`);
    const read = (name: string) => Number(fs.readFileSync(path.join(root, name), 'utf8')) / 1e6;
    const overlap = () => Math.min(read('a.end'), read('b.end')) - Math.max(read('a.start'), read('b.start'));
    await ok(root, ['run', '-j', '2']);
    assert.ok(overlap() > 0, 'with -j 2 the two stages ran at the same time');
    await ok(root, ['run', '-j', '1', '--force']);
    assert.ok(overlap() <= 0, 'with -j 1 they ran one after the other');
  });

  it('stops at a failing stage with its exit code and log tail; --keep-going runs the independent ones', async (t) => {
    const root = workspace(
      t,
      `stages:
  broken:
    cmd: echo "loading data"; echo "cannot open shard 7" >&2; exit 3
    outs: [broken.out]
  after:
    cmd: echo after > after.out
    deps: [broken.out]
    outs: [after.out]
  independent:
    cmd: sleep 0.3; echo ok > independent.out
    outs: [independent.out]
`,
    );
    const failed = await ledge(root, ['run', '-j', '1']);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /stage 'broken' failed: its command exited with code 3/);
    assert.match(failed.stderr, /last lines of its log:\n {4}loading data\n {4}cannot open shard 7/);
    const last = failed.stderr.trim().split('\n').at(-1)!;
    assert.match(last, /^ledge: error: run \d+ failed: stage 'broken': .*; full log: ledge runs log \d+$/);
    assert.ok(!fs.existsSync(path.join(root, 'after.out')));

    const keepGoing = await ledge(root, ['run', '--keep-going', '-j', '1']);
    assert.equal(keepGoing.code, 1);
    assert.match(keepGoing.stdout, /Stage 'after' skipped: upstream stage 'broken' did not finish/);
    assert.ok(fs.existsSync(path.join(root, 'independent.out')), 'the independent stage ran');
    const rows = await listJson(root, ['--where', 'stage = broken']);
    assert.equal(rows[0]!.status, 'failed');
    const log = await ok(root, ['runs', 'show', String(rows[0]!.id), '--json']);
    assert.match(JSON.parse(log.stdout).log_digest, /^sha256:/);
  });

  it('a second ledge run waits for the first instead of failing', async (t) => {
    const root = workspace(
      t,
      `stages:
  slow:
    cmd: sleep 1.5 && echo done > slow.out
    outs: [slow.out]
`,
    );
    const first = startLedge(['run'], { cwd: root, t });
    await waitFor(() => fs.existsSync(path.join(root, '.ledge', 'lock')), 'the first run to take the lock');
    const second = await ledge(root, ['run']);
    const firstResult = await finished(first);
    assert.equal(firstResult.code, 0, firstResult.stderr);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /waiting for the workspace lock held by PID \d+ \(ledge run/);
    assert.match(second.stdout, /Nothing to do/);
  });

  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    it(`a run stopped by ${signal} is recorded as interrupted and the lock is free`, async (t) => {
      // A token in the command line tells this test's processes from any other's.
      const token = randomUUID();
      const root = workspace(
        t,
        `stages:
  long:
    cmd: echo started; sleep 30; echo ${token} > long.out
    outs: [long.out]
`,
      );
      // A SIGKILLed ledge cannot stop its stage; the next run does (the test cleans up if not).
      t.after(() => spawnSync('pkill', ['-f', token]));
      const stageAlive = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(token);
      const child = startLedge(['run'], { cwd: root, t });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      await waitFor(() => output.includes('long | started'), 'the stage to start');
      child.kill(signal);
      const result = await finished(child);
      if (signal === 'SIGINT') {
        assert.equal(result.code, 130, result.stderr);
        assert.match(result.stderr, /interrupted/);
        // The stage's process group was stopped with it.
        assert.ok(!stageAlive(), 'no process of the stage is left');
      } else {
        assert.ok(stageAlive(), 'the stage outlives a SIGKILLed ledge run');
      }
      const rows = await listJson(root);
      assert.deepEqual(
        rows.map((r) => `${r.type}:${r.status}`),
        ['stage:interrupted', 'run:interrupted'],
      );
      assert.ok(!fs.existsSync(path.join(root, '.ledge', 'lock')) || signal === 'SIGKILL');
      // The next run takes the lock (a dead holder's lock is taken over) and runs the stage.
      fs.writeFileSync(
        path.join(root, 'ledge.yaml'),
        fs.readFileSync(path.join(root, 'ledge.yaml'), 'utf8').replace('sleep 30', 'true'),
      );
      const next = await ok(root, ['run']);
      assert.ok(fs.existsSync(path.join(root, 'long.out')));
      // Taking over a dead holder's lock stops what it left running: the stage can no longer
      // write its output behind the new run's back.
      assert.ok(!stageAlive(), 'the orphaned stage was stopped');
      if (signal === 'SIGKILL')
        assert.match(next.stderr, /stopped a process group left running by PID \d+ \(ledge run\)/);
    });
  }
});

describe('ledge run: two workspaces on one PostgreSQL database', () => {
  it('shares runs and the run-cache between workspaces that share a cache', async (t) => {
    const { url } = await startPostgres(t);
    const env = { LEDGE_DB_URL: url, LEDGE_CACHE_DIR: path.join(tempDir(t, 'ledge-cache-'), 'cache') };
    const [a, b] = [workspace(t), workspace(t)];
    await ok(a, ['run'], env);
    const fromB = await ok(b, ['run'], env);
    for (const stage of ['prepare', 'train', 'report']) {
      assert.match(fromB.stdout, new RegExp(`Stage '${stage}' restored from the run-cache`));
    }
    assert.equal(runs(b, 'train'), 0, 'workspace b ran nothing');
    assert.match(fs.readFileSync(path.join(b, 'model/weights.txt'), 'utf8'), /FIRST REVIEW/);

    // Both at once, each with its own change: no lock or database conflict between them.
    setParam(a, 'epochs: 3', 'epochs: 7');
    setParam(b, 'epochs: 3', 'epochs: 8');
    const both = await Promise.all([ledge(a, ['run'], env), ledge(b, ['run'], env)]);
    for (const result of both) assert.equal(result.code, 0, result.stderr);
    const rows = JSON.parse((await ok(a, ['runs', 'list', '--json', '--type', 'run'], env)).stdout) as {
      workspace: string;
    }[];
    assert.equal(rows.length, 4);
    assert.equal(new Set(rows.map((r) => r.workspace)).size, 2, 'each run names its workspace');
    const epochs = JSON.parse(
      (await ok(b, ['runs', 'list', '--json', '--where', 'stage = train and status = succeeded'], env))
        .stdout,
    ).map((r: { params: { train: { epochs: number } } }) => r.params.train.epochs);
    assert.deepEqual([...epochs].sort(), [3, 7, 8]);
  });
});

describe('ledge run: bad input', () => {
  const cases: {
    name: string;
    pipeline?: string;
    params?: string;
    env?: Record<string, string>;
    error: RegExp;
  }[] = [
    {
      name: 'malformed YAML',
      pipeline: 'stages:\n  a:\n    cmd: [unclosed\n',
      error: /^ledge: error: ledge\.yaml:\d+: invalid YAML/,
    },
    {
      name: 'an unknown key',
      pipeline: 'stages:\n  a:\n    cmd: "true"\n    outputs: [x]\n',
      error: /^ledge: error: ledge\.yaml:4: stages\.a: unknown key 'outputs'/,
    },
    {
      name: 'a missing dependency',
      pipeline: 'stages:\n  a:\n    cmd: "true"\n    deps: [nowhere.txt]\n',
      error: /^ledge: error: stage 'a': dependency 'nowhere\.txt' does not exist; /,
    },
    {
      name: 'a missing parameter',
      pipeline: 'stages:\n  a:\n    cmd: "true"\n    params: [train.lr]\n',
      error: /^ledge: error: params\.yaml: no parameter 'train\.lr' \(read by stage 'a'\)/,
    },
    {
      name: 'a cycle',
      pipeline:
        'stages:\n  a:\n    cmd: "true"\n    deps: [b.out]\n    outs: [a.out]\n  b:\n    cmd: "true"\n    deps: [a.out]\n    outs: [b.out]\n',
      error: /^ledge: error: ledge\.yaml: the stages form a cycle: a -> b -> a/,
    },
    {
      name: 'a stage that does not write its output',
      pipeline: 'stages:\n  a:\n    cmd: "true"\n    outs: [a.out]\n',
      error: /stage 'a' succeeded but did not write its output 'a\.out'/,
    },
    {
      name: 'a metrics file that is not a JSON object',
      pipeline: 'stages:\n  a:\n    cmd: echo "[1, 2]" > m.json\n    metrics: [m.json]\n',
      error: /m\.json holds an array, not a JSON object/,
    },
    {
      name: 'an unreachable database',
      pipeline: 'stages:\n  a:\n    cmd: "true"\n',
      env: { LEDGE_DB_URL: 'postgres://ledge:s3cret@127.0.0.1:1/ledge' },
      error:
        /^ledge: error: metadata database postgres:\/\/ledge:\*\*\*@127\.0\.0\.1:1\/ledge cannot be opened/,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: one clear error line`, async (t) => {
      const root = workspace(t, c.pipeline);
      const result = await ledge(root, ['run'], c.env);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      const lines = result.stderr.trim().split('\n');
      const errorLine = lines.find((l) => l.startsWith('ledge: error:'));
      assert.ok(errorLine, result.stderr);
      assert.match(errorLine!, c.error);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.doesNotMatch(result.stderr, /s3cret/);
    });
  }
});
