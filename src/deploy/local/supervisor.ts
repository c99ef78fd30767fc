/**
 * The local target's supervisor: a long-lived process (supervisor-main.ts) that owns the stable
 * port and the model servers behind it.
 *
 * - **Blue/green swap** (`deploy`): the new version starts on a free port next to the serving
 *   one, must report ready and answer a smoke inference, then the proxy switches to it (one
 *   assignment) and the old one is drained. If any check fails, the new one is stopped and the
 *   old one, which never stopped serving, goes on.
 * - **Crash restarts**: a backend that exits on its own is restarted from the same bundle after
 *   a delay that doubles on each failure (capped) and resets once a backend stays up; while it
 *   is down the proxy answers 503 with Retry-After.
 * - Every change is written to `state.json`; crashes, restarts and switches are events.
 *
 * Rollouts, restarts and stop run one at a time (a promise queue).
 */
import type http from 'node:http';
import type { DeployOutcome, DeployStep, ServingInstance, TargetEvent } from '../target.js';
import { BackendProcess, type BackendSpec } from './backend-process.js';
import { closeServer, createReverseProxy, listen } from './reverse-proxy.js';
import {
  appendEvent,
  type BackendState,
  readEvents,
  removeState,
  type SupervisorState,
  writeState,
} from './supervisor-state.js';

/** What a rollout and the restarts use; each deploy may bring new ones (deploy.yaml edited). */
export interface SupervisorSettings {
  serveArgs: string[];
  smokeText: string;
  healthTimeoutMs: number;
  drainTimeoutMs: number;
  restart: { initialDelayMs: number; maxDelayMs: number; stableMs: number };
}

export interface SupervisorConfig extends SupervisorSettings {
  target: string;
  /** `.ledge/deploy/<target>` */
  stateDir: string;
  /** The workspace root: the servers' working directory. */
  workspace: string;
  host: string;
  port: number;
  /** `[node, bin/ledge.js, 'serve']` */
  serveCommand: string[];
  /** Where to record events in the metadata store (a SQLite path or postgres URL), if anywhere. */
  database?: string | undefined;
}

export interface SupervisorOptions {
  /** Each event, after it is appended to events.jsonl (e.g. to record it in the metadata store). */
  onEvent?: ((event: TargetEvent) => void) | undefined;
  /** Log lines (the supervisor's own and its servers' output). */
  log?: ((line: string) => void) | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

export interface SupervisorStatus {
  pid: number;
  startedAt: string;
  url: string;
  serving: ServingInstance | null;
  backends: BackendState[];
  restarting: { attempt: number; nextAt: string } | null;
  /** Crash restarts since it started. */
  restarts: number;
  events: TargetEvent[];
}

/** Model and version, as serving events carry them. */
const about = (spec: BackendSpec) => ({ model: spec.model.name, version: spec.model.version });

export class Supervisor {
  private readonly config: SupervisorConfig;
  private readonly options: SupervisorOptions;
  private readonly startedAt = new Date().toISOString();
  private proxy: http.Server | undefined;
  private control: { url: string; token: string } | undefined;
  /** The backend taking traffic. */
  private serving: BackendProcess | undefined;
  /** What should serve: restarted from this after a crash. */
  private desired: BackendSpec | undefined;
  private readonly backends = new Set<BackendProcess>();
  private queue: Promise<unknown> = Promise.resolve();
  private restartTimer: NodeJS.Timeout | undefined;
  private restartState: { attempt: number; nextAt: string } | null = null;
  private failures = 0;
  private restarts = 0;
  private stopping = false;
  /** Set once stop() removed state.json: nothing writes it again. */
  private stopped = false;

  constructor(config: SupervisorConfig, options: SupervisorOptions = {}) {
    this.config = { ...config };
    this.options = options;
  }

  get url(): string {
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    return `http://${host}:${this.config.port}`;
  }

  /** Binds the stable port (rejects with EADDRINUSE and the like). */
  async start(): Promise<void> {
    this.proxy = createReverseProxy({
      current: () => this.serving,
      unavailable: () =>
        this.restartState
          ? `no model server is up on target '${this.config.target}': restarting it (attempt ${this.restartState.attempt})`
          : `nothing is deployed on target '${this.config.target}'`,
    });
    await listen(this.proxy, this.config.host, this.config.port);
  }

  /** Records where the control channel listens, and writes the first state. */
  attachControl(control: { url: string; token: string }): void {
    this.control = control;
    this.writeState();
    this.event('supervisor-started', `supervisor pid ${process.pid} listening at ${this.url}`);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private event(kind: string, message: string, extra: Partial<TargetEvent> = {}): void {
    const event: TargetEvent = { at: new Date().toISOString(), kind, message, ...extra };
    this.log(`[${event.at}] ${kind}: ${message}`);
    try {
      appendEvent(this.config.stateDir, event);
    } catch (error) {
      this.log(`cannot append to events.jsonl: ${(error as Error).message}`);
    }
    this.options.onEvent?.(event);
  }

  private instance(backend: BackendProcess): ServingInstance {
    return {
      deploymentId: backend.spec.deploymentId,
      name: backend.spec.model.name,
      version: backend.spec.model.version,
      digest: backend.spec.model.digest,
      since: backend.servingSince ?? backend.startedAt,
      details: { pid: backend.pid ?? null, port: backend.port ?? null, bundle: backend.spec.model.path },
    };
  }

  private backendState(backend: BackendProcess): BackendState {
    return {
      pid: backend.pid,
      port: backend.port,
      deploymentId: backend.spec.deploymentId,
      name: backend.spec.model.name,
      version: backend.spec.model.version,
      digest: backend.spec.model.digest,
      bundle: backend.spec.model.path,
      role: backend === this.serving ? 'serving' : backend.retiring ? 'draining' : 'starting',
      since: backend.servingSince ?? backend.startedAt,
    };
  }

  private writeState(): void {
    if (!this.control || !this.proxy || this.stopped) return;
    const state: SupervisorState = {
      format: 'ledge.local-target.state',
      version: 1,
      target: this.config.target,
      pid: process.pid,
      startedAt: this.startedAt,
      workspace: this.config.workspace,
      proxy: { host: this.config.host, port: this.config.port, url: this.url },
      control: this.control,
      backends: [...this.backends].map((b) => this.backendState(b)),
      serving: this.serving ? this.backendState(this.serving) : null,
      restarting: this.restartState,
    };
    try {
      writeState(this.config.stateDir, state);
    } catch (error) {
      this.log(`cannot write state.json: ${(error as Error).message}`);
    }
  }

  /** Starts a backend and checks it; returns it serving-ready, or throws with the failed step recorded. */
  private async launch(spec: BackendSpec, steps: DeployStep[]): Promise<BackendProcess> {
    const deadline = Date.now() + this.config.healthTimeoutMs;
    const step = async (name: string, fn: () => Promise<string | undefined>) => {
      const started = performance.now();
      try {
        const detail = await fn();
        steps.push({ step: name, ok: true, ms: Math.round(performance.now() - started), detail });
      } catch (error) {
        const detail = (error as Error).message;
        steps.push({ step: name, ok: false, ms: Math.round(performance.now() - started), detail });
        throw error;
      }
    };
    let backend: BackendProcess | undefined;
    try {
      await step('start', async () => {
        backend = BackendProcess.start(spec, {
          command: this.config.serveCommand,
          extraArgs: this.config.serveArgs,
          cwd: this.config.workspace,
          env: this.options.env,
          onOutput: (line) => this.log(`backend ${backend?.pid ?? '?'} | ${line}`),
        });
        this.track(backend);
        await backend.waitListening(deadline);
        return `pid ${backend.pid} on port ${backend.port}`;
      });
      await step('ready', async () => {
        await backend!.waitReady(deadline);
        return undefined;
      });
      await step('smoke', async () => {
        const score = await backend!.smoke(this.config.smokeText, Math.max(2000, deadline - Date.now()));
        return `score ${Number(score.toFixed(4))}`;
      });
      return backend!;
    } catch (error) {
      if (backend) await backend.kill();
      throw error;
    }
  }

  private track(backend: BackendProcess): void {
    this.backends.add(backend);
    this.writeState();
    void backend.exited.then((exit) => {
      this.backends.delete(backend);
      // A backend that dies while it is checked fails its rollout; only a serving one crashed.
      if (!backend.retiring && !this.stopping && backend.servingSince !== undefined) {
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
        this.event('backend-exited', `${backend.label} (pid ${backend.pid}) ${how}`, {
          deploymentId: backend.spec.deploymentId,
          properties: { ...about(backend.spec), pid: backend.pid, code: exit.code, signal: exit.signal },
        });
        if (backend === this.serving) {
          this.serving = undefined;
          // A backend that stayed up a while starts the backoff over.
          const upMs = Date.now() - Date.parse(backend.servingSince ?? backend.startedAt);
          if (upMs >= this.config.restart.stableMs) this.failures = 0;
          this.scheduleRestart();
        }
      }
      this.writeState();
    });
  }

  private scheduleRestart(): void {
    if (this.stopping || !this.desired || this.restartTimer) return;
    const { initialDelayMs, maxDelayMs } = this.config.restart;
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** this.failures);
    this.failures++;
    this.restartState = { attempt: this.failures, nextAt: new Date(Date.now() + delay).toISOString() };
    this.writeState();
    this.log(`restarting in ${delay} ms (attempt ${this.failures})`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.serial(() => this.restartNow());
    }, delay);
  }

  private cancelRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.restartState = null;
  }

  private async restartNow(): Promise<void> {
    const spec = this.desired;
    if (this.stopping || this.serving || !spec) {
      this.restartState = null;
      this.writeState();
      return;
    }
    const steps: DeployStep[] = [];
    const attempt = this.failures;
    try {
      const backend = await this.launch(spec, steps);
      backend.servingSince = new Date().toISOString();
      this.serving = backend;
      this.restartState = null;
      this.restarts++;
      this.event(
        'backend-restarted',
        `${backend.label} restarted (pid ${backend.pid}, attempt ${attempt}); serving again`,
        { deploymentId: spec.deploymentId, properties: { ...about(spec), pid: backend.pid, attempt } },
      );
      this.writeState();
    } catch (error) {
      this.event(
        'backend-restart-failed',
        `restart attempt ${attempt} of ${spec.model.name}@${spec.model.version} failed: ${(error as Error).message}`,
        { deploymentId: spec.deploymentId, properties: { ...about(spec), attempt, steps } },
      );
      this.scheduleRestart();
    }
  }

  /** A blue/green swap to `spec` (see the file comment), with `settings` from then on. */
  deploy(spec: BackendSpec, settings?: SupervisorSettings): Promise<DeployOutcome> {
    return this.serial(async () => {
      if (settings) Object.assign(this.config, settings);
      const steps: DeployStep[] = [];
      if (this.stopping) {
        return this.outcome(false, steps, 'the supervisor is stopping', null);
      }
      let backend: BackendProcess;
      try {
        backend = await this.launch(spec, steps);
      } catch (error) {
        const reason = (error as Error).message;
        const failed = steps.find((s) => !s.ok)?.step ?? 'start';
        this.event(
          'deploy-failed',
          `${spec.model.name}@${spec.model.version} failed at ${failed}: ${reason}${this.serving ? `; ${this.serving.label} goes on serving` : ''}`,
          { deploymentId: spec.deploymentId, properties: { ...about(spec), steps } },
        );
        this.writeState();
        return this.outcome(false, steps, `${failed}: ${reason}`, null);
      }
      const switched = performance.now();
      const old = this.serving;
      backend.servingSince = new Date().toISOString();
      this.serving = backend;
      this.desired = spec;
      this.cancelRestart();
      this.failures = 0;
      steps.push({
        step: 'switch',
        ok: true,
        ms: Math.round(performance.now() - switched),
        detail: old ? `from ${old.label}` : undefined,
      });
      this.writeState();
      this.event(
        'switched',
        `${backend.label} serves at ${this.url} (pid ${backend.pid})${old ? `, replacing ${old.label}` : ''}`,
        { deploymentId: spec.deploymentId, properties: { ...about(spec), pid: backend.pid } },
      );
      let replaced: ServingInstance | null = null;
      if (old) {
        replaced = this.instance(old);
        const drainStarted = performance.now();
        const exit = await old.drain(this.config.drainTimeoutMs);
        steps.push({
          step: 'drain',
          ok: true,
          ms: Math.round(performance.now() - drainStarted),
          detail: `${old.label} (pid ${old.pid}) ${exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`}`,
        });
        this.writeState();
      }
      return this.outcome(true, steps, undefined, replaced);
    });
  }

  private outcome(
    ok: boolean,
    steps: DeployStep[],
    reason: string | undefined,
    replaced: ServingInstance | null,
  ): DeployOutcome {
    return {
      ok,
      url: this.url,
      steps,
      reason,
      serving: this.serving ? this.instance(this.serving) : null,
      replaced,
    };
  }

  status(): SupervisorStatus {
    return {
      pid: process.pid,
      startedAt: this.startedAt,
      url: this.url,
      serving: this.serving ? this.instance(this.serving) : null,
      backends: [...this.backends].map((b) => this.backendState(b)),
      restarting: this.restartState,
      restarts: this.restarts,
      events: readEvents(this.config.stateDir, 20),
    };
  }

  /**
   * Stops serving: the port closes at once, requests in flight finish, every backend is
   * drained, state.json is removed. Waits for a rollout in progress to end first.
   */
  stop(): Promise<ServingInstance | null> {
    this.stopping = true;
    this.cancelRestart();
    return this.serial(async () => {
      const was = this.serving ? this.instance(this.serving) : null;
      const backends = [...this.backends];
      this.serving = undefined;
      const proxyClosed = this.proxy
        ? closeServer(this.proxy, this.config.drainTimeoutMs)
        : Promise.resolve();
      await Promise.all(backends.map((b) => b.drain(this.config.drainTimeoutMs)));
      this.proxy?.closeAllConnections();
      await proxyClosed;
      this.stopped = true;
      removeState(this.config.stateDir);
      this.event(
        'supervisor-stopped',
        `supervisor pid ${process.pid} stopped${was ? ` (was serving ${was.name}@${was.version})` : ''}`,
      );
      return was;
    });
  }
}
