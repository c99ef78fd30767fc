/**
 * The local target's supervisor as a library, in this process, with stand-in model servers
 * (fake-serve.ts: real processes and real HTTP on loopback, but no ONNX Runtime, so each starts
 * in tens of milliseconds): blue/green under steady load, a failed swap that never interrupts
 * the old version, crash restarts with capped exponential backoff, stop freeing the port.
 * The end-to-end test with the real `ledge serve` is local-target.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BackendSpec } from '../../src/deploy/local/backend-process.js';
import { Supervisor, type SupervisorConfig } from '../../src/deploy/local/supervisor.js';
import { readEvents, readState } from '../../src/deploy/local/supervisor-state.js';
import type { TargetEvent } from '../../src/deploy/target.js';
import { waitFor } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { tempDir } from '../helpers/temp-dir.js';

const FAKE_SERVE = fileURLToPath(new URL('./fake-serve.js', import.meta.url));

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

/** A "bundle" directory for the fake server. */
function bundle(root: string, name: string, behavior: Record<string, unknown>): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'behavior.json'), JSON.stringify(behavior));
  return dir;
}

const spec = (deploymentId: number, dir: string, version: string): BackendSpec => ({
  deploymentId,
  model: { name: 'fake', version, digest: `sha256:${'0'.repeat(63)}${deploymentId}`, path: dir },
});

interface Harness {
  supervisor: Supervisor;
  url: string;
  root: string;
  stateDir: string;
  events: TargetEvent[];
  /** Every backend pid the supervisor's state ever named (checked gone at the end). */
  pids: Set<number>;
}

async function startSupervisor(t: TestContext, overrides: Partial<SupervisorConfig> = {}): Promise<Harness> {
  const root = tempDir(t, 'ledge-supervisor-');
  const stateDir = path.join(root, 'state');
  fs.mkdirSync(stateDir);
  const port = await freePort();
  const events: TargetEvent[] = [];
  const pids = new Set<number>();
  const supervisor = new Supervisor(
    {
      target: 'local',
      stateDir,
      workspace: root,
      host: '127.0.0.1',
      port,
      serveCommand: [process.execPath, FAKE_SERVE, 'serve'],
      serveArgs: [],
      smokeText: 'a good film',
      healthTimeoutMs: 5000,
      drainTimeoutMs: 5000,
      restart: { initialDelayMs: 100, maxDelayMs: 400, stableMs: 60_000 },
      ...overrides,
    },
    {
      onEvent: (event) => {
        events.push(event);
        for (const b of readState(stateDir)?.backends ?? []) if (b.pid) pids.add(b.pid);
      },
    },
  );
  await supervisor.start();
  supervisor.attachControl({ url: 'http://127.0.0.1:1', token: 'test' });
  t.after(async () => {
    await supervisor.stop();
    for (const pid of pids) assert.equal(alive(pid), false, `backend ${pid} is gone`);
  });
  return { supervisor, url: `http://127.0.0.1:${port}`, root, stateDir, events, pids };
}

interface LoadResult {
  statuses: Map<number, number>;
  deployments: Set<string>;
  failures: string[];
  total: number;
}

/** Steady load: `workers` clients sending predictions back to back until `stop()` is called. */
function steadyLoad(url: string, workers = 4): { stop: () => Promise<LoadResult> } {
  let running = true;
  const result: LoadResult = { statuses: new Map(), deployments: new Set(), failures: [], total: 0 };
  const worker = async () => {
    while (running) {
      try {
        const response = await fetch(`${url}/v1/models/fake:predict`, {
          method: 'POST',
          body: JSON.stringify({ instances: ['a good film'] }),
        });
        await response.text();
        result.statuses.set(response.status, (result.statuses.get(response.status) ?? 0) + 1);
        result.deployments.add(response.headers.get('x-ledge-deployment') ?? '-');
        if (response.status !== 200) result.failures.push(`status ${response.status}`);
      } catch (error) {
        result.failures.push(String((error as Error).cause ?? error));
      }
      result.total++;
    }
  };
  const all = Promise.all(Array.from({ length: workers }, worker));
  return {
    stop: async () => {
      running = false;
      await all;
      return result;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('local target supervisor', () => {
  it('swaps blue/green under steady load without a failed request, and drains the old server', async (t) => {
    const h = await startSupervisor(t);
    const first = await h.supervisor.deploy(spec(1, bundle(h.root, 'v1', { mode: 'ok' }), '1'));
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.deepEqual(
      first.steps.map((s) => s.step),
      ['start', 'ready', 'smoke', 'switch'],
    );
    const oldPid = first.serving!.details.pid as number;

    const load = steadyLoad(h.url);
    await sleep(300);
    const second = await h.supervisor.deploy(spec(2, bundle(h.root, 'v2', { mode: 'ok' }), '2'));
    await sleep(300);
    const result = await load.stop();
    assert.equal(second.ok, true, JSON.stringify(second));
    assert.deepEqual(
      second.steps.map((s) => s.step),
      ['start', 'ready', 'smoke', 'switch', 'drain'],
    );
    assert.deepEqual(result.failures, [], `every request answered 200 (${result.total} sent)`);
    assert.ok(result.total > 50, `steady load (${result.total} requests)`);
    assert.deepEqual(
      [...result.deployments].sort(),
      ['1', '2'],
      'both versions answered, one after the other',
    );
    assert.equal(second.replaced?.deploymentId, 1);
    assert.equal(alive(oldPid), false, 'the old server exited after draining');
    const answer = await fetch(`${h.url}/v2/models/fake`);
    assert.deepEqual(((await answer.json()) as { versions: string[] }).versions, ['2']);
    assert.equal(answer.headers.get('x-ledge-deployment'), '2');
    const state = readState(h.stateDir)!;
    assert.equal(state.serving?.deploymentId, 2);
    assert.equal(state.backends.length, 1);
  });

  it('a new version that never gets ready is dropped; the old one never stops serving', async (t) => {
    const h = await startSupervisor(t, { healthTimeoutMs: 1500 });
    assert.equal((await h.supervisor.deploy(spec(1, bundle(h.root, 'v1', { mode: 'ok' }), '1'))).ok, true);
    for (const [id, mode, failedStep] of [
      [2, 'never-ready', 'ready'],
      [3, 'bad-score', 'smoke'],
      [4, 'exit-at-start', 'start'],
    ] as const) {
      const load = steadyLoad(h.url, 2);
      const started = performance.now();
      const outcome = await h.supervisor.deploy(spec(id, bundle(h.root, `v${id}`, { mode }), String(id)));
      const took = performance.now() - started;
      const result = await load.stop();
      assert.equal(outcome.ok, false);
      const failed = outcome.steps.find((s) => !s.ok)!;
      assert.equal(failed.step, failedStep, JSON.stringify(outcome.steps));
      assert.match(outcome.reason!, new RegExp(`^${failedStep}: `));
      if (mode === 'exit-at-start') assert.match(outcome.reason!, /cannot load .*not a model/);
      assert.equal(outcome.serving?.deploymentId, 1, 'the old version still serves');
      assert.deepEqual(result.failures, [], `${mode}: every request answered 200 during the failed swap`);
      assert.deepEqual([...result.deployments], ['1'], `${mode}: only the old version answered`);
      // The old version serves throughout; the failed check is given up within the health
      // timeout, and the rollout reports back well within 5 s of it.
      const failedAt = outcome.steps.reduce((ms, s) => ms + s.ms, 0);
      assert.ok(
        took - failedAt < 5000,
        `${mode}: reported ${Math.round(took - failedAt)} ms after the check failed`,
      );
    }
    assert.equal(readState(h.stateDir)!.backends.length, 1, 'the failed servers are gone');
    assert.deepEqual(
      h.events.filter((e) => e.kind === 'backend-exited'),
      [],
      'a server failing its checks is no crash',
    );
  });

  it('restarts a crashed server with capped exponential backoff, recording each attempt', async (t) => {
    const h = await startSupervisor(t);
    const dir = bundle(h.root, 'v1', { mode: 'ok' });
    const first = await h.supervisor.deploy(spec(1, dir, '1'));
    const pid = first.serving!.details.pid as number;

    // A crash: restarted after the first delay, serving again.
    process.kill(pid, 'SIGKILL');
    await waitFor(() => h.events.some((e) => e.kind === 'backend-restarted'), 'the restart', 10_000);
    const restarted = h.supervisor.status().serving!;
    assert.notEqual(restarted.details.pid, pid);
    assert.equal(restarted.deploymentId, 1);
    assert.equal((await fetch(`${h.url}/v2/health/ready`)).status, 200);

    // Now every restart fails (the bundle went bad): the delay doubles up to its cap.
    fs.writeFileSync(path.join(dir, 'behavior.json'), JSON.stringify({ mode: 'exit-at-start' }));
    process.kill(restarted.details.pid as number, 'SIGKILL');
    await waitFor(
      () => h.events.filter((e) => e.kind === 'backend-restart-failed').length >= 4,
      'four failed restarts',
      15_000,
    );
    const down = await fetch(`${h.url}/v1/models/fake:predict`, { method: 'POST', body: '{}' });
    assert.equal(down.status, 503);
    assert.equal(down.headers.get('retry-after'), '1');
    assert.match(((await down.json()) as { error: string }).error, /restarting it \(attempt \d+\)/);
    const status = h.supervisor.status();
    assert.ok(status.restarting, 'status says it is restarting');

    // A crash soon after a restart goes on with the backoff (it resets once a server stays up
    // for `stableMs`): 200, 400, then the 400 ms cap (plus start-up time).
    const crash = h.events.findLast((e) => e.kind === 'backend-exited')!;
    const attempts = h.events.filter((e) => e.kind === 'backend-restart-failed').slice(0, 4);
    const times = [crash, ...attempts].map((e) => Date.parse(e.at));
    const gaps = times.slice(1).map((time, i) => time - times[i]!);
    const expected = [200, 400, 400, 400];
    for (const [i, gap] of gaps.entries()) {
      assert.ok(gap >= expected[i]! - 20, `attempt ${i + 1} waited ${gap} ms (at least ${expected[i]})`);
      assert.ok(gap < expected[i]! + 1500, `attempt ${i + 1} waited ${gap} ms (about ${expected[i]})`);
    }
    assert.deepEqual(
      attempts.map((e) => e.properties?.attempt),
      [2, 3, 4, 5],
    );

    // The bundle is fixed: the next attempt brings it back.
    fs.writeFileSync(path.join(dir, 'behavior.json'), JSON.stringify({ mode: 'ok' }));
    await waitFor(
      () => h.events.filter((e) => e.kind === 'backend-restarted').length === 2,
      'the second restart',
      10_000,
    );
    assert.equal((await fetch(`${h.url}/v2/health/ready`)).status, 200);
    assert.ok(
      readEvents(h.stateDir, 100).some((e) => e.kind === 'backend-restart-failed'),
      'events.jsonl has them too',
    );
  });

  it('stops: the port is free, the servers are gone, state.json is removed', async (t) => {
    const h = await startSupervisor(t);
    const outcome = await h.supervisor.deploy(spec(1, bundle(h.root, 'v1', { mode: 'ok' }), '1'));
    const pid = outcome.serving!.details.pid as number;
    const was = await h.supervisor.stop();
    assert.equal(was?.deploymentId, 1);
    assert.equal(alive(pid), false);
    assert.equal(readState(h.stateDir), undefined);
    await assert.rejects(fetch(`${h.url}/v2/health/ready`), 'nothing listens on the port');
    const again = await new Promise<boolean>((resolve) => {
      const server = net.createServer().listen(Number(new URL(h.url).port), '127.0.0.1', () => {
        server.close(() => resolve(true));
      });
      server.on('error', () => resolve(false));
    });
    assert.equal(again, true, 'the port can be bound again');
  });
});
