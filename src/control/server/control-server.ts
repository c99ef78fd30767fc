/**
 * `startControlServer`: the run queue, the triggers and the HTTP server of one workspace, in
 * this process. Starting recovers the queue (runs a killed server left are marked interrupted,
 * their orphaned `ledge run` stopped) before anything new is accepted; `close()` stops
 * listening, stops the triggers, then cancels or waits for the running run.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { LedgeError } from '../../core/errors.js';
import { ApiTokenRecords } from '../../metadata/api-tokens.js';
import { ControlRunRecords } from '../../metadata/control-runs.js';
import type { MetadataStore } from '../../metadata/metadata-store.js';
import { TriggerRecords } from '../../metadata/trigger-records.js';
import { PIPELINE_FILE, parsePipeline } from '../../pipeline/pipeline-file.js';
import { type Clock, systemClock } from '../clock.js';
import type { Logger } from '../log.js';
import { ledgeRunLauncher, type PipelineLauncher } from '../queue/pipeline-launcher.js';
import { type RunPreparer, workspacePreparer } from '../queue/run-preparer.js';
import { RunQueue } from '../queue/run-queue.js';
import { type ServerConfig, secretFromEnv } from '../server-config.js';
import { FileWatchTrigger } from '../triggers/file-watch-trigger.js';
import { GitBranchTrigger } from '../triggers/git-branch-trigger.js';
import { ScheduleTrigger } from '../triggers/schedule-trigger.js';
import type { Trigger } from '../triggers/trigger.js';
import { createControlApp } from './control-app.js';

export interface ControlServerOptions {
  /** The workspace root and its `.ledge` folder. */
  root: string;
  ledgeDir: string;
  stateDir: string;
  lockPath: string;
  metadata: MetadataStore;
  config: ServerConfig;
  /** The command that runs ledge: `[process.execPath, bin/ledge.js]`. */
  ledge: string[];
  log: Logger;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  dashboard?: { fetch(request: Request): Response | Promise<Response> } | undefined;
  /** Instead of `ledge run` children (tests). */
  launcher?: PipelineLauncher;
  /** Instead of bringing the workspace to pushed commits (tests). */
  preparer?: RunPreparer;
}

export interface RunningControlServer {
  url: string;
  port: number;
  queue: RunQueue;
  runs: ControlRunRecords;
  /** Stops; `cancelActive` defaults to the configured `on_shutdown`. */
  close(options?: { cancelActive?: boolean }): Promise<void>;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

export async function startControlServer(options: ControlServerOptions): Promise<RunningControlServer> {
  const { config, log, metadata } = options;
  const clock = options.clock ?? systemClock;
  const env = options.env ?? process.env;
  const workspace = `${os.hostname()}:${options.root}`;
  const runs = new ControlRunRecords(metadata, workspace);
  const tokens = new ApiTokenRecords(metadata);
  const triggerRecords = new TriggerRecords(metadata);
  const logDir = path.join(options.stateDir, 'control', 'runs');
  // Secrets first: a missing one stops the start with a one-line error, before anything runs.
  const github = config.triggers.github && {
    secret: secretFromEnv(
      config.triggers.github.secret_env,
      `${config.file}: triggers.github.secret_env`,
      env,
    ),
    branch: config.triggers.github.branch,
    stages: config.triggers.github.stages,
  };
  const gitlab = config.triggers.gitlab && {
    secret: secretFromEnv(config.triggers.gitlab.token_env, `${config.file}: triggers.gitlab.token_env`, env),
    branch: config.triggers.gitlab.branch,
    stages: config.triggers.gitlab.stages,
  };

  let watcher: FileWatchTrigger | undefined;
  const queue = new RunQueue({
    records: runs,
    metadata,
    lockPath: options.lockPath,
    logger: log,
    graceMs: config.cancel_grace * 1000,
    launcher:
      options.launcher ??
      ledgeRunLauncher({ ledge: options.ledge, cwd: options.root, logDir, runArgs: config.run_args, env }),
    preparer:
      options.preparer ??
      workspacePreparer({
        root: options.root,
        remote: config.git_remote,
        ledge: options.ledge,
        logDir,
        env,
        // The server's own checkout of a pushed commit is not a save (the watcher is made below).
        workspaceChanges: { starting: () => watcher?.pause(), finished: () => watcher?.resume() },
      }),
  });
  const { interrupted } = await queue.start();
  if (interrupted.length > 0)
    log.warn('runs interrupted by the previous server stop', { runs: interrupted.map((r) => r.id) });

  const enqueue = (request: Parameters<RunQueue['enqueue']>[0]) => queue.enqueue(request);
  const triggers: Trigger[] = [];
  const { watch, git, schedule } = config.triggers;
  if (watch) {
    watcher = new FileWatchTrigger({
      root: options.root,
      debounceMs: watch.debounce * 1000,
      paths: watch.paths,
      stages: watch.stages,
      enqueue,
      log,
    });
    triggers.push(watcher);
  }
  if (git) {
    triggers.push(
      new GitBranchTrigger({
        root: options.root,
        branch: git.branch,
        remote: git.fetch ? config.git_remote : undefined,
        intervalMs: git.interval * 1000,
        stages: git.stages,
        state: triggerRecords,
        stateKey: `git:${workspace}:${git.fetch ? `${config.git_remote}/` : ''}${git.branch}`,
        enqueue,
        clock,
        log,
      }),
    );
  }
  if (schedule.length > 0) {
    const entries = schedule.map((entry) => ({
      name: entry.name,
      cron: entry.cron,
      timezone: entry.timezone,
      stages: entry.stages,
      catchUp: entry.catch_up,
      catchUpWithinMs: entry.catch_up_within === undefined ? undefined : entry.catch_up_within * 1000,
    }));
    triggers.push(
      new ScheduleTrigger(entries, enqueue, clock, log, {
        state: triggerRecords,
        keyPrefix: `schedule:${workspace}:`,
      }),
    );
  }

  const app = createControlApp({
    queue,
    runs,
    tokens,
    triggers: triggerRecords,
    logDir,
    publicRead: config.public_read,
    allowAnyHost: !isLoopback(config.host),
    github,
    gitlab,
    dashboard: options.dashboard,
    stageNames: () => {
      try {
        const file = path.join(options.root, PIPELINE_FILE);
        return parsePipeline(fs.readFileSync(file, 'utf8'), PIPELINE_FILE).stages.map((s) => s.name);
      } catch {
        return undefined; // the run reports what is wrong with ledge.yaml
      }
    },
    log,
    clock,
  });
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port });
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.once('listening', () => resolve((server.address() as AddressInfo).port));
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new LedgeError(
            'io',
            `cannot listen on ${config.host}:${config.port}: ${error.code ?? error.message}`,
            {
              hint:
                error.code === 'EADDRINUSE'
                  ? 'another program uses this port: choose another with --port (0 picks a free one)'
                  : 'check --host and --port',
              cause: error,
            },
          ),
        ),
      );
    });
  } catch (error) {
    await queue.stop({ cancelActive: true });
    throw error;
  }
  for (const trigger of triggers) await trigger.start();
  const shown = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;
  const stateFile = path.join(options.stateDir, 'control', 'server.json');
  fs.mkdirSync(path.dirname(stateFile), { recursive: true });
  fs.writeFileSync(
    stateFile,
    JSON.stringify({ pid: process.pid, url, startedAt: clock.now().toISOString() }),
  );
  log.info('control server listening', {
    url,
    publicRead: config.public_read,
    triggers: triggers.map((t) => t.name).concat(github ? ['github'] : [], gitlab ? ['gitlab'] : []),
  });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    queue,
    runs,
    close(closeOptions = {}) {
      closing ??= (async () => {
        const cancelActive = closeOptions.cancelActive ?? config.on_shutdown === 'cancel';
        log.info('control server stopping', { cancelActive });
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        if ('closeIdleConnections' in server) server.closeIdleConnections();
        for (const trigger of triggers) await trigger.stop();
        await queue.stop({ cancelActive });
        if ('closeAllConnections' in server) server.closeAllConnections();
        await closed;
        fs.rmSync(stateFile, { force: true });
        log.info('control server stopped');
      })();
      return closing;
    },
  };
}
