/**
 * `ledge server` as users run it: the real CLI on loopback (port 0) over a tiny pipeline in a
 * real git repository: tokens and their checks, the queue API, the dashboard behind it, logs
 * without secrets, a graceful SIGTERM, and a server killed with SIGKILL mid-run.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runLedge } from '../helpers/cli.js';
import { controlWorkspace, countOf, openRecords, pidAlive, until } from './helpers/control-workspace.js';
import { api, startServer } from './helpers/server-process.js';

async function createToken(root: string, name: string, readOnly = false): Promise<string> {
  const result = await runLedge(
    ['token', 'create', '--name', name, '--json', ...(readOnly ? ['--read-only'] : [])],
    {
      cwd: root,
    },
  );
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { token: string }).token;
}

async function waitForRun(
  url: string,
  token: string,
  id: number,
  statuses = ['succeeded', 'failed', 'gated', 'cancelled', 'interrupted'],
) {
  return until(async () => {
    const { body } = await api(`${url}/api/queue/${id}`, 'GET', token);
    return statuses.includes(body?.status) ? body : undefined;
  }, `run ${id} to end`);
}

describe('ledge server', () => {
  it('queues runs over the API for valid tokens only, serves the dashboard, never logs tokens', async (t) => {
    const root = controlWorkspace(t);
    const writer = await createToken(root, 'ci');
    const reader = await createToken(root, 'viewer', true);
    assert.match(writer, /^ledge_[A-Za-z0-9_-]{43}$/);
    const listed = await runLedge(['token', 'list', '--json'], { cwd: root });
    assert.equal(listed.code, 0);
    assert.ok(!listed.stdout.includes(writer));
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { name: string; readOnly: boolean }[]).map((x) => [x.name, x.readOnly]),
      [
        ['ci', false],
        ['viewer', true],
      ],
    );

    const server = await startServer(t, root);
    const health = await api(`${server.url}/api/health`, 'GET');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');

    const anonymous = await api(`${server.url}/api/queue`, 'GET');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.text.split('\n').length, 1);
    assert.match(anonymous.body.error, /API token is required/);
    assert.equal((await api(`${server.url}/api/runs`, 'POST', undefined, {})).status, 401);
    assert.equal((await api(`${server.url}/api/runs`, 'POST', 'ledge_not-a-real-token', {})).status, 401);
    const readOnly = await api(`${server.url}/api/runs`, 'POST', reader, {});
    assert.equal(readOnly.status, 403);
    assert.match(readOnly.body.error, /read-only/);
    assert.equal((await api(`${server.url}/api/queue`, 'GET', reader)).status, 200);
    assert.equal(
      (await api(`${server.url}/api/runs`, 'POST', writer, { stages: ['bad stage!'] })).status,
      400,
    );
    assert.deepEqual((await api(`${server.url}/api/runs`, 'POST', writer, { stages: ['trian'] })).body, {
      error: "no stage 'trian' in ledge.yaml (stages: prepare, train)",
    });

    // Refused from its Content-Length, before it is read: a 413, or the connection closed on a
    // client still sending; never queued either way.
    const huge = await api(`${server.url}/api/runs`, 'POST', writer, {
      cause: 'x'.repeat(2 * 1024 * 1024),
    }).catch(() => undefined);
    if (huge)
      assert.deepEqual([huge.status, huge.body], [413, { error: 'request body over the size limit' }]);
    assert.deepEqual((await api(`${server.url}/api/queue`, 'GET', reader)).body, []);
    const queued = await api(`${server.url}/api/runs`, 'POST', writer, {
      stages: ['train'],
      cause: 'from test',
    });
    assert.equal(queued.status, 202, queued.text);
    const run = await waitForRun(server.url, reader, queued.body.run.id);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.deepEqual(
      run.causes.map((c: { kind: string; user: string; note: string }) => [c.kind, c.user, c.note]),
      [['manual', 'ci', 'from test']],
    );
    assert.equal(countOf(root, 'train'), 1);
    const log = await api(`${server.url}/api/queue/${run.id}/log`, 'GET', reader);
    assert.match(log.text, /train/);

    // The dashboard and its read API, behind the same check.
    const signIn = await api(`${server.url}/`, 'GET');
    assert.equal(signIn.status, 200);
    assert.match(signIn.text, /Sign in/);
    assert.equal((await api(`${server.url}/api/models`, 'GET')).status, 401);
    // A browser signs in with a read-only token and gets it back as a SameSite=Strict cookie,
    // good for reads, not for writes.
    const login = await fetch(`${server.url}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: reader }),
      redirect: 'manual',
    });
    assert.equal(login.status, 303);
    const cookie = login.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const session = { cookie: cookie.split(';')[0]! };
    const viaCookie = await api(`${server.url}/`, 'GET', undefined, undefined, session);
    assert.match(viaCookie.text, /<html/i);
    assert.doesNotMatch(viaCookie.text, /Sign in/);
    assert.equal((await api(`${server.url}/api/queue`, 'GET', undefined, undefined, session)).status, 200);
    // Writing with the cookie alone is refused (no CSRF token: test/control/dashboard-queue.test.ts).
    assert.equal((await api(`${server.url}/api/runs`, 'POST', undefined, {}, session)).status, 403);
    const badLogin = await fetch(`${server.url}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: 'ledge_wrong' }),
      redirect: 'manual',
    });
    assert.equal(badLogin.status, 401);
    const page = await api(`${server.url}/`, 'GET', reader);
    assert.equal(page.status, 200);
    assert.match(page.text, /<html/i);
    const executions = await api(`${server.url}/api/runs?type=run`, 'GET', reader);
    assert.equal(executions.status, 200);
    assert.equal(executions.body[0].id, run.pipelineRunId);
    assert.match(executions.body[0].cause, new RegExp(`^control run ${run.id}: manual \\(ci\\): from test$`));

    // Revoked: refused from then on.
    assert.equal((await runLedge(['token', 'revoke', 'ci'], { cwd: root })).code, 0);
    assert.equal((await api(`${server.url}/api/runs`, 'POST', writer, {})).status, 401);

    // `ledge trigger --server` with a token from the environment.
    const other = await createToken(root, 'other');
    const triggered = await runLedge(['trigger', 'prepare', '--server', server.url, '--wait', '--json'], {
      cwd: root,
      env: { LEDGE_TOKEN: other },
    });
    assert.equal(triggered.code, 0, triggered.stderr);
    assert.equal(JSON.parse(triggered.stdout).status, 'succeeded');

    server.child.kill('SIGTERM');
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    const lines = server
      .log()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { msg: string; status?: number; token?: string });
    assert.ok(lines.some((l) => l.msg === 'request' && l.status === 401));
    assert.ok(lines.some((l) => l.msg === 'request' && l.token === 'viewer'));
    for (const secret of [writer, reader, other])
      assert.ok(!server.log().includes(secret), 'a token was logged');
    assert.ok(!server.log().includes('ledge_not-a-real-token'));
  });

  it('on restart after SIGKILL mid-run: the run is interrupted, its processes stopped, the lock free, the queue resumes', async (t) => {
    const root = controlWorkspace(t, { hold: '' });
    const token = await createToken(root, 'ci');
    const first = await startServer(t, root);
    const running = await api(`${first.url}/api/runs`, 'POST', token, {});
    const pidFile = path.join(root, '.pids', 'train');
    const stagePid = await until(
      () => (fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) || undefined : undefined),
      'the train stage to start',
    );
    const waiting = await api(`${first.url}/api/runs`, 'POST', token, { stages: ['prepare'] });
    assert.equal(waiting.body.run.status, 'queued');
    first.child.kill('SIGKILL');
    await first.exited;
    assert.ok(pidAlive(stagePid), 'the orphaned stage outlives the killed server');
    assert.ok(fs.existsSync(path.join(root, '.ledge', 'lock')));

    const second = await startServer(t, root);
    const interrupted = await api(`${second.url}/api/queue/${running.body.run.id}`, 'GET', token);
    assert.equal(interrupted.body.status, 'interrupted');
    assert.equal(interrupted.body.reason, 'the control server stopped while it ran');
    assert.ok(!pidAlive(stagePid), 'the orphaned stage was stopped');
    const resumed = await waitForRun(second.url, token, waiting.body.run.id);
    assert.equal(resumed.status, 'succeeded', JSON.stringify(resumed));
    assert.equal(fs.existsSync(path.join(root, '.ledge', 'lock')), false, 'the workspace lock is free');
    const { metadata } = await openRecords(t, root);
    const [pipelineRun] = await metadata
      .listExecutions({ type: 'run', where: undefined, limit: 5 })
      .then((rows) => rows.filter((r) => r.cause.startsWith(`control run ${running.body.run.id}:`)));
    assert.equal(pipelineRun?.status, 'interrupted');
  });

  it('on SIGTERM stops the running run (recorded interrupted), keeps queued ones, exits 0', async (t) => {
    const root = controlWorkspace(t, { hold: '' });
    const token = await createToken(root, 'ci');
    const server = await startServer(t, root);
    const running = await api(`${server.url}/api/runs`, 'POST', token, {});
    const pidFile = path.join(root, '.pids', 'train');
    const stagePid = await until(
      () => (fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) || undefined : undefined),
      'the train stage to start',
    );
    const waiting = await api(`${server.url}/api/runs`, 'POST', token, { stages: ['prepare'] });
    server.child.kill('SIGTERM');
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    assert.ok(!pidAlive(stagePid));
    assert.equal(fs.existsSync(path.join(root, '.ledge', 'lock')), false);
    const { records } = await openRecords(t, root);
    const stopped = await records.get(running.body.run.id);
    assert.equal(stopped.status, 'interrupted');
    assert.equal(stopped.reason, 'the control server stopped');
    assert.equal((await records.get(waiting.body.run.id)).status, 'queued');
  });

  it('refuses a bad server.yaml with one line naming the file, line and key', async (t) => {
    const root = controlWorkspace(t, {
      '.ledge/server.yaml': 'port: 0\ntriggers:\n  schedule:\n    - cron: "every day"\n',
    });
    const result = await runLedge(['server'], { cwd: root });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^ledge: error: \.ledge\/server\.yaml:4: triggers\.schedule\.0\.cron: not a cron expression/,
    );
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });
});
