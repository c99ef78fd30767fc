/**
 * `ledge trigger [stage…]`: ask for a pipeline run through the queue. With `--server URL` it is
 * queued on a running `ledge server` (token from --token or LEDGE_TOKEN); without, it runs here
 * through this workspace's queue (never overlapping another run) and waits for the result.
 */
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { LedgeError } from '../../core/errors.js';
import type { ControlRun } from '../../metadata/control-runs.js';
import type { CommandContext } from '../context.js';
import { ledgeCommand } from './server.js';

interface TriggerFlags {
  server?: string;
  token?: string;
  cause?: string;
  force?: boolean;
  wait?: boolean;
  json?: boolean;
}

const FINISHED = new Set(['succeeded', 'failed', 'gated', 'cancelled', 'interrupted']);

function describe(run: ControlRun): string {
  const pipeline = run.pipelineRunId === null ? '' : ` (pipeline run ${run.pipelineRunId})`;
  return `Run ${run.id} ${run.status}${pipeline}${run.reason ? `: ${run.reason}` : ''}`;
}

/** The error a finished run that did not succeed becomes (exit 1). */
function failure(run: ControlRun): LedgeError | undefined {
  if (run.status === 'succeeded') return undefined;
  return new LedgeError(run.status === 'gated' ? 'invalid-model' : 'stage-failed', describe(run), {
    hint:
      run.pipelineRunId === null
        ? 'see the run log: GET /api/queue/ID/log'
        : `see ledge runs show ${run.pipelineRunId}`,
  });
}

async function request(url: string, init: RequestInit): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new LedgeError(
      'remote-unreachable',
      `cannot reach ${new URL(url).origin}: ${(error as Error).message}`,
      {
        hint: 'check --server and that ledge server runs there',
      },
    );
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const message = (body as { error?: string } | undefined)?.error ?? `HTTP ${response.status}`;
    throw new LedgeError(
      response.status === 401 || response.status === 403 ? 'remote-auth' : 'remote-error',
      message,
      {
        hint: response.status === 401 ? 'pass --token or set LEDGE_TOKEN (ledge token create)' : undefined,
      },
    );
  }
  return body;
}

async function viaServer(ctx: CommandContext, stages: string[], flags: TriggerFlags): Promise<void> {
  const base = flags.server!.replace(/\/+$/, '');
  const token = flags.token ?? process.env.LEDGE_TOKEN;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const queued = (await request(`${base}/api/runs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      stages,
      ...(flags.cause ? { cause: flags.cause } : {}),
      ...(flags.force ? { force: true } : {}),
    }),
  })) as { run: ControlRun; merged: boolean };
  let run = queued.run;
  if (!flags.wait) {
    if (flags.json) return ctx.json(queued);
    return ctx.say(
      queued.merged
        ? `Joined queued run ${run.id} (it starts when the running one ends).`
        : `Queued run ${run.id} (${run.status}).`,
    );
  }
  while (!FINISHED.has(run.status)) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    run = (await request(`${base}/api/queue/${run.id}`, { headers })) as ControlRun;
  }
  if (flags.json) ctx.json(run);
  else ctx.say(describe(run));
  const error = failure(run);
  if (error) throw error;
}

async function locally(ctx: CommandContext, stages: string[], flags: TriggerFlags): Promise<void> {
  const [
    { RunQueue },
    { ledgeRunLauncher, runLogPaths },
    { ControlRunRecords },
    { readServerConfig },
    { onInterrupt },
  ] = await Promise.all([
    import('../../control/queue/run-queue.js'),
    import('../../control/queue/pipeline-launcher.js'),
    import('../../metadata/control-runs.js'),
    import('../../control/server-config.js'),
    import('../../core/interrupt.js'),
  ]);
  await ctx.withStore(async (store) => {
    const config = readServerConfig(store.ws.ledgeDir, store.ws.root);
    const metadata = await ctx.openMetadata(store);
    const logDir = path.join(store.ws.stateDir, 'control', 'runs');
    const records = new ControlRunRecords(metadata, `${os.hostname()}:${store.ws.root}`);
    const queue = new RunQueue({
      records,
      metadata,
      lockPath: store.ws.lockPath,
      graceMs: config.cancel_grace * 1000,
      launcher: ledgeRunLauncher({
        ledge: ledgeCommand(),
        cwd: store.ws.root,
        logDir,
        runArgs: config.run_args,
      }),
    });
    const stop = onInterrupt(async () => {
      await queue.stop({ cancelActive: true });
      await metadata.close();
      return undefined;
    });
    try {
      await queue.start();
      const { run: queued, merged } = await queue.enqueue({
        causes: [
          {
            kind: 'manual',
            at: new Date().toISOString(),
            user: os.userInfo().username,
            ...(flags.cause ? { note: flags.cause } : {}),
            ...(flags.force ? { force: true } : {}),
          },
        ],
        stages,
      });
      if (!flags.json)
        ctx.note(
          merged
            ? `joined queued run ${queued.id}`
            : `run ${queued.id} ${queued.status === 'running' ? 'started' : 'queued'}; output in ${runLogPaths(logDir, queued.id).log}`,
        );
      await queue.idle();
      const run = await records.get(queued.id);
      if (flags.json) ctx.json(run);
      else ctx.say(describe(run));
      const error = failure(run);
      if (error) throw error;
    } finally {
      stop();
      await queue.stop({ cancelActive: true });
      await metadata.close();
    }
  });
}

export function registerTriggerCommand(program: Command, context: () => CommandContext): void {
  program
    .command('trigger')
    .description('queue a pipeline run (on a ledge server, or here through the workspace queue)')
    .argument('[stages...]', 'stages to bring up to date (default: all)')
    .option('-s, --server <url>', 'a running ledge server (default: run here, through the local queue)')
    .option('--token <token>', 'API token for --server (default: $LEDGE_TOKEN)')
    .option('--cause <text>', 'a note recorded with the run')
    .option('-f, --force', 'run the stages even if they are up to date (ledge run --force)')
    .option('-w, --wait', 'with --server: wait for the run to end (exit 1 unless it succeeded)')
    .option('--json', 'print the queued (or finished) run as JSON')
    .action(async (stages: string[], flags: TriggerFlags) => {
      const ctx = context();
      if (flags.server !== undefined) {
        try {
          new URL(flags.server);
        } catch {
          throw new LedgeError(
            'usage',
            `--server must be a URL such as http://127.0.0.1:8787, not '${flags.server}'`,
          );
        }
        return viaServer(ctx, stages, flags);
      }
      if (flags.token !== undefined) throw new LedgeError('usage', '--token needs --server');
      return locally(ctx, stages, flags);
    });
}
