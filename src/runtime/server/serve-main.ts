/**
 * The model server as a container's main process (what `ledge build` makes the image's
 * entrypoint): settings from arguments, else `LEDGE_*` environment variables, else the image's
 * defaults (model at /model, 0.0.0.0:8080); JSON log lines on stderr; SIGTERM or SIGINT drain
 * the requests in flight and exit 0. `--health` is the image's health check (slim images have
 * no curl): GET /v2/health/ready on this container's port, exit 0 when it answers 200, else 1.
 *
 *     node serve-main.js [--model DIR] [--host H] [--port N] [--name N] [--model-version V]
 *     node serve-main.js --health [--port N]
 *
 * Imports only the runtime (no CLI, no database driver): it is what ships to devices.
 */
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createMonitor } from '../monitoring/create-monitor.js';
import { startServer } from './serve.js';
import { JSON_LOG } from './server-context.js';

export interface ContainerSettings {
  mode: 'serve' | 'health' | 'help';
  model: string;
  host: string;
  port: number;
  name: string | undefined;
  version: string | undefined;
  /** Directory for the prediction log; none by default (a device's disk is small). */
  predictionLog: string | undefined;
  monitoring: boolean;
}

export const CONTAINER_DEFAULTS = { model: '/model', host: '0.0.0.0', port: 8080 } as const;

export const USAGE =
  'usage: serve-main.js [--model DIR] [--host HOST] [--port N] [--name NAME] [--model-version V] | --health [--port N]\n' +
  'environment: LEDGE_MODEL, LEDGE_HOST, LEDGE_PORT, LEDGE_MODEL_NAME, LEDGE_MODEL_VERSION, LEDGE_PREDICTION_LOG, LEDGE_MONITORING=off';

const FLAGS = ['--model', '--host', '--port', '--name', '--model-version'] as const;

/** Arguments over environment over defaults; throws an Error with a one-line message on bad input. */
export function containerSettings(argv: readonly string[], env: NodeJS.ProcessEnv): ContainerSettings {
  const given = new Map<string, string>();
  let mode: ContainerSettings['mode'] = 'serve';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--health') mode = 'health';
    else if (arg === '--help' || arg === '-h') mode = 'help';
    else {
      const [flag, inline] = arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
      if (!(FLAGS as readonly string[]).includes(flag!)) throw new Error(`unknown argument '${arg}'`);
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new Error(`${flag} needs a value`);
      given.set(flag!, value);
    }
  }
  const pick = (flag: string, name: string) => given.get(flag) ?? (env[name] || undefined);
  const portText = pick('--port', 'LEDGE_PORT') ?? String(CONTAINER_DEFAULTS.port);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new Error(`port must be an integer from 1 to 65535, not '${portText}'`);
  }
  return {
    mode,
    model: pick('--model', 'LEDGE_MODEL') ?? CONTAINER_DEFAULTS.model,
    host: pick('--host', 'LEDGE_HOST') ?? CONTAINER_DEFAULTS.host,
    port,
    name: pick('--name', 'LEDGE_MODEL_NAME'),
    version: pick('--model-version', 'LEDGE_MODEL_VERSION'),
    predictionLog: env.LEDGE_PREDICTION_LOG || undefined,
    monitoring: env.LEDGE_MONITORING !== 'off',
  };
}

/** The health check: 0 when the server on this host answers ready within `timeoutMs`, else 1. */
export async function checkHealth(port: number, timeoutMs = 3000): Promise<0 | 1> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/v2/health/ready`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.status === 200 ? 0 : 1;
  } catch {
    return 1;
  }
}

async function serve(settings: ContainerSettings): Promise<void> {
  const monitor = settings.monitoring
    ? createMonitor(settings.predictionLog ? { predictionLog: { dir: settings.predictionLog } } : {})
    : undefined;
  const server = await startServer({
    models: [{ name: settings.name, version: settings.version, location: settings.model }],
    host: settings.host,
    port: settings.port,
    ...(monitor ? { monitor } : {}),
    // Loading other models over HTTP is for a developer's machine, not a device on a network.
    modelControl: false,
    log: JSON_LOG,
  });
  // With monitoring on, the monitor logs the server-started event itself.
  if (!monitor)
    JSON_LOG.info('serving', {
      url: server.url,
      models: server.models.list().map((m) => `${m.name}@${m.version}`),
    });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    JSON_LOG.info('shutting down: finishing requests in flight', { signal });
    void (async () => {
      await server.close();
      await monitor?.close();
      JSON_LOG.info('stopped', {});
      process.exit(0);
    })().catch((error: unknown) => {
      JSON_LOG.error('shutdown failed', { error: String(error) });
      process.exit(1);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function main(): Promise<void> {
  let settings: ContainerSettings;
  try {
    settings = containerSettings(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`serve-main: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (settings.mode === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (settings.mode === 'health') process.exit(await checkHealth(settings.port));
  try {
    await serve(settings);
  } catch (error) {
    JSON_LOG.error('cannot start the model server', {
      error: error instanceof Error ? error.message : String(error),
      model: settings.model,
      port: settings.port,
    });
    process.exit(1);
  }
}

/** Whether this module is the program node was started with (not imported by a test). */
function isMain(): boolean {
  const started = process.argv[1];
  if (!started) return false;
  try {
    return pathToFileURL(fs.realpathSync(started)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isMain()) await main();
