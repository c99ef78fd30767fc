/**
 * HTTP to a container engine over its unix socket (node:http with `socketPath`): one request
 * at a time per call, no connection pooling (a deploy makes a few dozen requests), JSON in and
 * out, streamed bodies for pulls and logs. Connection failures and error responses become
 * one-line DeployErrors here, once.
 */
import http from 'node:http';
import { isErrno } from '../../core/errors.js';
import { DeployError } from '../deploy-errors.js';
import type { ErrorResponse } from './engine-api.js';

export interface EngineRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'HEAD';
  /** Below the API version prefix: `/containers/json`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined> | undefined;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string> | undefined;
  /** Milliseconds the socket may stay idle (default 60 s). */
  timeoutMs?: number | undefined;
  /** Statuses that are not errors besides 2xx (e.g. 304 for "already stopped"). */
  accept?: number[] | undefined;
  /** Send without the `/v1.xx` prefix (`/_ping`). */
  unversioned?: boolean | undefined;
}

export interface EngineResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
}

/** Where the socket came from, for the hint when it cannot be reached. */
export type SocketSource = 'config' | 'DOCKER_HOST' | 'default';

/** An error answer of the engine (4xx/5xx): its status and message. */
export class EngineError extends DeployError {
  readonly status: number;

  constructor(status: number, message: string, hint?: string) {
    super('engine-error', message, hint === undefined ? {} : { hint });
    this.name = 'EngineError';
    this.status = status;
  }
}

export function isEngineError(error: unknown, status?: number): error is EngineError {
  return error instanceof EngineError && (status === undefined || error.status === status);
}

/** Collapses whitespace (engine messages may carry newlines) and caps the length. */
export function oneLine(text: string, max = 400): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export class EngineTransport {
  readonly socket: string;
  /** The target the engine serves, for messages. */
  private readonly target: string;
  private readonly source: SocketSource;
  /** `/v1.41`, set once the version is negotiated. */
  prefix = '';

  constructor(socket: string, target: string, source: SocketSource) {
    this.socket = socket;
    this.target = target;
    this.source = source;
  }

  private unreachable(error: NodeJS.ErrnoException): DeployError {
    const why = isErrno(error, 'ENOENT')
      ? 'no such socket'
      : isErrno(error, 'ECONNREFUSED')
        ? 'nothing listens on it (connection refused)'
        : isErrno(error, 'EACCES', 'EPERM')
          ? 'permission denied'
          : (error as Error).message;
    const where =
      this.source === 'DOCKER_HOST'
        ? ' (from DOCKER_HOST)'
        : this.source === 'default'
          ? ' (the default; set socket: or DOCKER_HOST for another)'
          : '';
    const hint = isErrno(error, 'EACCES', 'EPERM')
      ? `run ledge as a user who may use ${this.socket} (the docker group, or root)`
      : `start the engine (Docker or balenaEngine: systemctl start docker / balena-engine; Podman: podman system service --time=0 unix://${this.socket}), or set socket: for target '${this.target}' in .ledge/deploy.yaml (or DOCKER_HOST=unix:///path/to.sock)`;
    return new DeployError(
      'target-unavailable',
      `cannot reach the container engine of target '${this.target}' at ${this.socket}${where}: ${why}`,
      { hint, cause: error },
    );
  }

  /** Sends a request; resolves with the response whatever its status. */
  send(request: EngineRequest): Promise<EngineResponse> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) query.set(key, String(value));
    }
    const qs = query.toString();
    const path = `${request.unversioned ? '' : this.prefix}${request.path}${qs ? `?${qs}` : ''}`;
    const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body), 'utf8');
    const headers: Record<string, string> = { host: 'engine', ...request.headers };
    if (body) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    }
    const timeoutMs = request.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const req = http.request(
        { socketPath: this.socket, method: request.method, path, headers, agent: false },
        (res) => {
          res.setTimeout(timeoutMs, () =>
            res.destroy(
              new DeployError(
                'engine-error',
                `the container engine at ${this.socket} stopped answering ${request.method} ${request.path} for ${Math.round(timeoutMs / 1000)} s`,
              ),
            ),
          );
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
        },
      );
      req.setTimeout(timeoutMs, () =>
        req.destroy(
          new DeployError(
            'engine-error',
            `the container engine at ${this.socket} did not answer ${request.method} ${request.path} within ${Math.round(timeoutMs / 1000)} s`,
          ),
        ),
      );
      req.on('error', (error) => {
        if (isErrno(error, 'ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ENOTSOCK')) {
          reject(this.unreachable(error));
        } else reject(error);
      });
      req.end(body);
    });
  }

  /** Sends a request and checks its status; a failure becomes an EngineError with the engine's message. */
  async request(request: EngineRequest): Promise<EngineResponse> {
    const response = await this.send(request);
    const { status } = response;
    if ((status >= 200 && status < 300) || request.accept?.includes(status)) return response;
    const text = await readText(response.body, 64 * 1024);
    let message = text;
    try {
      const parsed = JSON.parse(text) as ErrorResponse;
      message = parsed.message ?? parsed.cause ?? text;
    } catch {
      // not JSON: the text is the message
    }
    throw new EngineError(status, oneLine(message || `status ${status}`));
  }

  async json<T>(request: EngineRequest): Promise<T> {
    const response = await this.request(request);
    const text = await readText(response.body, 64 * 1024 * 1024);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new DeployError(
        'engine-error',
        `the container engine at ${this.socket} answered ${request.method} ${request.path} with something that is not JSON: ${oneLine(text, 120)}`,
      );
    }
  }

  /** Sends a request whose answer has no body worth reading. */
  async call(request: EngineRequest): Promise<number> {
    const response = await this.request(request);
    response.body.resume();
    await new Promise<void>((resolve, reject) => {
      response.body.once('end', resolve);
      response.body.once('error', reject);
      response.body.once('close', resolve);
    });
    return response.status;
  }
}

/** Reads a body as UTF-8 text, up to `limit` bytes. */
export async function readText(body: http.IncomingMessage, limit: number): Promise<string> {
  return (await readBytes(body, limit)).toString('utf8');
}

export async function readBytes(body: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      body.destroy();
      throw new DeployError('engine-error', `the container engine's answer is larger than ${limit} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}
