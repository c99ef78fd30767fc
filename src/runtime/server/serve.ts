/**
 * Starts the inference server: loads the models (each must answer its smoke input), then
 * listens. `close()` shuts down gracefully: not ready from that moment, no new connections,
 * requests in flight finish (up to `drainTimeoutMs`), models released, port closed.
 */
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { isBundleArchive, unpackBundle } from '../model/bundle-archive.js';
import { BUNDLE_FILES } from '../model/bundle-format.js';
import { type Monitor, NO_MONITORING } from '../monitoring/monitor.js';
import { createApp } from './app.js';
import { type BatchingOptions, DEFAULT_BATCHING } from './batcher.js';
import { MODEL_NAME, ModelSlots } from './model-slots.js';
import { predictionIds } from './prediction-id.js';
import { createPreprocessor, defaultPreprocessThreads } from './preprocessor.js';
import { loadTextModel, type ModelLoader } from './servable-model.js';
import {
  DEFAULT_LIMITS,
  JSON_LOG,
  type ServerApp,
  type ServerContext,
  type ServerLimits,
  type ServerLog,
  type ServerState,
} from './server-context.js';

export interface ModelToServe {
  /** Default: the name in the bundle's model card. */
  name?: string | undefined;
  /** Default "1". */
  version?: string | undefined;
  /** A bundle directory or `.ledgemodel` archive. */
  location: string;
}

export interface ServerOptions {
  models: ModelToServe[];
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  batching?: Partial<BatchingOptions>;
  limits?: Partial<ServerLimits>;
  /** Default NO_MONITORING. The server calls its hooks; the caller closes it. */
  monitor?: Monitor;
  /** The model repository extension (load/unload over HTTP); default on. */
  modelControl?: boolean;
  /** How long shutdown waits for requests in flight (default 10 s). */
  drainTimeoutMs?: number;
  /** Preprocessing threads (default: one per spare core, at most 4; 0: on the main thread). */
  preprocessThreads?: number;
  loader?: ModelLoader;
  log?: ServerLog;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  app: ServerApp;
  models: ModelSlots;
  /** Reloads every model from where it was loaded (same version); per model, the error if it failed. */
  reload(): Promise<{ name: string; version: string; error?: string }[]>;
  /** Graceful shutdown; safe to call more than once. */
  close(): Promise<void>;
}

/** The name in a bundle's model card, else the bundle's file name. */
async function bundleName(location: string): Promise<string> {
  try {
    const dir =
      isBundleArchive(location) && fs.statSync(location).isFile() ? await unpackBundle(location) : location;
    const card = JSON.parse(fs.readFileSync(path.join(dir, BUNDLE_FILES.card), 'utf8')) as { name?: unknown };
    if (typeof card.name === 'string' && MODEL_NAME.test(card.name)) return card.name;
  } catch {
    // No readable card: the load reports what is wrong with the bundle.
  }
  const base = path
    .basename(location)
    .replace(/\.ledgemodel$/, '')
    .replace(/[^A-Za-z0-9._-]/g, '-');
  return MODEL_NAME.test(base) ? base : 'model';
}

function nextVersion(version: string | undefined): string {
  if (version === undefined) return '1';
  const n = Number(version);
  return Number.isSafeInteger(n) && n >= 0 && String(n) === version ? String(n + 1) : `${version}.1`;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const monitor = options.monitor ?? NO_MONITORING;
  const log = options.log ?? JSON_LOG;
  /** Monitoring hooks must not throw; if one does, it is logged and serving goes on. */
  const tell = (what: string, hook: () => void) => {
    try {
      hook();
    } catch (error) {
      log.error(`monitoring failed on ${what}`, { error: String(error) });
    }
  };
  const models = new ModelSlots({
    loader: options.loader ?? loadTextModel,
    batching: { ...DEFAULT_BATCHING, ...options.batching },
    onBatch: (model, version, size) => tell('a batch', () => monitor.onBatch(model, version, size)),
    onLoaded: (loaded, seconds, replaced) => {
      const { name, version } = loaded;
      log.info('model loaded', { model: name, version, seconds: Number(seconds.toFixed(3)) });
      tell('a model load', () => {
        monitor.addModel?.(name, version, loaded.model.profile);
        monitor.onModelLoaded(name, version, seconds);
        if (replaced) {
          monitor.onServingEvent?.({
            kind: 'model-swapped',
            model: name,
            version,
            message: `${name} ${version} replaces ${replaced.version}`,
            properties: { previousVersion: replaced.version },
          });
        }
      });
    },
    onLoadFailed: (name, version, error) => {
      log.error('model load failed', { model: name, version, error: error.message });
      tell('a failed load', () =>
        monitor.onServingEvent?.({
          kind: 'model-load-failed',
          model: name,
          version,
          message: error.message,
          properties: { error: error.message },
        }),
      );
    },
    onUnloaded: ({ name, version }) => {
      log.info('model unloaded', { model: name, version });
      tell('an unload', () =>
        monitor.onServingEvent?.({
          kind: 'model-unloaded',
          model: name,
          version,
          message: `${name} ${version} unloaded`,
        }),
      );
    },
  });
  try {
    for (const model of options.models) {
      const name = model.name ?? (await bundleName(model.location));
      await models.load(name, model.version ?? '1', model.location);
    }
  } catch (error) {
    await models.close({ force: true });
    throw error;
  }

  const state: ServerState = { draining: false, inFlight: 0 };
  const preprocessor = createPreprocessor(options.preprocessThreads ?? defaultPreprocessThreads(), log);
  const ctx: ServerContext = {
    models,
    monitor,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    state,
    log,
    modelControl: options.modelControl ?? true,
    nextPredictionId: predictionIds(),
    preprocessor,
    versionAfter: (name) => nextVersion(models.get(name)?.version),
  };
  const app = createApp(ctx);
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  const host = options.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 8080, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await Promise.all([models.close({ force: true }), preprocessor.close()]);
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  tell('server start', () =>
    monitor.onServingEvent?.({
      kind: 'server-started',
      message: `serving at ${url}`,
      properties: {
        host,
        port,
        models: models.list().map((m) => `${m.name}@${m.version}`),
        preprocessThreads: preprocessor.threads,
      },
    }),
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      state.draining = true;
      models.flush();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + (options.drainTimeoutMs ?? 10_000);
      while (state.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const drained = state.inFlight === 0;
      if (!drained)
        log.error('shutdown: requests still running after the drain timeout', { inFlight: state.inFlight });
      server.closeAllConnections();
      await Promise.all([models.close({ force: !drained }), preprocessor.close()]);
      await closed;
      tell('server stop', () =>
        monitor.onServingEvent?.({
          kind: 'server-stopped',
          message: drained ? 'stopped' : 'stopped after the drain timeout',
        }),
      );
    })();
    return closing;
  };

  const reload = async () =>
    Promise.all(
      models.list().map(async (m) => {
        try {
          const loaded = await models.load(m.name, m.version, m.location);
          return { name: loaded.name, version: loaded.version };
        } catch (error) {
          return {
            name: m.name,
            version: m.version,
            error: error instanceof Error ? error.message : String(error),
          };
        }
      }),
    );

  return { url, port, app, models, reload, close };
}
