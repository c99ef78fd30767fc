/**
 * Metrics and params as flat maps and their one diff (unit), then the read commands through the
 * real CLI: `metrics show|diff`, `runs diff|log` and `lineage`, on workspaces built here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { type Digest, sha256 } from '../../src/core/digest.js';
import { isLedgeError } from '../../src/core/errors.js';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { serializeLockFile } from '../../src/pipeline/lock-file.js';
import { diffFlat, diffMetricsFiles, flatten, parseMetrics } from '../../src/pipeline/metrics.js';
import { Store } from '../../src/store/store.js';
import { Workspace } from '../../src/store/workspace.js';
import { type LedgeResult, runLedge } from '../helpers/cli.js';
import { tempDir, writeTree } from '../helpers/temp-dir.js';

describe('flatten and diff', () => {
  it('flattens nested objects into dotted keys; arrays and scalars are leaves', () => {
    assert.deepEqual(flatten({ train: { loss: 0.3, acc: { top1: 0.9 } }, tags: ['a'], n: null, empty: {} }), {
      'train.loss': 0.3,
      'train.acc.top1': 0.9,
      tags: ['a'],
      n: null,
    });
  });

  it('diffs two flat maps: added, removed, changed (with a clean delta), unchanged only with all', () => {
    const old = { acc: 0.88, loss: 0.5, name: 'a', gone: 1, same: 2, list: [1, 2] };
    const next = { acc: 0.92, loss: 0.5, name: 'b', added: true, same: 2, list: [1, 2] };
    assert.deepEqual(diffFlat(old, next), [
      { key: 'acc', old: 0.88, new: 0.92, change: 'changed', delta: 0.04 },
      { key: 'added', new: true, change: 'added' },
      { key: 'gone', old: 1, change: 'removed' },
      { key: 'name', old: 'a', new: 'b', change: 'changed' },
    ]);
    assert.deepEqual(
      diffFlat(old, next, { all: true }).map((row) => `${row.key}:${row.change}`),
      [
        'acc:changed',
        'added:added',
        'gone:removed',
        'list:unchanged',
        'loss:unchanged',
        'name:changed',
        'same:unchanged',
      ],
    );
    assert.deepEqual(diffFlat({ x: [1] }, { x: [2] }), [{ key: 'x', old: [1], new: [2], change: 'changed' }]);
  });

  it('diffs metrics files by path; a file missing on one side counts as empty', () => {
    const rows = diffMetricsFiles(
      [
        { path: 'a.json', values: { acc: 1 } },
        { path: 'gone.json', values: { x: 1 } },
      ],
      [
        { path: 'a.json', values: { acc: 2 } },
        { path: 'new.json', values: { y: 1 } },
        { path: 'gone.json', values: undefined },
      ],
    );
    assert.deepEqual(rows, [
      { path: 'a.json', key: 'acc', old: 1, new: 2, change: 'changed', delta: 1 },
      { path: 'new.json', key: 'y', new: 1, change: 'added' },
      { path: 'gone.json', key: 'x', old: 1, change: 'removed' },
    ]);
  });

  it('parses metrics files: anything but a JSON object is one error naming the file', () => {
    assert.deepEqual(parseMetrics('{"a": {"b": 1}}', 'm.json'), { 'a.b': 1 });
    for (const [text, message] of [
      ['[1, 2]', /^m\.json holds an array, not a JSON object$/],
      ['3', /^m\.json holds a number, not a JSON object$/],
      ['{"a":\n x}', /^m\.json is not valid JSON: Unexpected token/],
    ] as const) {
      assert.throws(
        () => parseMetrics(text, 'm.json'),
        (error) =>
          isLedgeError(error, 'unreadable') && message.test(error.message) && !error.line.includes('\n'),
      );
    }
  });
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Exits with `code` and prints exactly one `ledge: error:` line matching `message`. */
function assertError(result: LedgeResult, code: number, message: RegExp): void {
  assert.equal(result.code, code, result.stderr);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, /^ledge: error: /);
  assert.match(lines[0]!, message);
}

const PIPELINE = `stages:
  train:
    cmd: node train.js
    deps: [data/prepared]
    outs: [model]
    metrics: [metrics/train.json]
  evaluate:
    cmd: node evaluate.js
    deps: [model]
    metrics: [metrics/eval.json, metrics/never.json]
`;

/** A git workspace with ledge.yaml; returns its root and store (closed at the end). */
function workspace(t: TestContext): { root: string; store: Store } {
  const root = tempDir(t);
  git(root, 'init', '-q');
  const { workspace: ws } = Workspace.init(root);
  writeTree(root, { 'ledge.yaml': PIPELINE });
  const store = new Store(ws);
  t.after(() => store.close());
  return { root, store };
}

describe('ledge metrics', () => {
  it('show prints the declared metrics files, a missing one as missing', async (t) => {
    const { root } = workspace(t);
    writeTree(root, {
      'metrics/train.json': JSON.stringify({ acc: 0.9, loss: { train: 0.3, val: 0.4 }, note: 'ok' }),
      'metrics/eval.json': '{"f1": 0.5}',
      'bad.json': '[1]',
    });
    const [json, human, given, bad] = await Promise.all([
      runLedge(['metrics', 'show', '--json'], { cwd: root }),
      runLedge(['metrics', 'show'], { cwd: root }),
      runLedge(['metrics', 'show', 'eval.json', '--json'], { cwd: path.join(root, 'metrics') }),
      runLedge(['metrics', 'show', 'bad.json'], { cwd: root }),
    ]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      'metrics/train.json': { acc: 0.9, 'loss.train': 0.3, 'loss.val': 0.4, note: 'ok' },
      'metrics/eval.json': { f1: 0.5 },
      'metrics/never.json': null,
    });
    assert.equal(human.code, 0, human.stderr);
    assert.deepEqual(human.stdout.split('\n'), [
      'metrics/train.json  acc         0.9',
      'metrics/train.json  loss.train  0.3',
      'metrics/train.json  loss.val    0.4',
      'metrics/train.json  note        ok',
      'metrics/eval.json   f1          0.5',
      'metrics/never.json  (missing)',
      '',
    ]);
    assert.equal(given.code, 0, given.stderr);
    assert.deepEqual(JSON.parse(given.stdout), { 'metrics/eval.json': { f1: 0.5 } });
    assertError(bad, 1, /bad\.json holds an array, not a JSON object/);
  });

  it('show without ledge.yaml asks for the files; diff outside git says so', async (t) => {
    const root = tempDir(t);
    Workspace.init(root);
    const [show, diff] = await Promise.all([
      runLedge(['metrics', 'show'], { cwd: root }),
      runLedge(['metrics', 'diff'], { cwd: root }),
    ]);
    assertError(show, 1, /no ledge\.yaml in the workspace root/);
    assertError(diff, 1, /is not in a git repository; run `git init`/);
  });

  it('diff compares with a commit: ledge.lock digests from the cache, else files committed to git', async (t) => {
    const { root, store } = workspace(t);
    // train.json is not committed: its old version is in the cache, named by ledge.lock.
    const oldTrain = JSON.stringify({ acc: 0.88, loss: { val: 0.4 }, epochs: 5 });
    const digest = store.cache.putBuffer(oldTrain);
    writeTree(root, {
      '.gitignore': '/metrics/train.json\n',
      'metrics/eval.json': JSON.stringify({ f1: 0.5, label: 'v1' }),
      'ledge.lock': serializeLockFile({
        stages: {
          train: {
            cmd: ['node train.js'],
            deps: [],
            params: {},
            outs: [],
            metrics: [{ path: 'metrics/train.json', type: 'file', digest, size: oldTrain.length }],
          },
        },
      }),
    });
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'v1');
    writeTree(root, {
      'metrics/train.json': JSON.stringify({ acc: 0.92, loss: { val: 0.4 }, epochs: 5, f1: 0.7 }),
      'metrics/eval.json': JSON.stringify({ f1: 0.45, label: 'v2' }),
    });

    const [json, human, all, bad] = await Promise.all([
      runLedge(['metrics', 'diff', '--json'], { cwd: root }),
      runLedge(['metrics', 'diff', 'HEAD'], { cwd: root }),
      runLedge(['metrics', 'diff', '--all', 'HEAD', 'metrics/train.json', '--json'], { cwd: root }),
      runLedge(['metrics', 'diff', 'no-such-branch'], { cwd: root }),
    ]);
    assert.equal(json.code, 0, json.stderr);
    const result = JSON.parse(json.stdout);
    assert.equal(result.commit, git(root, 'rev-parse', 'HEAD').trim());
    assert.deepEqual(result.missing, ['metrics/never.json']);
    assert.deepEqual(result.rows, [
      { path: 'metrics/train.json', key: 'acc', old: 0.88, new: 0.92, change: 'changed', delta: 0.04 },
      { path: 'metrics/train.json', key: 'f1', new: 0.7, change: 'added' },
      { path: 'metrics/eval.json', key: 'f1', old: 0.5, new: 0.45, change: 'changed', delta: -0.05 },
      { path: 'metrics/eval.json', key: 'label', old: 'v1', new: 'v2', change: 'changed' },
    ]);
    assert.equal(human.code, 0, human.stderr);
    assert.deepEqual(human.stdout.split('\n'), [
      'path                key    HEAD  workspace  change',
      'metrics/train.json  acc    0.88  0.92       +0.04',
      'metrics/train.json  f1     -     0.7        added',
      'metrics/eval.json   f1     0.5   0.45       -0.05',
      'metrics/eval.json   label  v1    v2         changed',
      '',
    ]);
    assert.equal(human.stderr, 'ledge: metrics/never.json: neither in the workspace nor at HEAD\n');
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(
      JSON.parse(all.stdout).rows.map((row: { key: string; change: string }) => `${row.key}:${row.change}`),
      ['acc:changed', 'epochs:unchanged', 'f1:added', 'loss.val:unchanged'],
    );
    assertError(bad, 1, /unknown git revision 'no-such-branch'/);
  });
});

const MODEL_A = sha256('model a');
const MODEL_B = sha256('model b');
const PREPARED = sha256('prepared');

/** Two pipeline runs of one train stage, written through MetadataStore into the workspace's db. */
async function seedRuns(root: string, store: Store) {
  const metadata = await MetadataStore.open(path.join(root, '.ledge', 'state', 'metadata.db'));
  try {
    const ids: { run: number; train: number; log: Digest }[] = [];
    for (const [epochs, accuracy, model] of [
      [5, 0.88, MODEL_A],
      [10, 0.92, MODEL_B],
    ] as const) {
      const run = await metadata.startExecution({
        type: 'run',
        name: 'ledge.yaml',
        cause: 'manual',
        ledgeVersion: '0.1.0',
        params: { train: { epochs } },
      });
      const train = await metadata.startExecution({
        type: 'stage',
        name: 'train',
        parentId: run,
        cause: 'pipeline',
        gitCommit: 'abc123def4567890',
        gitDirty: true,
        ledgeVersion: '0.1.0',
        params: { train: { epochs, lr: 0.1 } },
      });
      const log = store.cache.putBuffer(`training for ${epochs} epochs\ndone\n`);
      for (const [kind, digest, type, uri] of [
        ['input', PREPARED, 'dir', 'data/prepared'],
        ['output', model, 'dir', 'model'],
        ['output', log, 'log', 'train.log'],
      ] as const) {
        const artifact = await metadata.putArtifact({ digest, type, uri, size: 3 });
        await metadata.addEvent(train, artifact, kind, uri);
      }
      await metadata.finishExecution(train, {
        status: 'succeeded',
        exitCode: 0,
        metrics: { accuracy, loss: { val: 0.3 } },
        logDigest: log,
      });
      await metadata.finishExecution(run, { status: 'succeeded', metrics: { train: { accuracy } } });
      ids.push({ run, train, log });
    }
    // A stage whose log was recorded but is not in this cache.
    const lost = await metadata.startExecution({
      type: 'stage',
      name: 'lost',
      cause: 'pipeline',
      ledgeVersion: '0.1.0',
    });
    await metadata.finishExecution(lost, { status: 'succeeded', logDigest: sha256('elsewhere') });
    return { first: ids[0]!, second: ids[1]!, lost };
  } finally {
    await metadata.close();
  }
}

describe('ledge runs diff and runs log', () => {
  it('compares params, metrics and artifact digests of two stage executions or two runs', async (t) => {
    const { root, store } = workspace(t);
    const { first, second } = await seedRuns(root, store);
    const [stages, runs, human, unknown, notNumber] = await Promise.all([
      runLedge(['runs', 'diff', String(first.train), String(second.train), '--json'], { cwd: root }),
      runLedge(['runs', 'diff', String(first.run), String(second.run), '--json', '--all'], { cwd: root }),
      runLedge(['runs', 'diff', String(first.train), String(second.train)], { cwd: root }),
      runLedge(['runs', 'diff', String(first.train), '999'], { cwd: root }),
      runLedge(['runs', 'diff', 'latest', '1'], { cwd: root }),
    ]);
    assert.equal(stages.code, 0, stages.stderr);
    const diff = JSON.parse(stages.stdout);
    assert.equal(diff.a.id, first.train);
    assert.deepEqual(diff.params, [{ key: 'train.epochs', old: 5, new: 10, change: 'changed', delta: 5 }]);
    assert.deepEqual(diff.metrics, [
      { key: 'accuracy', old: 0.88, new: 0.92, change: 'changed', delta: 0.04 },
    ]);
    assert.deepEqual(diff.artifacts, [
      { kind: 'output', path: 'model', old: MODEL_A, new: MODEL_B, change: 'changed' },
    ]);

    assert.equal(runs.code, 0, runs.stderr);
    const runDiff = JSON.parse(runs.stdout);
    assert.deepEqual(
      runDiff.artifacts.map(
        (row: { kind: string; path: string; change: string }) => `${row.kind} ${row.path} ${row.change}`,
      ),
      ['input train:data/prepared unchanged', 'output train:model changed'],
    );
    assert.deepEqual(runDiff.metrics, [
      { key: 'train.accuracy', old: 0.88, new: 0.92, change: 'changed', delta: 0.04 },
    ]);

    assert.equal(human.code, 0, human.stderr);
    const lines = human.stdout.split('\n');
    assert.match(
      lines[0]!,
      new RegExp(`^stage ${first.train} \\(train, succeeded, .*\\) -> stage ${second.train} `),
    );
    assert.deepEqual(lines.slice(1), [
      'params:',
      `  key           ${first.train}  ${second.train}   change`,
      '  train.epochs  5  10  +5',
      'metrics:',
      `  key       ${first.train}     ${second.train}     change`,
      '  accuracy  0.88  0.92  +0.04',
      'artifacts:',
      `  kind    path   ${first.train}                    ${second.train}                    change`,
      `  output  model  ${MODEL_A.slice(0, 19)}  ${MODEL_B.slice(0, 19)}  changed`,
      '',
    ]);
    assertError(unknown, 2, /no run or execution with id 999; see `ledge runs list`/);
    assertError(notNumber, 2, /run id must be a positive number, not 'latest'/);
  });

  it('prints the log of a stage, or of every stage of a run, from the cache', async (t) => {
    const { root, store } = workspace(t);
    const { first, lost } = await seedRuns(root, store);
    const [stage, run, json, missing] = await Promise.all([
      runLedge(['runs', 'log', String(first.train)], { cwd: root }),
      runLedge(['runs', 'log', String(first.run)], { cwd: root }),
      runLedge(['runs', 'log', String(first.train), '--json'], { cwd: root }),
      runLedge(['runs', 'log', String(lost)], { cwd: root }),
    ]);
    assert.equal(stage.code, 0, stage.stderr);
    assert.equal(stage.stdout, 'training for 5 epochs\ndone\n');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      `==> train (execution ${first.train}, succeeded) <==\ntraining for 5 epochs\ndone\n`,
    );
    assert.equal(json.code, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).logs[0].log, 'training for 5 epochs\ndone\n');
    assertError(
      missing,
      1,
      new RegExp(`the log of stage execution ${lost} \\(lost\\) is not in the cache: ${sha256('elsewhere')}`),
    );
  });
});

describe('ledge lineage', () => {
  it('resolves a path through ledge.lock and shows what produced it and what used it', async (t) => {
    const { root, store } = workspace(t);
    const { first, second } = await seedRuns(root, store);
    writeTree(root, {
      'ledge.lock': serializeLockFile({
        stages: {
          train: {
            cmd: ['node train.js'],
            deps: [{ path: 'data/prepared', type: 'dir', digest: PREPARED, size: 3 }],
            params: {},
            outs: [{ path: 'model', type: 'dir', digest: MODEL_B, size: 3 }],
            metrics: [],
          },
        },
      }),
      'untracked.txt': 'nobody made me',
    });
    const [json, human, prepared, nothing, absent, badDigest, both] = await Promise.all([
      runLedge(['lineage', 'model', '--json'], { cwd: root }),
      runLedge(['lineage', 'model'], { cwd: root }),
      runLedge(['lineage', 'data/prepared', '--downstream-only', '--depth', '1', '--json'], { cwd: root }),
      runLedge(['lineage', 'untracked.txt'], { cwd: root }),
      runLedge(['lineage', 'no/such/path'], { cwd: root }),
      runLedge(['lineage', 'sha256:abc'], { cwd: root }),
      runLedge(['lineage', 'model', '--upstream-only', '--downstream-only'], { cwd: root }),
    ]);
    assert.equal(json.code, 0, json.stderr);
    const lineage = JSON.parse(json.stdout);
    assert.equal(lineage.digest, MODEL_B);
    assert.equal(lineage.source, 'ledge.lock');
    assert.equal(lineage.upstream.path, 'model');
    assert.equal(lineage.upstream.producedBy.execution.id, second.train);
    assert.deepEqual(lineage.upstream.producedBy.execution.params, { train: { epochs: 10, lr: 0.1 } });
    assert.deepEqual(
      lineage.upstream.producedBy.inputs.map((input: { path: string; digest: string }) => [
        input.path,
        input.digest,
      ]),
      [['data/prepared', PREPARED]],
    );
    assert.deepEqual(lineage.downstream.consumers, []);

    assert.equal(human.code, 0, human.stderr);
    assert.deepEqual(human.stdout.split('\n').slice(0, 5), [
      'upstream (where it came from):',
      `  model  ${MODEL_B.slice(0, 19)}`,
      `    <- train (execution ${second.train}, run ${second.run}) succeeded ${lineage.upstream.producedBy.execution.startedAt}, commit abc123def456 (dirty)`,
      '         params: train.epochs=10 train.lr=0.1',
      `         data/prepared  ${PREPARED.slice(0, 19)}`,
    ]);
    assert.match(
      human.stdout,
      /downstream \(what used it\):\n {2}model {2}sha256:\w{12}\n {4}\(no recorded stage read it\)\n$/,
    );

    assert.equal(prepared.code, 0, prepared.stderr);
    const down = JSON.parse(prepared.stdout);
    assert.equal(down.upstream, undefined);
    assert.deepEqual(
      down.downstream.consumers.map((c: { execution: { id: number }; outputs: { path: string }[] }) => [
        c.execution.id,
        c.outputs.map((o) => o.path),
      ]),
      [
        [second.train, ['model']],
        [first.train, ['model']],
      ],
    );

    assertError(nothing, 1, /nothing is recorded about the current content of untracked\.txt \(sha256:/);
    assertError(absent, 1, /'no\/such\/path' is not in ledge\.lock, has no pointer file and does not exist/);
    assertError(badDigest, 2, /'sha256:abc' is not a digest/);
    assertError(both, 2, /--upstream-only and --downstream-only exclude each other/);
  });
});
