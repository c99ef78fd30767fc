/**
 * GitHub and GitLab push webhooks on the real `ledge server`: signed deliveries queue a run with
 * the delivery id and commit as its cause; bad or missing signatures get 401 and a log line;
 * replayed delivery ids are ignored; a burst of 100 deliveries during a run becomes at most two
 * runs, with every delivery in exactly one of them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { githubSignature } from '../../src/control/triggers/webhook-signature.js';
import { controlWorkspace, openRecords, until } from './helpers/control-workspace.js';
import { api, startServer } from './helpers/server-process.js';

const SECRET = 'it is a secret to everybody';
const GITLAB_TOKEN = 'gitlab-shared-token';
const SERVER_YAML = `port: 0
public_read: true
triggers:
  github: { secret_env: TEST_GITHUB_SECRET, branch: main }
  gitlab: { token_env: TEST_GITLAB_TOKEN, branch: main, stages: [prepare] }
`;
const ENV = { TEST_GITHUB_SECRET: SECRET, TEST_GITLAB_TOKEN: GITLAB_TOKEN };

function pushBody(branch: string, commit: string): string {
  return JSON.stringify({
    ref: `refs/heads/${branch}`,
    after: commit,
    repository: { full_name: 'acme/model' },
  });
}

function github(url: string, body: string, delivery: string, signature: string | undefined, event = 'push') {
  return api(`${url}/api/webhooks/github`, 'POST', undefined, body, {
    'x-github-event': event,
    'x-github-delivery': delivery,
    ...(signature === undefined ? {} : { 'x-hub-signature-256': signature }),
  });
}

const sha = (n: number) => n.toString(16).padStart(40, 'a');
/** The workspace's commit: a push of it runs the workspace as it is (pushed-commit.test.ts moves it). */
const headOf = (root: string) =>
  execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();

describe('webhooks', () => {
  it('accepts signed GitHub and GitLab pushes, refuses bad signatures, ignores replays', async (t) => {
    const root = controlWorkspace(t, { '.ledge/server.yaml': SERVER_YAML });
    const server = await startServer(t, root, [], ENV);
    const head = headOf(root);

    const body = pushBody('main', head);
    const ok = await github(server.url, body, 'delivery-1', githubSignature(body, SECRET));
    assert.equal(ok.status, 202, ok.text);
    const runId = ok.body.run.id as number;
    assert.deepEqual(
      {
        kind: ok.body.run.causes[0].kind,
        delivery: ok.body.run.causes[0].delivery,
        commit: ok.body.run.causes[0].commit,
      },
      { kind: 'webhook', delivery: 'delivery-1', commit: head },
    );

    const forged = await github(server.url, body, 'delivery-2', githubSignature(body, 'wrong secret'));
    assert.equal(forged.status, 401);
    assert.deepEqual(forged.body, { error: 'github webhook: bad or missing signature' });
    const tampered = await github(
      server.url,
      pushBody('main', sha(9)),
      'delivery-3',
      githubSignature(body, SECRET),
    );
    assert.equal(tampered.status, 401);
    assert.equal((await github(server.url, body, 'delivery-4', undefined)).status, 401);
    assert.equal((await github(server.url, body, 'delivery-5', 'sha256=zz')).status, 401);

    const replay = await github(server.url, body, 'delivery-1', githubSignature(body, SECRET));
    assert.equal(replay.status, 200);
    assert.equal(replay.body.ignored, 'replayed delivery');

    const otherBranch = pushBody('feature', sha(2));
    const ignored = await github(server.url, otherBranch, 'delivery-6', githubSignature(otherBranch, SECRET));
    assert.equal(ignored.status, 202);
    assert.equal(ignored.body.ignored, 'not a push to main');
    const ping = await github(server.url, '{}', 'delivery-7', githubSignature('{}', SECRET), 'ping');
    assert.equal(ping.body.ignored, 'not a push event');

    const gitlabBody = JSON.stringify({
      object_kind: 'push',
      ref: 'refs/heads/main',
      checkout_sha: head,
      after: head,
    });
    const gitlab = (token: string | undefined, uuid: string) =>
      api(`${server.url}/api/webhooks/gitlab`, 'POST', undefined, gitlabBody, {
        'x-gitlab-event': 'Push Hook',
        'x-gitlab-event-uuid': uuid,
        ...(token === undefined ? {} : { 'x-gitlab-token': token }),
      });
    assert.equal((await gitlab('wrong', 'g-1')).status, 401);
    assert.equal((await gitlab(undefined, 'g-1')).status, 401);
    const accepted = await gitlab(GITLAB_TOKEN, 'g-1');
    assert.equal(accepted.status, 202, accepted.text);
    assert.equal((await gitlab(GITLAB_TOKEN, 'g-1')).body.ignored, 'replayed delivery');

    const ended = await until(async () => {
      const { body: runs } = await api(`${server.url}/api/queue`, 'GET');
      return runs.every((r: { status: string }) => !['queued', 'running'].includes(r.status))
        ? runs
        : undefined;
    }, 'the runs to end');
    assert.ok(ended.some((r: { id: number; status: string }) => r.id === runId && r.status === 'succeeded'));

    const log = server.log();
    const refusals = log
      .split('\n')
      .filter((line) => line.includes('webhook refused: bad or missing signature'));
    assert.equal(refusals.length, 6, log);
    assert.ok(refusals.some((line) => line.includes('"delivery":"delivery-2"')));
    assert.match(
      log,
      /"msg":"webhook ignored: not a push to main".*"delivery":"delivery-6","branch":"feature"/,
    );
    assert.ok(!log.includes(SECRET) && !log.includes(GITLAB_TOKEN));
  });

  it('coalesces a burst of 100 deliveries during a run into at most 2 runs, none lost or run twice', async (t) => {
    const root = controlWorkspace(t, { '.ledge/server.yaml': SERVER_YAML, hold: '' });
    const server = await startServer(t, root, [], ENV);
    const head = headOf(root);
    const deliveries = Array.from({ length: 100 }, () => randomUUID());
    const started = Date.now();
    const responses = await Promise.all(
      deliveries.map((delivery) => {
        const body = pushBody('main', head);
        return github(server.url, body, delivery, githubSignature(body, SECRET));
      }),
    );
    const burstMs = Date.now() - started;
    assert.deepEqual(
      responses.map((r) => r.status),
      deliveries.map(() => 202),
    );
    // Replayed in the middle of it all: ignored.
    const replays = await Promise.all(
      deliveries.slice(0, 10).map((delivery) => {
        const body = pushBody('main', head);
        return github(server.url, body, delivery, githubSignature(body, SECRET));
      }),
    );
    assert.ok(replays.every((r) => r.status === 200 && r.body.ignored === 'replayed delivery'));
    fs.rmSync(path.join(root, 'hold'));
    const runs = await until(async () => {
      const { body } = await api(`${server.url}/api/queue`, 'GET');
      return body.length > 0 && body.every((r: { status: string }) => r.status === 'succeeded')
        ? body
        : undefined;
    }, 'every run to succeed');
    assert.ok(runs.length <= 2, `${runs.length} runs`);
    const seen = runs.flatMap((r: { causes: { delivery: string }[] }) => r.causes.map((c) => c.delivery));
    assert.equal(seen.length, 100, 'each delivery in exactly one run');
    assert.deepEqual(new Set(seen), new Set(deliveries));
    const { metadata } = await openRecords(t, root);
    const pipelineRuns = await metadata.listExecutions({ type: 'run' });
    assert.ok(pipelineRuns.length <= 2);
    t.diagnostic(
      `100 deliveries in ${burstMs} ms → ${runs.length} runs (${runs.map((r: { causes: unknown[] }) => r.causes.length).join(' + ')} causes)`,
    );
  });
});
