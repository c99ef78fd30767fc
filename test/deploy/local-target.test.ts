/**
 * `ledge deploy` end to end on the `local` target, as users run it: the real CLI in child
 * processes, a real supervisor and real `ledge serve` processes on loopback, two versions of a
 * real model trained once for the file (different epochs, so digests and metrics differ).
 * Deploy, blue/green under steady load (no failed request), a broken version rolled back while
 * the old one keeps serving, crash restarts, the quality gate, history, rollback, stop — and
 * no process left behind.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Deployment } from '../../src/metadata/deployments.js';
import { type LedgeResult, runLedge, waitFor } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { type TrainedModel, trainTestModel } from '../runtime/server/server-fixture.js';
import { registerTwoVersions } from './helpers/two-versions.js';

let trained: TrainedModel;
let root: string;
let url: string;
let otherPort: number;
/** Every supervisor and server pid seen, checked gone at the end. */
const pids = new Set<number>();
/** Validation accuracy of imdb-sentiment@1 and @2 (v2 is the better one). */
const accuracy: Record<1 | 2, number> = { 1: 0, 2: 0 };

/** Whether `pid` runs (an exited process its new parent has not reaped yet is a zombie: gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return !fs.existsSync('/proc/self');
  }
}

const ledge = (args: string[]) => runLedge(args, { cwd: root });

function ok(result: LedgeResult, what: string): LedgeResult {
  assert.equal(result.code, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

interface StatusJson {
  state: string;
  url: string;
  serving: {
    deploymentId: number;
    name: string;
    version: string;
    details: { pid: number; port: number };
  } | null;
  problems: string[];
  events: { kind: string; message: string }[];
  details: { supervisor?: { pid: number }; restarts?: number; backends?: { pid: number }[] };
  deployment: Deployment | null;
}

/** `ledge deploy status --json`, remembering the pids it names. */
async function status(target = 'local'): Promise<StatusJson> {
  const result = ok(await ledge(['deploy', 'status', '--target', target, '--json']), 'deploy status');
  const value = JSON.parse(result.stdout) as StatusJson;
  if (value.details.supervisor?.pid) pids.add(value.details.supervisor.pid);
  for (const b of value.details.backends ?? []) if (b.pid) pids.add(b.pid);
  return value;
}

async function servedVersions(): Promise<string[]> {
  const response = await fetch(`${url}/v2/models/imdb-sentiment`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { versions: string[] }).versions;
}

interface LoadResult {
  total: number;
  failures: string[];
  deployments: Set<string>;
}

/** Steady load on the stable port: `workers` clients predicting back to back until stopped. */
function steadyLoad(workers = 4): { stop: () => Promise<LoadResult> } {
  let running = true;
  const result: LoadResult = { total: 0, failures: [], deployments: new Set() };
  const worker = async (n: number) => {
    while (running) {
      try {
        const response = await fetch(`${url}/v1/models/imdb-sentiment:predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ instances: [trained.texts[(result.total + n) % trained.texts.length]] }),
        });
        const body = (await response.json()) as { predictions?: { score: number }[] };
        if (response.status !== 200 || typeof body.predictions?.[0]?.score !== 'number') {
          result.failures.push(`status ${response.status}: ${JSON.stringify(body)}`);
        }
        result.deployments.add(response.headers.get('x-ledge-deployment') ?? '-');
      } catch (error) {
        result.failures.push(String((error as Error).cause ?? error));
      }
      result.total++;
    }
  };
  const all = Promise.all(Array.from({ length: workers }, (_, n) => worker(n)));
  return {
    stop: async () => {
      running = false;
      await all;
      return result;
    },
  };
}

function writeDeployYaml(extra = ''): void {
  fs.writeFileSync(
    path.join(root, '.ledge', 'deploy.yaml'),
    [
      'targets:',
      '  local:',
      `    port: ${new URL(url).port}`,
      '    health_timeout: 20',
      '    restart: {initial_delay: 0.2, max_delay: 2}',
      extra,
      '  other:',
      `    port: ${otherPort}`,
      '',
    ].join('\n'),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ledge deploy on the local target', () => {
  before(async () => {
    trained = await trainTestModel();
    root = trained.root;
    url = `http://127.0.0.1:${await freePort()}`;
    otherPort = await freePort();
    ok(await ledge(['init']), 'init');
    // A second model from the same data, three epochs instead of two; the worse one is version 1.
    const { bundles, accuracy: measured } = await registerTwoVersions(root);
    [accuracy[1], accuracy[2]] = measured;
    // A copy of version 2 whose model.onnx is garbage: same metrics, a different digest.
    fs.cpSync(path.join(root, bundles[1]!), path.join(root, 'broken'), { recursive: true });
    fs.writeFileSync(path.join(root, 'broken', 'model.onnx'), Buffer.alloc(4096, 7));
    writeDeployYaml();
  });

  after(async () => {
    // Whatever happened above: no supervisor or server is left running.
    if (root) {
      for (const target of ['local', 'other']) await ledge(['deploy', 'stop', '--target', target]);
    }
    for (const pid of pids) {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    trained?.cleanup();
  });

  it('deploys version 1 behind the stable port, served by a supervisor that outlives the command', async () => {
    const result = ok(await ledge(['deploy', 'imdb-sentiment@1']), 'deploy');
    assert.match(result.stdout, /^Deploying imdb-sentiment@1 \(sha256:[0-9a-f]{12}\) to 'local' at http:/m);
    assert.match(result.stdout, /^quality gate passed: validation\.accuracy /m);
    assert.match(result.stdout, /^ {2}smoke +ok .* score 0\.\d+/m);
    assert.match(result.stdout, new RegExp(`^Serving imdb-sentiment@1 at ${url} \\(deployment 1\\)$`, 'm'));

    const predict = await fetch(`${url}/v1/models/imdb-sentiment:predict`, {
      method: 'POST',
      body: JSON.stringify({ instances: ['A wonderful, moving film.'] }),
    });
    assert.equal(predict.status, 200);
    assert.equal(predict.headers.get('x-ledge-deployment'), '1');
    const score = ((await predict.json()) as { predictions: { score: number }[] }).predictions[0]!.score;
    assert.ok(score >= 0 && score <= 1);
    assert.deepEqual(await servedVersions(), ['1']);

    const now = await status();
    assert.equal(now.state, 'serving');
    assert.equal(now.url, url);
    assert.equal(now.serving?.deploymentId, 1);
    assert.equal(now.deployment?.status, 'active');
    assert.equal(now.deployment?.modelVersion, 1);
    assert.ok(now.deployment?.runExecutionId === null, 'registered by hand: no producing run');
    assert.deepEqual(now.problems, []);
    assert.ok(alive(now.details.supervisor!.pid), 'the supervisor runs on after `ledge deploy` exited');
    const state = JSON.parse(fs.readFileSync(path.join(root, '.ledge/deploy/local/state.json'), 'utf8'));
    assert.equal(state.pid, now.details.supervisor!.pid);
    assert.equal(fs.statSync(path.join(root, '.ledge/deploy/local/state.json')).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(path.join(root, '.ledge/deploy/.gitignore'), 'utf8').includes('/*/'), true);

    const human = ok(await ledge(['deploy', 'status']), 'deploy status').stdout;
    assert.match(human, new RegExp(`^local \\(local\\): serving imdb-sentiment@1 at ${url}$`, 'm'));
    assert.match(human, /^ {2}supervisor +pid \d+, healthy/m);
  });

  it('deploys version 2 under steady load without a single failed request', async () => {
    const before = await status();
    const oldPid = before.serving!.details.pid;
    const load = steadyLoad();
    await sleep(300);
    const result = ok(await ledge(['deploy', 'imdb-sentiment@2', '--json']), 'deploy');
    await sleep(300);
    const seen = await load.stop();
    const report = JSON.parse(result.stdout) as {
      ok: boolean;
      steps: { step: string; ok: boolean }[];
      deployment: Deployment;
      replaced: Deployment;
      gate: { passed: boolean; candidate: number; deployed: { value: number } };
    };
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.steps.map((s) => s.step),
      ['start', 'ready', 'smoke', 'switch', 'drain'],
    );
    assert.equal(report.deployment.status, 'active');
    assert.equal(report.replaced.id, 1);
    assert.equal(report.gate.candidate, accuracy[2]);
    assert.equal(report.gate.deployed.value, accuracy[1]);
    assert.deepEqual(seen.failures, [], `every one of ${seen.total} requests answered 200`);
    assert.ok(seen.total >= 20, `steady load (${seen.total} requests)`);
    assert.deepEqual([...seen.deployments].sort(), ['1', '2']);
    assert.deepEqual(await servedVersions(), ['2']);
    assert.equal(alive(oldPid), false, 'the old server drained and exited');
    assert.equal((await status()).serving?.deploymentId, 2);
  });

  it('a broken version fails its checks and is rolled back; version 2 never stops serving', async () => {
    const load = steadyLoad(2);
    await sleep(200);
    const started = performance.now();
    const result = await ledge(['deploy', './broken']);
    const took = performance.now() - started;
    const seen = await load.stop();
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /^ {2}start +FAILED .*the server exited with code 1: .*model\.onnx/m);
    assert.match(
      result.stderr,
      new RegExp(
        `^ledge: error: deployment 3 of imdb-sentiment \\(sha256:[0-9a-f]{12}\\) to 'local' failed at start: .*; imdb-sentiment@2 \\(deployment 2\\) is still serving at ${url}`,
      ),
    );
    assert.deepEqual(seen.failures, [], 'no request failed while the broken version was tried');
    assert.deepEqual([...seen.deployments], ['2'], 'only version 2 answered');
    assert.ok(took < 5000, `the command reported the failure within 5 s (${Math.round(took)} ms)`);
    assert.deepEqual(await servedVersions(), ['2']);
    const now = await status();
    assert.equal(now.state, 'serving');
    assert.equal(now.details.backends?.length, 1, 'the broken server is gone');
  });

  it('restarts a model server that dies, and records it', async () => {
    const before = await status();
    const pid = before.serving!.details.pid;
    process.kill(pid, 'SIGKILL');
    const killed = performance.now();
    let after: StatusJson | undefined;
    await waitFor(() => false === alive(pid), 'the server to die', 5000);
    for (;;) {
      after = await status();
      if (after.serving && after.serving.details.pid !== pid && after.state === 'serving') break;
      assert.ok(performance.now() - killed < 20_000, `serving again within 20 s: ${JSON.stringify(after)}`);
      await sleep(100);
    }
    assert.equal(after.serving?.deploymentId, 2);
    assert.equal(after.details.restarts, 1);
    const kinds = after.events.map((e) => e.kind);
    assert.ok(kinds.includes('backend-exited') && kinds.includes('backend-restarted'), kinds.join(', '));
    assert.match(after.events.find((e) => e.kind === 'backend-exited')!.message, /was killed by SIGKILL/);
    assert.deepEqual(await servedVersions(), ['2']);
  });

  it('the quality gate refuses a worse model, naming the metric and both values; --force overrides it', async () => {
    const refused = await ledge(['deploy', 'imdb-sentiment@1']);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      `ledge: error: quality gate: refusing imdb-sentiment@1 on target 'local': validation.accuracy ${accuracy[1]} of imdb-sentiment@1 is worse than ${accuracy[2]} of imdb-sentiment@2 (deployment 2), deployed now; --force deploys it anyway\n`,
    );

    writeDeployYaml('    gate: {metric: accuracy, min: 0.99}');
    const below = await ledge(['deploy', 'imdb-sentiment@2']);
    assert.equal(below.code, 1);
    assert.match(below.stderr, /validation\.accuracy [\d.]+ of imdb-sentiment@2 is below the minimum 0\.99/);
    writeDeployYaml('    gate: {metric: f2_score}');
    const unknown = await ledge(['deploy', 'imdb-sentiment@2']);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /^ledge: error: quality gate: imdb-sentiment@2 has no metric 'f2_score' \(it has .*validation\.accuracy.*\); set gate\.metric/,
    );
    writeDeployYaml();
    assert.equal((await status()).serving?.deploymentId, 2, 'nothing changed');

    const forced = ok(
      await ledge(['deploy', 'imdb-sentiment@1', '--force', '--cause', 'hotfix']),
      'deploy --force',
    );
    assert.match(
      forced.stdout,
      /^quality gate overridden \(--force\): validation\.accuracy .* is worse than/m,
    );
    assert.deepEqual(await servedVersions(), ['1']);
  });

  it('lists every deployment with its status in history', async () => {
    const deployments = JSON.parse(
      ok(await ledge(['deploy', 'history', '--json']), 'history').stdout,
    ) as Deployment[];
    assert.deepEqual(
      deployments.map((d) => [d.id, d.modelVersion, d.status, d.cause]),
      [
        [4, 1, 'active', 'hotfix'],
        [3, null, 'failed', 'manual'],
        [2, 2, 'superseded', 'manual'],
        [1, 1, 'superseded', 'manual'],
      ],
    );
    const failed = deployments[1]!;
    assert.match(failed.message!, /^start: the server exited with code 1/);
    assert.equal(failed.location, path.join(root, 'broken'));
    assert.equal(deployments[0]!.previousId, 2);
    assert.equal((deployments[0]!.properties.gate as { forced: boolean }).forced, true);
    const human = ok(await ledge(['deploy', 'history']), 'history').stdout.split('\n');
    assert.match(human[0]!, /^id +model +status +started +cause +message$/);
    assert.match(human[1]!, /^4 +imdb-sentiment@1 +active /);
    assert.match(human[2]!, /^3 +imdb-sentiment \(sha256:[0-9a-f]{12}\) +failed /);
  });

  it('rolls back to the previous successful deployment of another model', async () => {
    const result = ok(await ledge(['deploy', 'rollback']), 'rollback');
    assert.match(
      result.stdout,
      new RegExp(
        `^Serving imdb-sentiment@2 \\(the model of deployment 2\\) at ${url} \\(deployment 5; replaced imdb-sentiment@1 \\(deployment 4\\)\\)$`,
        'm',
      ),
    );
    assert.deepEqual(await servedVersions(), ['2']);
    const deployments = JSON.parse(
      ok(await ledge(['deploy', 'history', '--json']), 'history').stdout,
    ) as Deployment[];
    assert.deepEqual(
      deployments.slice(0, 2).map((d) => [d.id, d.status, d.cause]),
      [
        [5, 'active', 'rollback'],
        [4, 'rolled-back', 'hotfix'],
      ],
    );
    assert.equal(deployments[0]!.properties.restores, 2);
    // Back from version 2 there is only version 1, whose deployment 4 was rolled back, and deployment 1:
    const again = ok(await ledge(['deploy', 'rollback']), 'second rollback');
    assert.match(again.stdout, /^Serving imdb-sentiment@1 \(the model of deployment 1\)/m);
    const third = await ledge(['deploy', 'rollback']);
    assert.equal(third.code, 2);
    assert.match(
      third.stderr,
      /no earlier deployment of another model than imdb-sentiment@1 \(deployment 6\)/,
    );
  });

  it('stops: the port is free, no supervisor or server is left, the deployment is recorded stopped', async () => {
    const before = await status();
    const result = ok(await ledge(['deploy', 'stop']), 'stop');
    assert.match(result.stdout, /^stopped the supervisor \(pid \d+\) and its model servers/m);
    assert.match(result.stdout, /^deployment 6 is now stopped$/m);
    await assert.rejects(fetch(`${url}/v2/health/ready`), 'nothing listens on the stable port');
    assert.equal(alive(before.details.supervisor!.pid), false);
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} is gone`);
    const after = await status();
    assert.equal(after.state, 'stopped');
    assert.equal(after.deployment, null);
    assert.equal(fs.existsSync(path.join(root, '.ledge/deploy/local/state.json')), false);
    const history = JSON.parse(
      ok(await ledge(['deploy', 'history', '--json']), 'history').stdout,
    ) as Deployment[];
    assert.equal(history[0]!.status, 'stopped');
    const nothing = await ledge(['deploy', 'rollback']);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /nothing is deployed on target 'local' to roll back/);
    assert.match(ok(await ledge(['deploy', 'stop']), 'stop again').stdout, /target 'local' is not running/);
  });

  it('after a supervisor was killed: status says so, and the next deploy cleans up and takes over', async () => {
    ok(await ledge(['deploy', 'imdb-sentiment@2']), 'deploy');
    const before = await status();
    const supervisor = before.details.supervisor!.pid;
    const orphan = before.serving!.details.pid;
    process.kill(supervisor, 'SIGKILL');
    await waitFor(() => !alive(supervisor), 'the supervisor to die', 5000);
    const dead = await status();
    assert.equal(dead.state, 'stopped');
    assert.match(dead.problems.join('\n'), /the supervisor \(pid \d+\) is not running any more/);
    assert.match(
      dead.problems.join('\n'),
      /deployment 7 \(imdb-sentiment@2\) is recorded as active, but nothing runs/,
    );
    assert.equal(alive(orphan), true, 'its server outlived it');

    ok(await ledge(['deploy', 'imdb-sentiment@2', '--cause', 'recover']), 'deploy again');
    await waitFor(() => !alive(orphan), 'the orphaned server to be stopped', 10_000);
    const now = await status();
    assert.equal(now.state, 'serving');
    assert.equal(now.serving?.deploymentId, 8);
    assert.deepEqual(await servedVersions(), ['2']);
    ok(await ledge(['deploy', 'stop']), 'stop');
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} is gone`);
  });

  it('a failed first deployment leaves no supervisor behind; an unknown target lists the known ones', async () => {
    const result = await ledge(['deploy', './broken', '--target', 'other']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /failed at start: .*; nothing is serving/);
    assert.equal(fs.existsSync(path.join(root, '.ledge/deploy/other/state.json')), false);
    await assert.rejects(fetch(`http://127.0.0.1:${otherPort}/`), 'its port is free');
    assert.equal((await status('other')).state, 'stopped');

    const unknown = await ledge(['deploy', 'imdb-sentiment@2', '--target', 'prod']);
    assert.equal(unknown.code, 2);
    assert.equal(
      unknown.stderr,
      "ledge: error: no deploy target 'prod' (known: 'local', 'other'); targets are defined in .ledge/deploy.yaml (docs/deploy.md)\n",
    );
  });
});
