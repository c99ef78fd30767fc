/**
 * `ledge serve <model>`: the inference server (docs/serving.md). The command only parses its
 * flags; `runServe` starts the server, prints where it listens, and handles the signals:
 * SIGTERM/SIGINT drain and exit 0, SIGHUP reloads the model from its bundle.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { isErrno, LedgeError } from '../../core/errors.js';
import { onInterrupt } from '../../core/interrupt.js';
import { type MonitoringRetention, startMonitoringRetention } from '../../metadata/monitoring-retention.js';
import type { Monitor } from '../../runtime/monitoring/monitor.js';
import type { MonitoringSink } from '../../runtime/monitoring/monitoring-sink.js';
import type { BatchingOptions } from '../../runtime/server/batcher.js';
import type { ServerLimits } from '../../runtime/server/server-context.js';
import type { CommandContext } from '../context.js';
import { resolveLocalModel } from '../model-ref.js';

export interface ServeOptions {
  /** A bundle directory or `.ledgemodel` archive. */
  model: string;
  /** Default: the name in the bundle's model card. */
  name?: string;
  version?: string;
  host: string;
  port: number;
  batching: Partial<BatchingOptions>;
  limits: Partial<ServerLimits>;
  modelControl: boolean;
  /** Preprocessing threads; undefined: the server's default (a thread per spare core, at most 4). */
  preprocessThreads?: number | undefined;
  monitor?: Monitor;
  /** Called after the server stopped and the monitor closed (e.g. closes the metadata store). */
  onClose?: () => Promise<void>;
}

function integer(text: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new LedgeError('usage', `${flag} must be an integer from ${min} to ${max}, not '${text}'`);
  return n;
}

/** Serves until SIGTERM or SIGINT, then drains, releases the model and exits 0. */
export async function runServe(ctx: CommandContext, options: ServeOptions): Promise<never> {
  const [{ startServer }, { ServerError }] = await Promise.all([
    import('../../runtime/server/serve.js'),
    import('../../runtime/server/http-errors.js'),
  ]);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      models: [{ name: options.name, version: options.version, location: options.model }],
      host: options.host,
      port: options.port,
      batching: options.batching,
      limits: options.limits,
      modelControl: options.modelControl,
      monitor: options.monitor,
      ...(options.preprocessThreads === undefined ? {} : { preprocessThreads: options.preprocessThreads }),
    });
  } catch (error) {
    if (error instanceof ServerError) throw new LedgeError('invalid-model', error.message, { cause: error });
    if (isErrno(error, 'EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL')) {
      throw new LedgeError('io', `cannot listen on ${options.host}:${options.port}: ${error.code}`, {
        cause: error,
        hint: 'choose another --port (0 picks a free one) or --host',
      });
    }
    throw error;
  }
  const [model] = server.models.list();
  const base = `${server.url}/v2/models/${model!.name}`;
  ctx.say(`serving ${model!.name} version ${model!.version} at ${server.url}`);
  ctx.say(`  POST ${base}/infer`);
  ctx.say(`  POST ${server.url}/v1/models/${model!.name}:predict`);
  ctx.say(`  POST ${server.url}/v1/feedback`);
  ctx.say(`  GET  ${base}`);
  ctx.say(`  GET  ${server.url}/v2/health/ready`);
  ctx.say(`  GET  ${server.url}/metrics`);
  if (options.modelControl) ctx.say(`  POST ${server.url}/v2/repository/models/${model!.name}/load`);

  const onHangup = () => {
    void server.reload().then((results) => {
      for (const r of results) {
        if (r.error) ctx.note(`reload failed, still serving the previous model: ${r.error}`);
        else ctx.note(`reloaded ${r.name} version ${r.version}`);
      }
    });
  };
  process.on('SIGHUP', onHangup);
  return new Promise<never>(() => {
    // The CLI's signal handler runs interrupt handlers, then exits with the code they ask for:
    // a server that drained cleanly exits 0, as process managers expect of a graceful stop.
    onInterrupt(async () => {
      process.off('SIGHUP', onHangup);
      ctx.note('shutting down: finishing requests in flight');
      await server.close();
      await options.monitor?.close();
      await options.onClose?.();
      ctx.note('stopped');
      return 0;
    });
  });
}

interface MonitoringFlags {
  predictionLog?: string;
  logSampleRate: string;
  hashText?: boolean;
  driftWebhook?: string;
  record?: boolean;
  keepMonitoring: string;
}

/**
 * The server's monitor: Prometheus metrics, the prediction log (in the workspace by default),
 * drift against the bundle's profile with optional webhook alerts, and — in a workspace — its
 * window summaries and serving events recorded in the metadata store for the dashboard.
 */
async function openMonitoring(
  ctx: CommandContext,
  location: string,
  servedName: string | undefined,
  flags: MonitoringFlags,
): Promise<{ monitor: Monitor; close: () => Promise<void> }> {
  const rate = Number(flags.logSampleRate);
  if (!(rate >= 0 && rate <= 1)) {
    throw new LedgeError(
      'usage',
      `--log-sample-rate must be a number from 0 to 1, not '${flags.logSampleRate}'`,
    );
  }
  const keepDays = Number(flags.keepMonitoring);
  if (!(Number.isFinite(keepDays) && keepDays >= 0)) {
    throw new LedgeError(
      'usage',
      `--keep-monitoring must be a number of days ≥ 0 (0: forever), not '${flags.keepMonitoring}'`,
    );
  }
  if (flags.driftWebhook !== undefined && !/^https?:\/\//.test(flags.driftWebhook)) {
    throw new LedgeError('usage', `--drift-webhook must be an http(s) URL, not '${flags.driftWebhook}'`);
  }
  const { createMonitor } = await import('../../runtime/monitoring/create-monitor.js');
  let store: Awaited<ReturnType<CommandContext['openStore']>> | undefined;
  try {
    store = await ctx.openStore();
  } catch {
    store = undefined; // serving outside a workspace: no default log directory, no history
  }
  const name = servedName ?? path.basename(path.resolve(location)).replace(/\.(ledgemodel|tar)$/, '');
  const logDir = flags.predictionLog ?? (store ? path.join(store.ws.ledgeDir, 'serving', name) : undefined);
  let metadata: Awaited<ReturnType<CommandContext['openMetadata']>> | undefined;
  let sink: MonitoringSink | undefined;
  let retention: MonitoringRetention | undefined;
  if (store && flags.record !== false) {
    metadata = await ctx.openMetadata(store);
    const { MonitoringRecords } = await import('../../metadata/monitoring-records.js');
    const records = new MonitoringRecords(metadata.db);
    sink = records;
    retention = startMonitoringRetention(records, {
      keepDays,
      onPruned: ({ windows, events }, before) => {
        if (windows + events > 0)
          ctx.note(`monitoring history before ${before}: ${windows} windows, ${events} events deleted`);
      },
      onError: (error) => ctx.note(`monitoring history not pruned: ${(error as Error).message}`),
    });
  }
  const monitor = createMonitor({
    sink,
    predictionLog: {
      ...(logDir ? { dir: logDir } : {}),
      sampleRate: rate,
      hashText: flags.hashText === true,
    },
    webhook: flags.driftWebhook ? { url: flags.driftWebhook } : undefined,
  });
  if (logDir) ctx.note(`prediction log: ${logDir}${flags.hashText ? ' (text hashed)' : ''}`);
  return {
    monitor,
    close: async () => {
      retention?.stop();
      await retention?.settled;
      await metadata?.close();
      store?.close();
    },
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export function registerServeCommand(program: Command, context: () => CommandContext): void {
  program
    .command('serve')
    .description('serve a model over HTTP (Open Inference Protocol, a text endpoint, metrics)')
    .argument(
      '<model>',
      'model bundle directory, .ledgemodel archive, or registered model (name@version, name@alias)',
    )
    .option('--name <name>', 'model name in URLs (default: the name in the model card)')
    .option('--model-version <v>', 'version the model is served as (default: its registry version, else 1)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', '8080')
    .option('--max-batch <n>', 'documents per model call, at most (dynamic batching)', '64')
    .option(
      '--max-delay-ms <ms>',
      'how long a request waits for others to batch with (0: only those read in the same event-loop turn)',
      '0',
    )
    .option('--no-batching', 'run every request alone')
    .option(
      '--preprocess-threads <n>',
      'threads that tokenize and hash texts (0: the main thread; default: one per spare core, at most 4)',
    )
    .option('--body-limit <bytes>', 'largest request body (413 beyond it)', String(1 << 20))
    .option('--max-instances <n>', 'most texts or rows in one request (413 beyond it)', '256')
    .option(
      '--no-monitoring',
      'no metrics, prediction log, drift or feedback (measures what monitoring costs)',
    )
    .option(
      '--prediction-log <dir>',
      'prediction log directory (default in a workspace: .ledge/serving/<model>)',
    )
    .option('--log-sample-rate <r>', 'share of predictions logged and kept for feedback, 0..1', '1')
    .option('--hash-text', 'log a sha256 of each input text instead of the text (privacy)')
    .option('--drift-webhook <url>', 'POST drift alerts (firing and resolved) to this URL')
    .option('--no-record', 'do not record monitoring windows and serving events in the metadata store')
    .option(
      '--keep-monitoring <days>',
      'days of recorded monitoring windows and serving events to keep (0: forever)',
      '30',
    )
    .option(
      '--model-control',
      'allow loading and unloading models over HTTP (default: on loopback hosts only)',
    )
    .option('--no-model-control', 'turn off loading and unloading models over HTTP')
    .action(async (model: string, flags) => {
      const delay = Number(flags.maxDelayMs);
      if (!Number.isFinite(delay) || delay < 0 || delay > 60_000)
        throw new LedgeError(
          'usage',
          `--max-delay-ms must be a number of milliseconds from 0 to 60000, not '${flags.maxDelayMs}'`,
        );
      const ctx = context();
      const local = await resolveLocalModel(ctx, model);
      const name: string | undefined = flags.name ?? local.name;
      const monitoring =
        flags.monitoring === false ? undefined : await openMonitoring(ctx, local.path, name, flags);
      await runServe(ctx, {
        model: local.path,
        monitor: monitoring?.monitor,
        onClose: monitoring?.close,
        name,
        version: flags.modelVersion ?? local.version ?? '1',
        host: flags.host,
        port: integer(flags.port, '--port', 0, 65535),
        batching: {
          enabled: flags.batching !== false,
          maxBatchSize: integer(flags.maxBatch, '--max-batch', 1, 65536),
          maxQueueDelayMs: delay,
        },
        limits: {
          bodyLimit: integer(flags.bodyLimit, '--body-limit', 1),
          maxInstances: integer(flags.maxInstances, '--max-instances', 1),
        },
        // Loading any readable path over HTTP is for local use: off on a network address unless asked.
        modelControl: flags.modelControl ?? isLoopback(flags.host),
        preprocessThreads:
          flags.preprocessThreads === undefined
            ? undefined
            : integer(flags.preprocessThreads, '--preprocess-threads', 0, 64),
      });
    });
}
