/**
 * The control server's HTTP application (Hono): the run queue's REST API, webhooks, health,
 * and the dashboard behind them (every path the API does not answer goes to it).
 *
 *     GET  /api/health                     up, the active run, how many wait (no token needed)
 *     GET  /api/queue?status=&limit=       queued and past runs of the queue, newest first
 *     GET  /api/queue/:id                  one of them
 *     GET  /api/queue/:id/log              its `ledge run` output (text)
 *     POST /api/runs  (= POST /api/queue)  queue a run: {stages?, cause?, force?} → 202 {run, merged}
 *     GET  /api/stages                     the stages of ledge.yaml (the dashboard's picker)
 *     POST /api/queue/:id/cancel           cancel a queued run, stop a running one
 *     POST /api/webhooks/github|gitlab     push events (signed; not bearer tokens)
 *     GET  /api/session                    the browser's session: who, may it write, its CSRF token
 *     GET|POST /login                      the sign-in form; it sets the session cookie
 *
 * `GET /api/runs` stays the dashboard's (recorded pipeline runs); the queue is `/api/queue`.
 * Reads need a token unless public read is on; writes always need a token that may write.
 * Browsers present it as the session cookie /login sets (HttpOnly, SameSite=Strict); a write
 * with the cookie must also carry the session's CSRF token (`X-Ledge-CSRF`, from
 * /api/session) and come from this origin (Origin, Sec-Fetch-Site), so no other site can make a
 * signed-in browser queue or cancel a run.
 */
import fs from 'node:fs';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie, setCookie } from 'hono/cookie';
import { VERSION } from '../../core/version.js';
import type { ApiToken, ApiTokenRecords } from '../../metadata/api-tokens.js';
import type { ControlRunRecords } from '../../metadata/control-runs.js';
import { CONTROL_RUN_STATUSES, type ControlRunStatus, type RunCause } from '../../metadata/control-runs.js';
import type { TriggerRecords } from '../../metadata/trigger-records.js';
import { bearerToken, csrfTokenFor, hashToken, isTokenShaped, sameSecret } from '../auth/api-token.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { runLogPaths } from '../queue/pipeline-launcher.js';
import type { RunQueue } from '../queue/run-queue.js';
import { ControlHttpError, errorResponse } from './http-error.js';
import { registerWebhookRoutes, type WebhookSettings } from './webhook-routes.js';

export type { WebhookSettings } from './webhook-routes.js';

export interface ControlAppOptions {
  queue: RunQueue;
  runs: ControlRunRecords;
  tokens: ApiTokenRecords;
  triggers: TriggerRecords;
  logDir: string;
  publicRead: boolean;
  /** Accept any Host header (listening on a non-loopback address on purpose). */
  allowAnyHost: boolean;
  github?: WebhookSettings | undefined;
  gitlab?: WebhookSettings | undefined;
  /** The pipeline's stage names now (undefined when ledge.yaml cannot be read: not checked). */
  stageNames?: (() => string[] | undefined) | undefined;
  /** The dashboard, for every path the API does not answer. */
  dashboard?: { fetch(request: Request): Response | Promise<Response> } | undefined;
  log: Logger;
  clock: Clock;
}

type Env = { Variables: { token: ApiToken | undefined } };

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;
const MAX_BODY = 1024 * 1024;
const STAGE_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const SESSION_COOKIE = 'ledge_token';
const CSRF_HEADER = 'x-ledge-csrf';
const LOGIN_CSP = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'";

/** The sign-in page: a form that posts a token (no script, no inline style). */
const LOGIN_PAGE = (message: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ledge: sign in</title>
<link rel="stylesheet" href="/assets/styles.css"></head>
<body><main><h1>ledge</h1>
${message ? `<p role="alert">${message}</p>` : ''}
<form method="post" action="/login">
<label for="token">API token (<code>ledge token create --name NAME --read-only</code> to look;
a token that is not read-only also lets you queue and cancel runs)</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Sign in</button>
</form></main></body></html>
`;

/**
 * Whether a browser request comes from this server's own pages: its Origin (sent with every
 * POST by current browsers) names this host, and Sec-Fetch-Site, when sent, says same-origin.
 */
function fromThisOrigin(c: Context<Env>): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = c.req.header('origin');
  if (origin === undefined) return true;
  const host = c.req.header('host') ?? new URL(c.req.url).host;
  try {
    return new URL(origin).host.toLowerCase() === host.trim().toLowerCase();
  } catch {
    return false;
  }
}

function idParam(c: Context<Env>): number {
  const text = c.req.param('id') ?? '';
  if (!/^\d{1,12}$/.test(text)) throw new ControlHttpError(400, `run id must be a number, not '${text}'`);
  return Number(text);
}

async function readJson(c: Context<Env>): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.length > MAX_BODY) throw new ControlHttpError(413, 'request body over 1 MiB');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ControlHttpError(400, 'request body is not JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new ControlHttpError(400, 'request body must be a JSON object');
  return value as Record<string, unknown>;
}

function stagesOf(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string' && STAGE_NAME.test(s)))
    throw new ControlHttpError(400, 'stages must be a list of stage names');
  return value as string[];
}

export function createControlApp(options: ControlAppOptions): Hono<Env> {
  const { queue, runs, tokens, log } = options;
  const app = new Hono<Env>();

  // Request log: method, path, status, time, and the token's name — never the token.
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const token = c.get('token');
    log.info('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      ...(token ? { token: token.name } : {}),
    });
  });

  // On loopback, only requests addressed to a loopback name (no DNS rebinding); webhooks come
  // through proxies and tunnels under other names and authenticate by signature.
  app.use('*', async (c, next) => {
    if (!options.allowAnyHost && !c.req.path.startsWith('/api/webhooks/')) {
      const host = c.req.header('host') ?? new URL(c.req.url).host;
      if (!LOOPBACK_HOST.test(host.trim()))
        throw new ControlHttpError(403, 'this server answers only requests to localhost or 127.0.0.1');
    }
    await next();
  });

  // Bodies are read whole: cap them before reading (GitHub sends at most 25 MiB).
  const tooLarge = (what: string) => () => {
    throw new ControlHttpError(413, `${what} over the size limit`);
  };
  app.use('/api/webhooks/*', bodyLimit({ maxSize: MAX_BODY * 25, onError: tooLarge('webhook body') }));
  app.use('*', async (c, next) => {
    if (c.req.path.startsWith('/api/webhooks/')) return next();
    return bodyLimit({ maxSize: MAX_BODY, onError: tooLarge('request body') })(c, next);
  });

  const authenticate = async (c: Context<Env>, need: 'read' | 'write'): Promise<void> => {
    // Browsers cannot send a bearer header: after /login they send the token as a cookie, which
    // is SameSite=Strict (no cross-site request carries it); writes with it need more below.
    const bearer = bearerToken(c.req.header('authorization'));
    const cookie = bearer === undefined ? getCookie(c, SESSION_COOKIE) : undefined;
    const presented = bearer ?? cookie;
    if (presented === undefined) {
      if (need === 'read' && options.publicRead) return;
      log.warn('unauthenticated request refused', { method: c.req.method, path: c.req.path });
      throw new ControlHttpError(
        401,
        'an API token is required: send Authorization: Bearer <token> (ledge token create)',
      );
    }
    const token = isTokenShaped(presented) ? await tokens.authenticate(hashToken(presented)) : undefined;
    if (!token) {
      log.warn('invalid or revoked token refused', { method: c.req.method, path: c.req.path });
      throw new ControlHttpError(401, 'the API token is invalid or revoked');
    }
    c.set('token', token);
    if (need === 'write' && cookie !== undefined) {
      // A browser session writes only from this origin and with the session's CSRF token,
      // which only this origin's pages can read (GET /api/session).
      const csrf = c.req.header(CSRF_HEADER);
      if (!fromThisOrigin(c) || csrf === undefined || !sameSecret(csrf, csrfTokenFor(cookie))) {
        log.warn('browser write refused: cross-origin or without the CSRF token', {
          method: c.req.method,
          path: c.req.path,
          token: token.name,
        });
        throw new ControlHttpError(
          403,
          'a browser session may write only from the dashboard, with its X-Ledge-CSRF header (reload the page)',
        );
      }
    }
    if (need === 'write' && token.readOnly) {
      throw new ControlHttpError(403, `token '${token.name}' is read-only`);
    }
  };

  app.get('/api/health', async (c) => {
    const active = queue.activeRun;
    const waiting = await runs.queued();
    return c.json({ status: 'ok', version: VERSION, active: active?.id ?? null, queued: waiting.length });
  });

  app.get('/api/queue', async (c) => {
    await authenticate(c, 'read');
    const status = (c.req.query('status') ?? '').split(',').filter(Boolean);
    for (const s of status)
      if (!(CONTROL_RUN_STATUSES as readonly string[]).includes(s))
        throw new ControlHttpError(400, `unknown status '${s}' (one of ${CONTROL_RUN_STATUSES.join(', ')})`);
    const limitText = c.req.query('limit');
    const limit = limitText === undefined ? 100 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1)
      throw new ControlHttpError(400, 'limit must be a positive integer');
    return c.json(await runs.list({ status: status as ControlRunStatus[], limit: Math.min(limit, 1000) }));
  });

  app.get('/api/queue/:id', async (c) => {
    await authenticate(c, 'read');
    return c.json(await getRun(idParam(c)));
  });

  app.get('/api/queue/:id/log', async (c) => {
    await authenticate(c, 'read');
    const run = await getRun(idParam(c));
    const file = runLogPaths(options.logDir, run.id).log;
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    c.header('Content-Type', 'text/plain; charset=utf-8');
    return c.body(text);
  });

  const getRun = async (id: number) => {
    const run = await runs.get(id).catch(() => undefined);
    if (!run || run.workspace !== runs.workspace) throw new ControlHttpError(404, `no queued run ${id}`);
    return run;
  };

  const manualTrigger = async (c: Context<Env>) => {
    await authenticate(c, 'write');
    const body = await readJson(c);
    const stages = stagesOf(body.stages);
    const known = options.stageNames?.();
    const unknown = known ? stages.filter((s) => !known.includes(s)) : [];
    if (unknown.length > 0)
      throw new ControlHttpError(
        400,
        `no stage ${unknown.map((s) => `'${s}'`).join(', ')} in ledge.yaml (stages: ${known!.join(', ')})`,
      );
    if (body.cause !== undefined && typeof body.cause !== 'string')
      throw new ControlHttpError(400, 'cause must be a string');
    if (body.force !== undefined && typeof body.force !== 'boolean')
      throw new ControlHttpError(400, 'force must be true or false');
    const cause: RunCause = {
      kind: 'manual',
      at: options.clock.now().toISOString(),
      user: c.get('token')?.name,
      ...(typeof body.cause === 'string' && body.cause !== '' ? { note: body.cause.slice(0, 500) } : {}),
      ...(body.force === true ? { force: true } : {}),
    };
    const result = await queue.enqueue({ causes: [cause], stages });
    return c.json(result, 202);
  };
  app.post('/api/runs', manualTrigger);
  // The dashboard's stage picker: the stages of ledge.yaml now (null when it cannot be read).
  app.get('/api/stages', async (c) => {
    await authenticate(c, 'read');
    return c.json({ stages: options.stageNames?.() ?? null });
  });
  app.post('/api/queue', manualTrigger);

  app.post('/api/queue/:id/cancel', async (c) => {
    await authenticate(c, 'write');
    const id = idParam(c);
    await getRun(id);
    const run = await queue.cancel(id, `token '${c.get('token')?.name ?? '?'}'`);
    return c.json(run, 202);
  });

  registerWebhookRoutes(app, {
    queue,
    triggers: options.triggers,
    github: options.github,
    gitlab: options.gitlab,
    log,
    clock: options.clock,
  });

  app.get('/api/session', async (c) => {
    await authenticate(c, 'read');
    const token = c.get('token');
    const cookie = bearerToken(c.req.header('authorization')) ? undefined : getCookie(c, SESSION_COOKIE);
    c.header('Cache-Control', 'no-store');
    return c.json({
      user: token?.name ?? null,
      canWrite: token !== undefined && !token.readOnly,
      csrf: token !== undefined && cookie !== undefined ? csrfTokenFor(cookie) : null,
    });
  });

  app.get('/login', (c) => {
    c.header('Content-Security-Policy', LOGIN_CSP);
    return c.html(LOGIN_PAGE(''));
  });
  app.post('/login', async (c) => {
    c.header('Content-Security-Policy', LOGIN_CSP);
    // No other site may sign a browser in (with a token of its choosing).
    if (!fromThisOrigin(c)) throw new ControlHttpError(403, "sign in from this server's own page");
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    const found = isTokenShaped(token) ? await tokens.authenticate(hashToken(token)) : undefined;
    if (!found) {
      log.warn('sign-in refused: invalid or revoked token');
      return c.html(LOGIN_PAGE('That token is invalid or revoked.'), 401);
    }
    c.set('token', found);
    setCookie(c, SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/',
      maxAge: 7 * 24 * 3600,
    });
    return c.redirect('/', 303);
  });

  // Everything else is the dashboard's (its read API and pages), behind the read check; its
  // stylesheet, icon and browser modules hold no records and are served to anyone.
  app.all('*', async (c) => {
    if (c.req.path.startsWith('/api/webhooks/'))
      throw new ControlHttpError(404, `no such webhook: ${c.req.path}`);
    const isAsset = c.req.path.startsWith('/assets/');
    try {
      if (!isAsset) await authenticate(c, 'read');
    } catch (error) {
      // A browser asking for a page is sent to sign in; scripts get the JSON 401.
      const isPage = !c.req.path.startsWith('/api/');
      if (isPage && error instanceof ControlHttpError && error.status === 401)
        return c.redirect('/login', 303);
      throw error;
    }
    if (!options.dashboard) throw new ControlHttpError(404, `no such endpoint: ${c.req.path}`);
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD')
      throw new ControlHttpError(404, `no such endpoint: ${c.req.method} ${c.req.path}`);
    return options.dashboard.fetch(c.req.raw);
  });

  app.onError((error, c) => {
    const { status, body } = errorResponse(error);
    if (status >= 500) log.error('request failed', { method: c.req.method, path: c.req.path, error });
    // The unread rest of a refused body would be taken for the next request: close.
    if (status === 413) c.header('Connection', 'close');
    return c.json(body, status);
  });
  return app;
}
