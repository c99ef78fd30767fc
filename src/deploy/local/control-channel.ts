/**
 * How `ledge deploy` talks to a running supervisor: a tiny HTTP API on 127.0.0.1 (a port of
 * its own, never the stable one), guarded by a random bearer token that only the owner of
 * `state.json` can read.
 *
 *     GET  /status   → SupervisorStatus
 *     POST /deploy   {deploymentId, model} → DeployOutcome (after the swap, or its failure)
 *     POST /stop     → {serving} once everything is stopped; then the supervisor exits
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { DeployOutcome, ServingInstance } from '../target.js';
import type { BackendSpec } from './backend-process.js';
import { listen } from './reverse-proxy.js';
import type { Supervisor, SupervisorSettings, SupervisorStatus } from './supervisor.js';

/** POST /deploy: what to serve, and the target's settings as configured now. */
export interface DeployRequest extends BackendSpec {
  settings?: SupervisorSettings | undefined;
}

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

function send(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1 << 20) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

function authorized(req: http.IncomingMessage, token: string): boolean {
  const given = Buffer.from(String(req.headers.authorization ?? ''));
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function isBackendSpec(value: unknown): value is BackendSpec {
  const spec = value as BackendSpec;
  return (
    !!spec &&
    (spec.deploymentId === null || typeof spec.deploymentId === 'number') &&
    !!spec.model &&
    ['name', 'version', 'digest', 'path'].every((k) => typeof (spec.model as never)[k] === 'string')
  );
}

/** Serves the control API for `supervisor`; `onStopped` runs after a stop was answered. */
export async function startControlServer(
  supervisor: Supervisor,
  token: string,
  onStopped: () => void,
): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer((req, res) => {
    void (async () => {
      if (!authorized(req, token)) return send(res, 401, { error: 'unauthorized' });
      const route = `${req.method} ${req.url}`;
      try {
        if (route === 'GET /status') return send(res, 200, supervisor.status());
        if (route === 'POST /deploy') {
          const body = (await readJson(req)) as DeployRequest;
          if (!isBackendSpec(body)) return send(res, 400, { error: 'expected {deploymentId, model}' });
          const spec: BackendSpec = { deploymentId: body.deploymentId, model: body.model };
          return send(res, 200, await supervisor.deploy(spec, body.settings));
        }
        if (route === 'POST /stop') {
          const serving = await supervisor.stop();
          res.on('finish', onStopped);
          return send(res, 200, { serving });
        }
        return send(res, 404, { error: `no route ${route}` });
      } catch (error) {
        return send(res, 500, { error: (error as Error).message });
      }
    })();
  });
  // A rollout answers when it is done: health checks and drains take their time.
  server.requestTimeout = 0;
  server.headersTimeout = 10_000;
  const address = await listen(server, '127.0.0.1', 0);
  return { url: `http://127.0.0.1:${address.port}`, server };
}

/** The client side, used by the local target in the `ledge deploy` process. */
export class ControlClient {
  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  /** One request over node:http (fetch would cut long rollouts off at its 300 s header timeout). */
  private call<T>(method: string, route: string, body?: unknown, timeoutMs = 5000): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = http.request(`${this.url}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          'content-type': 'application/json',
          ...(payload === undefined ? {} : { 'content-length': Buffer.byteLength(payload) }),
        },
      });
      const timer = setTimeout(
        () =>
          req.destroy(new Error(`no answer to ${method} ${route} within ${Math.round(timeoutMs / 1000)} s`)),
        timeoutMs,
      );
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch {
            value = undefined;
          }
          if (res.statusCode !== 200) {
            const message = (value as { error?: string } | undefined)?.error ?? text;
            reject(new Error(`the supervisor answered ${res.statusCode} to ${method} ${route}: ${message}`));
          } else resolve(value as T);
        });
      });
      req.end(payload);
    });
  }

  status(timeoutMs = 3000): Promise<SupervisorStatus> {
    return this.call('GET', '/status', undefined, timeoutMs);
  }

  deploy(spec: DeployRequest, timeoutMs: number): Promise<DeployOutcome> {
    return this.call('POST', '/deploy', spec, timeoutMs);
  }

  stop(timeoutMs: number): Promise<{ serving: ServingInstance | null }> {
    return this.call('POST', '/stop', {}, timeoutMs);
  }
}
