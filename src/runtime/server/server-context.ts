/**
 * What every route module gets: the models, monitoring, limits and the server's state, and the
 * Hono environment (Node's request for streaming bodies; per-request values for monitoring).
 */
import type { IncomingMessage } from 'node:http';
import type { Context, Handler, Hono } from 'hono';
import type { Monitor } from '../monitoring/monitor.js';
import { ServerError } from './http-errors.js';
import type { ModelSlots } from './model-slots.js';
import type { Preprocessor } from './preprocessor.js';

export interface ServerLog {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Structured logs: one JSON object per line on stderr. */
export const JSON_LOG: ServerLog = {
  info: (msg, fields) => writeLog('info', msg, fields),
  error: (msg, fields) => writeLog('error', msg, fields),
};

function writeLog(level: string, msg: string, fields: Record<string, unknown> | undefined): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

export interface ServerLimits {
  /** Largest request body, in bytes (413 beyond it). */
  bodyLimit: number;
  /** Most instances (texts, rows) in one request (413 beyond it). */
  maxInstances: number;
}

export const DEFAULT_LIMITS: ServerLimits = { bodyLimit: 1 << 20, maxInstances: 256 };

export interface ServerState {
  /** Shutting down: not ready, and responses close their connection. */
  draining: boolean;
  /** HTTP requests being handled now. */
  inFlight: number;
}

export interface ServerContext {
  models: ModelSlots;
  monitor: Monitor;
  limits: ServerLimits;
  state: ServerState;
  log: ServerLog;
  /** Whether the model repository extension (load/unload over HTTP) is on. */
  modelControl: boolean;
  nextPredictionId: () => string;
  /** Texts → feature ids: on preprocessing threads, or inline. */
  preprocessor: Preprocessor;
  /** The version a load without one gets (the repository extension). */
  versionAfter: (name: string) => string;
}

export type ServerEnv = {
  Bindings: { incoming?: IncomingMessage };
  Variables: {
    /** For monitoring: the model and version that served the request (empty when none). */
    model: string;
    version: string;
    endpoint: string;
    queueSeconds: number;
  };
};

export type ServerApp = Hono<ServerEnv>;
export type ServerContextOf = Context<ServerEnv>;

/** The Node request behind a Hono context, when served by Node's HTTP server. */
export const incomingOf = (c: ServerContextOf): IncomingMessage | undefined =>
  (c.env as ServerEnv['Bindings'] | undefined)?.incoming;

/**
 * Registers `handler` for `method` on `paths`, and a 405 (with `Allow`) for every other method
 * on them. GET routes answer HEAD too.
 */
export function route(
  app: ServerApp,
  method: 'GET' | 'POST',
  paths: string[],
  endpoint: string,
  handler: Handler<ServerEnv>,
): void {
  for (const path of paths) {
    app.on(method, path, (c, next) => {
      c.set('endpoint', endpoint);
      return handler(c, next);
    });
    app.all(path, (c) => {
      c.header('Allow', method === 'GET' ? 'GET, HEAD' : method);
      throw new ServerError(
        'method-not-allowed',
        `${c.req.method} is not allowed on ${c.req.path}; use ${method}`,
      );
    });
  }
}
