/**
 * The run queue of one workspace: runs never overlap; triggers that arrive while a run waits
 * join it (one follow-up run, whatever the burst); a queued or running run can be cancelled;
 * the state lives in the metadata store so a restarted server resumes it.
 *
 * Every change goes through one serial chain (`serial`), so concurrent triggers see each
 * other's effects: the decision whether to merge is taken on fresh state.
 */
import { LedgeError } from '../../core/errors.js';
import { readHolder } from '../../core/lock.js';
import type { ControlRun, ControlRunRecords, FinishedStatus } from '../../metadata/control-runs.js';
import type { MetadataStore } from '../../metadata/metadata-store.js';
import { type Logger, silentLogger } from '../log.js';
import { causePrefix, planEnqueue, type RunRequest } from './coalesce.js';
import type { PipelineLauncher, RunHandle } from './pipeline-launcher.js';
import { isProcessAlive, signalTree } from './process-tree.js';
import { runOutcome, type StopRequest } from './run-outcome.js';
import type { Preparation, RunPreparer } from './run-preparer.js';

export interface RunQueueOptions {
  records: ControlRunRecords;
  metadata: MetadataStore;
  launcher: PipelineLauncher;
  /** The workspace lock file (`.ledge/lock`), checked when recovering. */
  lockPath: string;
  logger?: Logger;
  /** How long a cancelled run has after SIGTERM before SIGKILL (default 10 s). */
  graceMs?: number;
  /** Brings the workspace to what the run is for (a pushed commit) before `ledge run`. */
  preparer?: RunPreparer;
  /** Called after every change of a run (for tests and live views). */
  onChange?: (run: ControlRun) => void;
}

interface Active {
  run: ControlRun;
  /** Set once `ledge run` started (after the preparer). */
  handle?: RunHandle;
  /** Aborts the preparer's fetch when the run is stopped before it started. */
  abort: AbortController;
  stop?: StopRequest;
  done: Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class RunQueue {
  private readonly records: ControlRunRecords;
  private readonly log: Logger;
  private readonly graceMs: number;
  private chain: Promise<unknown> = Promise.resolve();
  private active: Active | undefined;
  private accepting = true;
  private paused = true;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: RunQueueOptions) {
    this.records = options.records;
    this.log = options.logger ?? silentLogger;
    this.graceMs = options.graceMs ?? 10_000;
  }

  /** Runs `fn` after every change queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private changed(run: ControlRun): void {
    this.options.onChange?.(run);
  }

  /**
   * After a restart: runs left `running` by a process that is gone are marked interrupted (their
   * `ledge run`, if it outlived the server, is stopped first), then queued runs start again.
   */
  async start(): Promise<{ interrupted: ControlRun[] }> {
    const interrupted = await this.serial(() => this.recover());
    this.paused = false;
    await this.serial(() => this.pump());
    return { interrupted };
  }

  private async recover(): Promise<ControlRun[]> {
    const found: ControlRun[] = [];
    for (const run of await this.records.list({ status: ['running'], limit: 1000 })) {
      if (run.ownerPid !== null && run.ownerPid !== process.pid && isProcessAlive(run.ownerPid)) continue;
      if (run.pid !== null && isProcessAlive(run.pid, run.pidStart)) {
        this.log.warn('stopping a ledge run left behind by a stopped server', { run: run.id, pid: run.pid });
        await this.stopOrphan(run.pid, run.pidStart);
      }
      const pipelineRunId = await this.records.findPipelineRun(causePrefix(run.id));
      const ended = await this.records.finish(run.id, {
        status: 'interrupted',
        reason: 'the control server stopped while it ran',
        pipelineRunId,
      });
      if (ended) {
        found.push(ended);
        this.changed(ended);
        this.log.warn('run interrupted by a server stop', { run: run.id, pipelineRun: pipelineRunId });
      }
    }
    // Pipeline executions of the killed `ledge run` (if SIGKILLed) are not running any more either.
    await this.options.metadata.interruptAbandoned();
    const holder = readHolder(this.options.lockPath);
    if (holder && !isProcessAlive(holder.pid)) {
      this.log.info('workspace lock held by a dead process: the next run takes it over', { pid: holder.pid });
    } else if (holder) {
      this.log.info('workspace lock is held: the next run waits for it', {
        pid: holder.pid,
        command: holder.command,
      });
    }
    return found;
  }

  private async stopOrphan(pid: number, start: string | null): Promise<void> {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // Gone.
    }
    const deadline = Date.now() + this.graceMs;
    while (isProcessAlive(pid, start) && Date.now() < deadline) await sleep(50);
    if (isProcessAlive(pid, start)) signalTree(pid, 'SIGKILL');
    while (isProcessAlive(pid, start)) await sleep(20);
  }

  /** Adds a request to the queue: a new run, or merged into the one already waiting. */
  enqueue(request: RunRequest): Promise<{ run: ControlRun; merged: boolean }> {
    return this.serial(async () => {
      if (!this.accepting) {
        throw new LedgeError('io', 'the control server is shutting down and accepts no new runs', {
          retryable: true,
        });
      }
      const plan = planEnqueue(await this.records.queued(), request);
      let run: ControlRun | undefined;
      if (plan.action === 'merge') {
        run = await this.records.updateQueued(plan.into, plan.request.causes, plan.request.stages);
      }
      const merged = run !== undefined;
      run ??= await this.records.enqueue(request.causes, request.stages);
      this.log.info(merged ? 'trigger merged into the queued run' : 'run queued', {
        run: run.id,
        causes: request.causes.map((c) => c.kind),
        stages: run.stages,
      });
      this.changed(run);
      await this.pump();
      return { run: await this.records.get(run.id), merged };
    });
  }

  /** Starts the oldest queued run if nothing runs. Called inside `serial`. */
  private async pump(): Promise<void> {
    if (this.active || this.paused) {
      return;
    }
    const next = (await this.records.queued())[0];
    if (!next) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    const running = await this.records.markRunning(next.id, process.pid);
    if (!running) return this.pump();
    this.changed(running);
    const active: Active = { run: running, abort: new AbortController(), done: Promise.resolve() };
    this.active = active;
    // Outside the chain: a fetch must not hold up triggers, cancels or the health check.
    active.done = this.execute(active);
  }

  /** Prepares the workspace (the pushed commit), starts `ledge run`, records how it ended. */
  private async execute(active: Active): Promise<void> {
    const run = active.run;
    let prepared: Preparation = { ready: true };
    if (this.options.preparer) {
      prepared = await this.options.preparer.prepare(run, active.abort.signal).catch(
        (error: unknown): Preparation => ({
          ready: false,
          reason: `cannot prepare the workspace: ${error instanceof Error ? error.message : String(error)}`,
        }),
      );
    }
    const properties = prepared.ready && prepared.commit ? { commit: prepared.commit } : undefined;
    const exit = await this.serial(async () => {
      if (active.stop || !prepared.ready) {
        const reason = active.stop?.reason ?? (prepared.ready ? null : prepared.reason);
        await this.end(active, { status: active.stop?.as ?? 'failed', reason, properties });
        return undefined;
      }
      let handle: RunHandle;
      try {
        handle = this.options.launcher.start(run);
      } catch (error) {
        const reason = `cannot start ledge run: ${error instanceof Error ? error.message : String(error)}`;
        await this.end(active, { status: 'failed', reason, properties });
        return undefined;
      }
      await this.records.setProcess(run.id, handle.pid, handle.pidStart);
      active.run = { ...run, pid: handle.pid, pidStart: handle.pidStart };
      active.handle = handle;
      this.log.info('run started', {
        run: run.id,
        pid: handle.pid,
        stages: run.stages,
        ...(properties ?? {}),
      });
      this.changed(active.run);
      // Wrapped: a promise returned as is would hold the chain until the run ends.
      return { exited: handle.exited };
    });
    if (!exit) return;
    const result = await exit.exited;
    await this.serial(async () => {
      const outcome = runOutcome(result, active.stop);
      const pipelineRunId =
        result.summary?.runId ?? (await this.records.findPipelineRun(causePrefix(run.id)));
      if (result.signal === 'SIGKILL') await this.options.metadata.interruptAbandoned();
      if (outcome.status === 'gated' && pipelineRunId !== null && outcome.reason)
        await this.records.markPipelineRunGated(pipelineRunId, outcome.reason);
      await this.end(active, { ...outcome, exitCode: result.code, pipelineRunId, properties });
    });
  }

  /** Records the end of the active run and starts the next. Called inside `serial`. */
  private async end(
    active: Active,
    end: {
      status: FinishedStatus;
      reason: string | null;
      exitCode?: number | null;
      pipelineRunId?: number | null;
      properties?: Record<string, unknown> | undefined;
    },
  ): Promise<void> {
    const ended = await this.records.finish(active.run.id, end);
    this.active = undefined;
    if (ended) {
      this.log.info('run ended', {
        run: ended.id,
        status: ended.status,
        exitCode: end.exitCode ?? null,
        pipelineRun: ended.pipelineRunId,
        ...(end.reason ? { reason: end.reason } : {}),
      });
      this.changed(ended);
    }
    await this.pump();
  }

  /** Cancels a queued run, or stops a running one (SIGTERM, then SIGKILL after the grace period). */
  cancel(id: number, by = 'a user'): Promise<ControlRun> {
    return this.serial(async () => {
      const run = await this.records.get(id);
      if (run.status === 'queued') {
        const ended = await this.records.finish(id, { status: 'cancelled', reason: `cancelled by ${by}` });
        if (ended) {
          this.log.info('queued run cancelled', { run: id, by });
          this.changed(ended);
          return ended;
        }
      } else if (run.status === 'running' && this.active?.run.id === id) {
        this.stopActive({ as: 'cancelled', reason: `cancelled by ${by}` });
        this.log.info('stopping the running run', { run: id, by, pid: this.active.handle?.pid ?? null });
        return run;
      } else if (run.status === 'running') {
        throw new LedgeError('usage', `run ${id} is running in another process (PID ${run.ownerPid})`, {
          hint: 'cancel it there',
        });
      }
      return this.records.get(id);
    });
  }

  private stopActive(stop: StopRequest): void {
    if (!this.active) return;
    this.active.stop ??= stop;
    this.active.abort.abort();
    this.active.handle?.terminate(this.graceMs);
  }

  /** The run active now, if any. */
  get activeRun(): ControlRun | undefined {
    return this.active?.run;
  }

  /** Resolves when nothing runs and nothing is queued (tests, `ledge trigger` without a server). */
  async idle(): Promise<void> {
    // The waiter is registered inside the chain (so no change slips between the check and it)
    // but awaited outside it (the run's end needs the chain to get there).
    const pending = await this.serial(async () => {
      if (!this.active && (await this.records.queued()).length === 0) return undefined;
      return { wait: new Promise<void>((resolve) => this.idleWaiters.push(resolve)) };
    });
    await pending?.wait;
  }

  /**
   * Stops taking runs. With `cancelActive`, the running run is stopped and recorded interrupted;
   * otherwise it may finish. Queued runs stay queued for the next start. Resolves once nothing
   * of this queue runs.
   */
  async stop(options: { cancelActive: boolean }): Promise<void> {
    await this.serial(async () => {
      this.accepting = false;
      this.paused = true;
      if (options.cancelActive) this.stopActive({ as: 'interrupted', reason: 'the control server stopped' });
    });
    const active = this.active;
    if (active) await active.done;
    await this.chain;
  }
}
