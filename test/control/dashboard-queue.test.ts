/**
 * The dashboard's run queue in headless Chromium (Debian `chromium`, playwright-core), served
 * by the real `ledge server`: a person signs in with a token that may write, presses **Run
 * pipeline**, sees the run running, queues and cancels a second one, then sees the first one
 * finished and its pipeline run listed; picks one stage and Force and sees a run of just it. A read-only session sees the queue but no button, and
 * the server refuses its writes (403), as it refuses a signed-in browser's writes that lack the
 * session's CSRF token or come from another origin.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { runLedge } from '../helpers/cli.js';
import { controlWorkspace, countOf } from './helpers/control-workspace.js';
import { api, startServer } from './helpers/server-process.js';

let browser: Browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
});

after(async () => {
  await browser?.close();
});

async function createToken(root: string, name: string, readOnly = false): Promise<string> {
  const result = await runLedge(
    ['token', 'create', '--name', name, '--json', ...(readOnly ? ['--read-only'] : [])],
    { cwd: root },
  );
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { token: string }).token;
}

/** A fresh browser profile signed in through the login form; console errors are collected. */
async function signIn(
  url: string,
  token: string,
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  await page.goto(`${url}/`);
  assert.match(page.url(), /\/login$/, 'a browser without a session is sent to sign in');
  await page.getByLabel(/API token/).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Runs', level: 2 }).waitFor();
  return { context, page, problems };
}

/** Body rows of a table, cells joined by " | ". */
async function rows(page: Page, selector: string): Promise<string[]> {
  const texts: string[] = [];
  for (const row of await page.locator(`${selector} tbody tr`).all())
    texts.push((await row.locator('td').allInnerTexts()).map((s) => s.trim()).join(' | '));
  return texts;
}

describe('the dashboard of ledge server: the Run pipeline button and the queue', () => {
  it('a write session queues a run, sees it running then finished, cancels a queued one', async (t) => {
    const root = controlWorkspace(t, { hold: '' });
    const writer = await createToken(root, 'ci');
    const server = await startServer(t, root);
    const { context, page, problems } = await signIn(server.url, writer);
    t.after(() => context.close());

    await page.getByRole('heading', { name: 'Run queue' }).waitFor();
    await page.locator('#queue-empty').waitFor();
    const button = page.getByRole('button', { name: 'Run pipeline' });
    await button.click();
    await page.locator('#queue-message', { hasText: /^Run 1 queued\.$/ }).waitFor();
    // The train stage waits while `hold` exists: the run is seen running, with its cause.
    await page.locator('table.queue-active tbody tr', { hasText: 'running' }).waitFor();
    const [running] = await rows(page, 'table.queue-active');
    assert.match(running!, /^1 \| running \| manual \(ci\): from the dashboard \| all \| /);

    // A second press queues a follow-up run; its Cancel button drops it.
    await button.click();
    await page.locator('#queue-message', { hasText: /^Run 2 queued\.$/ }).waitFor();
    await page.locator('table.queue-active tbody tr', { hasText: 'queued' }).waitFor();
    await page.getByRole('button', { name: 'Cancel run 2' }).click();
    await page.locator('#queue-message', { hasText: /^Run 2 cancelled\.$/ }).waitFor();
    await page.locator('table.queue-ended tbody tr', { hasText: 'cancelled' }).waitFor();

    fs.rmSync(path.join(root, 'hold'));
    await page.locator('#queue-empty').waitFor({ timeout: 30_000 });
    await page.locator('table.queue-ended tbody tr', { hasText: 'succeeded' }).waitFor();
    const ended = await rows(page, 'table.queue-ended');
    assert.match(
      ended.find((r) => r.startsWith('1 |'))!,
      /^1 \| succeeded \| manual \(ci\): from the dashboard \| run \d+ \| /,
    );
    assert.match(ended.find((r) => r.startsWith('2 |'))!, /^2 \| cancelled \| /);
    assert.equal(countOf(root, 'train'), 1, 'the cancelled run never ran');

    // Its pipeline run joins the runs list below without a reload.
    await page
      .locator('table.runs tbody tr', { hasText: 'control run 1: manual (ci): from the dashboard' })
      .waitFor();
    const listed = await rows(page, 'table.runs');
    assert.equal(listed.length, 1, listed.join('\n'));
    assert.match(listed[0]!, /\| Run \| ledge\.yaml \| succeeded \|/);
    assert.deepEqual(problems, []);
  });

  it('a write session picks a stage of ledge.yaml and Force: the run is queued for just that stage', async (t) => {
    const root = controlWorkspace(t);
    const writer = await createToken(root, 'ci');
    // Up to date first: only Force makes the picked stage run again.
    const ran = await runLedge(['run'], { cwd: root });
    assert.equal(ran.code, 0, ran.stderr);
    const server = await startServer(t, root);
    const { context, page, problems } = await signIn(server.url, writer);
    t.after(() => context.close());

    const picker = page.getByRole('group', { name: 'Stages' });
    await picker.waitFor();
    assert.deepEqual(
      await picker
        .locator('input[name=stage]')
        .evaluateAll((boxes) => boxes.map((b) => (b as unknown as { value: string }).value)),
      ['prepare', 'train'],
    );
    await picker.getByLabel('prepare', { exact: true }).check();
    await picker.getByLabel(/Force/).check();
    await page.getByRole('button', { name: 'Run pipeline' }).click();
    await page.locator('#queue-message', { hasText: /^Run 1 queued for prepare, forced\.$/ }).waitFor();
    await page.locator('table.queue-ended tbody tr', { hasText: 'succeeded' }).waitFor();
    const [ended] = await rows(page, 'table.queue-ended');
    assert.match(ended!, /^1 \| succeeded \| manual \(ci\): from the dashboard, forced \| run \d+ \| /);
    const { body: run } = await api(`${server.url}/api/queue/1`, 'GET', writer);
    assert.deepEqual(run.stages, ['prepare']);
    assert.deepEqual(
      [countOf(root, 'prepare'), countOf(root, 'train')],
      [2, 1],
      'prepare ran again, train did not',
    );
    assert.deepEqual(problems, []);
  });

  it('a read-only session sees the queue without buttons; browser writes are refused without CSRF token, from other origins, or read-only', async (t) => {
    const root = controlWorkspace(t);
    const writer = await createToken(root, 'ci');
    const reader = await createToken(root, 'viewer', true);
    const server = await startServer(t, root);

    const viewer = await signIn(server.url, reader);
    t.after(() => viewer.context.close());
    await viewer.page.getByRole('heading', { name: 'Run queue' }).waitFor();
    await viewer.page.locator('#queue-read-only', { hasText: "read-only token 'viewer'" }).waitFor();
    await viewer.page.locator('#queue-empty').waitFor();
    assert.equal(await viewer.page.getByRole('button', { name: 'Run pipeline' }).count(), 0);
    // Even with the session's CSRF token, the read-only session may not write.
    const refused = (await viewer.page.evaluate(async () => {
      const session = (await (await fetch('/api/session')).json()) as {
        user: string;
        canWrite: boolean;
        csrf: string;
      };
      const answer = await fetch('/api/runs', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-ledge-csrf': session.csrf },
        body: '{}',
      });
      return { session, status: answer.status, body: (await answer.json()) as { error: string } };
    })) as { session: { user: string; canWrite: boolean }; status: number; body: { error: string } };
    assert.deepEqual(
      [refused.session.user, refused.session.canWrite, refused.status, refused.body.error],
      ['viewer', false, 403, "token 'viewer' is read-only"],
    );
    assert.deepEqual(viewer.problems, [
      'console: Failed to load resource: the server responded with a status of 403 (Forbidden)',
    ]);

    // A write session's cookie alone does not write: the CSRF token and this origin are needed.
    const editor = await signIn(server.url, writer);
    t.after(() => editor.context.close());
    const cookies = await editor.context.cookies();
    const cookie = cookies.find((c) => c.name === 'ledge_token');
    assert.ok(cookie, JSON.stringify(cookies));
    assert.ok(cookie.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie));
    const session = { cookie: `ledge_token=${cookie.value}` };
    const { body: info } = await api(`${server.url}/api/session`, 'GET', undefined, undefined, session);
    assert.equal(info.user, 'ci');
    assert.equal(info.canWrite, true);
    assert.match(info.csrf, /^[A-Za-z0-9_-]{43}$/);
    const noCsrf = await api(`${server.url}/api/runs`, 'POST', undefined, {}, session);
    assert.equal(noCsrf.status, 403);
    assert.match(noCsrf.body.error, /X-Ledge-CSRF/);
    const wrongCsrf = await api(
      `${server.url}/api/runs`,
      'POST',
      undefined,
      {},
      { ...session, 'x-ledge-csrf': 'x'.repeat(43) },
    );
    assert.equal(wrongCsrf.status, 403);
    const otherSite = await api(
      `${server.url}/api/runs`,
      'POST',
      undefined,
      {},
      {
        ...session,
        'x-ledge-csrf': info.csrf,
        origin: 'http://evil.example',
      },
    );
    assert.equal(otherSite.status, 403);
    const crossSite = await api(
      `${server.url}/api/runs`,
      'POST',
      undefined,
      {},
      {
        ...session,
        'x-ledge-csrf': info.csrf,
        'sec-fetch-site': 'cross-site',
      },
    );
    assert.equal(crossSite.status, 403);
    assert.equal((await api(`${server.url}/api/queue`, 'GET', writer)).body.length, 0, 'nothing was queued');
    const ok = await api(
      `${server.url}/api/runs`,
      'POST',
      undefined,
      {},
      {
        ...session,
        'x-ledge-csrf': info.csrf,
        origin: new URL(server.url).origin,
      },
    );
    assert.equal(ok.status, 202, ok.text);
    // No other site can sign a browser in either.
    const forgedLogin = await fetch(`${server.url}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: writer }),
      headers: { origin: 'http://evil.example' },
      redirect: 'manual',
    });
    assert.equal(forgedLogin.status, 403);
    assert.ok(!server.log().includes(cookie.value), 'the session token was logged');
  });
});
