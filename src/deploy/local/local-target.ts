/**
 * The `local` target: the model served by `ledge serve` processes on this machine, behind a
 * stable port held by a supervisor process (supervisor.ts) that outlives the `ledge deploy`
 * command. This side runs in `ledge deploy`: it starts the supervisor when none runs, and asks
 * it over its control channel to swap, report or stop.
 */
import path from 'node:path';
import type { LocalTargetConfig } from '../deploy-config.js';
import { DeployError } from '../deploy-errors.js';
import type {
  DeployOutcome,
  DeploySpec,
  DeployTarget,
  StopOutcome,
  TargetEvent,
  TargetStatus,
} from '../target.js';
import { ControlClient } from './control-channel.js';
import type { SupervisorConfig, SupervisorSettings } from './supervisor.js';
import { cleanUpStale, launchSupervisor, SUPERVISOR_MARKERS } from './supervisor-launcher.js';
import {
  LOG_FILE,
  processAlive,
  processRuns,
  readEvents,
  readState,
  type SupervisorState,
} from './supervisor-state.js';

export interface LocalTargetOptions {
  name: string;
  config: LocalTargetConfig;
  /** The workspace root (the servers run there and record monitoring in its metadata store). */
  workspace: string;
  /** `.ledge/deploy/<name>` */
  stateDir: string;
  /** How to run `ledge serve`: `[node, /path/to/bin/ledge.js, 'serve']`. */
  serveCommand: string[];
  /** The metadata store, for the supervisor's events (a SQLite path or postgres URL). */
  database?: string | undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export class LocalTarget implements DeployTarget {
  readonly kind = 'local';
  readonly name: string;
  readonly url: string;
  private readonly options: LocalTargetOptions;

  constructor(options: LocalTargetOptions) {
    this.options = options;
    this.name = options.name;
    this.url = `http://${formatHost(options.config.host)}:${options.config.port}`;
  }

  /** The settings a rollout uses (sent with each deploy, so edits to deploy.yaml apply at once). */
  private settings(): SupervisorSettings {
    const c = this.options.config;
    return {
      serveArgs: c.serve_args,
      smokeText: c.smoke_text,
      healthTimeoutMs: c.health_timeout * 1000,
      drainTimeoutMs: c.drain_timeout * 1000,
      restart: {
        initialDelayMs: c.restart.initial_delay * 1000,
        maxDelayMs: c.restart.max_delay * 1000,
        stableMs: 30_000,
      },
    };
  }

  private supervisorConfig(): SupervisorConfig {
    const c = this.options.config;
    return {
      target: this.name,
      stateDir: this.options.stateDir,
      workspace: this.options.workspace,
      host: c.host,
      port: c.port,
      serveCommand: this.options.serveCommand,
      database: this.options.database,
      ...this.settings(),
    };
  }

  private client(state: SupervisorState): ControlClient {
    return new ControlClient(state.control.url, state.control.token);
  }

  /** The running supervisor's state, or undefined (cleaning up after one that died). */
  private running(): SupervisorState | undefined {
    const state = readState(this.options.stateDir);
    if (!state) return undefined;
    if (processRuns(state.pid, SUPERVISOR_MARKERS)) return state;
    cleanUpStale(this.options.stateDir, state);
    return undefined;
  }

  /** A control client for a supervisor that answers, starting one if none runs. */
  private async ensureSupervisor(): Promise<ControlClient> {
    let state = this.running();
    if (state) {
      const client = this.client(state);
      try {
        await client.status();
      } catch (error) {
        throw new DeployError(
          'target-unavailable',
          `the supervisor of target '${this.name}' (pid ${state.pid}) does not answer: ${(error as Error).message}`,
          { hint: `\`ledge deploy stop --target ${this.name}\` stops it; its log is ${this.logFile}` },
        );
      }
      const { host, port } = this.options.config;
      if (state.proxy.host !== host || state.proxy.port !== port) {
        throw new DeployError(
          'target-unavailable',
          `target '${this.name}' serves at ${state.proxy.url}, but .ledge/deploy.yaml now says ${this.url}`,
          { hint: `\`ledge deploy stop --target ${this.name}\` first, then deploy again` },
        );
      }
      return client;
    }
    await launchSupervisor(this.supervisorConfig());
    state = readState(this.options.stateDir);
    if (!state) {
      throw new DeployError('target-unavailable', `the supervisor of target '${this.name}' wrote no state`, {
        hint: `see ${this.logFile}`,
      });
    }
    return this.client(state);
  }

  private get logFile(): string {
    return path.join(this.options.stateDir, LOG_FILE);
  }

  async deploy(spec: DeploySpec): Promise<DeployOutcome> {
    const client = await this.ensureSupervisor();
    const settings = this.settings();
    // Room for the new server's checks, the old one's drain, and the wait for a rollout in progress.
    const timeout = 2 * (settings.healthTimeoutMs + settings.drainTimeoutMs) + 30_000;
    const outcome = await client.deploy(
      { deploymentId: spec.deploymentId, model: spec.model, settings },
      timeout,
    );
    if (!outcome.ok && !outcome.serving) {
      // Nothing serves (the first deployment failed): no idle supervisor left holding the port,
      // unless it is restarting a crashed version.
      const status = await client.status().catch(() => undefined);
      if (status && !status.serving && !status.restarting) await this.stop();
    }
    return outcome;
  }

  /** The local target keeps nothing of a drained version: going back is a blue/green deploy of it. */
  rollback(to: DeploySpec): Promise<DeployOutcome> {
    return this.deploy(to);
  }

  async status(): Promise<TargetStatus> {
    const base = {
      target: this.name,
      kind: this.kind,
      url: this.url,
      serving: null,
      events: readEvents(this.options.stateDir, 10),
    };
    const state = readState(this.options.stateDir);
    if (!state) return { ...base, state: 'stopped', problems: [], details: {} };
    if (!processRuns(state.pid, SUPERVISOR_MARKERS)) {
      return {
        ...base,
        state: 'stopped',
        problems: [
          `the supervisor (pid ${state.pid}) is not running any more (killed, or the machine restarted); deploy again to start it`,
        ],
        details: { supervisor: { pid: state.pid, alive: false } },
      };
    }
    let status: Awaited<ReturnType<ControlClient['status']>>;
    try {
      status = await this.client(state).status();
    } catch (error) {
      return {
        ...base,
        state: 'unhealthy',
        problems: [`the supervisor (pid ${state.pid}) does not answer: ${(error as Error).message}`],
        details: { supervisor: { pid: state.pid, alive: true, answers: false }, log: this.logFile },
      };
    }
    const problems: string[] = [];
    let endpointReady = false;
    try {
      const response = await fetch(`${state.proxy.url}/v2/health/ready`, {
        signal: AbortSignal.timeout(3000),
      });
      await response.arrayBuffer();
      endpointReady = response.status === 200;
      if (status.serving && !endpointReady)
        problems.push(`${state.proxy.url}/v2/health/ready answers ${response.status}`);
    } catch (error) {
      problems.push(`${state.proxy.url} does not answer: ${(error as Error).message}`);
    }
    if (status.restarting) {
      problems.push(
        `the model server is down: restart attempt ${status.restarting.attempt} at ${status.restarting.nextAt}`,
      );
    }
    const events: TargetEvent[] = status.events.slice(-10);
    return {
      ...base,
      state: status.serving
        ? endpointReady
          ? 'serving'
          : 'unhealthy'
        : status.restarting
          ? 'restarting'
          : 'idle',
      serving: status.serving,
      problems,
      events,
      details: {
        supervisor: {
          pid: status.pid,
          alive: true,
          answers: true,
          startedAt: status.startedAt,
          control: state.control.url,
        },
        backends: status.backends,
        restarts: status.restarts,
        restarting: status.restarting,
        endpointReady,
        log: this.logFile,
      },
    };
  }

  async stop(): Promise<StopOutcome> {
    const state = readState(this.options.stateDir);
    if (!state) return { stopped: false, serving: null, detail: `target '${this.name}' is not running` };
    if (!processRuns(state.pid, SUPERVISOR_MARKERS)) {
      const killed = cleanUpStale(this.options.stateDir, state);
      return {
        stopped: false,
        serving: null,
        detail: `the supervisor (pid ${state.pid}) was not running; removed its stale state${killed.length > 0 ? ` and stopped its servers (pids ${killed.join(', ')})` : ''}`,
      };
    }
    const drainMs = this.options.config.drain_timeout * 1000;
    let serving: StopOutcome['serving'] = state.serving
      ? {
          deploymentId: state.serving.deploymentId,
          name: state.serving.name,
          version: state.serving.version,
          digest: state.serving.digest,
          since: state.serving.since,
          details: { pid: state.serving.pid, port: state.serving.port },
        }
      : null;
    let detail: string;
    try {
      serving = (await this.client(state).stop(2 * drainMs + 30_000)).serving;
      detail = `stopped the supervisor (pid ${state.pid}) and its model servers; ${this.url} is free`;
    } catch (error) {
      // It does not answer: signal it (it drains on SIGTERM), then its servers.
      detail = `the supervisor (pid ${state.pid}) did not answer (${(error as Error).message}): sent SIGTERM`;
      try {
        process.kill(state.pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
    if (!(await waitGone(state.pid, drainMs + 5000))) {
      try {
        process.kill(state.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await waitGone(state.pid, 5000);
      cleanUpStale(this.options.stateDir, state);
      detail = `killed the supervisor (pid ${state.pid}), which did not stop in time, and its servers`;
    }
    return { stopped: true, serving, detail };
  }
}

/** Waits until `pid` has exited; false on timeout. */
async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid) && processRuns(pid, SUPERVISOR_MARKERS)) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}
