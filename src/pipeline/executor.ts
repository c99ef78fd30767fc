/**
 * `ledge run`: brings a pipeline's outputs up to date. Stages run in dependency order, as
 * many at once as `jobs` allows; a stage runs only when its command, dependency digests or
 * parameter values differ from `ledge.lock`, or its outputs are missing or modified. A stage
 * that ran before with exactly these inputs (here or in any workspace sharing the metadata
 * database and cache) has its outputs restored from the cache instead: the run-cache.
 *
 * Store work (hashing, caching outputs, writing the lock file) is serialised; commands run in
 * parallel. The caller holds the workspace lock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LedgeError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import { LOCK_HOLDER_ENV, WORKSPACE_ENV } from '../store/workspace.js';
import {
  type LockedStage,
  type LockFile,
  lockPathFor,
  type PathVersion,
  readLockFile,
  writeLockFile,
} from './lock-file.js';
import { nestParams, ParamsReader, type ParamValues } from './params-file.js';
import type { Pipeline, Stage } from './pipeline-file.js';
import type { CachedOutputs, RunRecorder } from './run-recorder.js';
import { buildStageGraph, overlaps, selectStages } from './stage-graph.js';
import { readMetricsFile, StageOutputs } from './stage-outputs.js';
import { logTail, type OutputStream, runStageCommands } from './stage-runner.js';
import {
  cacheKeyOf,
  currentInputs,
  inputChanges,
  lockEntry,
  outputChanges,
  type StageInputs,
} from './stage-state.js';

export interface RunOptions {
  /** Stages to bring up to date, with everything they need (all when empty). */
  targets: string[];
  jobs: number;
  force: boolean;
  dryRun: boolean;
  keepGoing: boolean;
  /** Restore outputs of identical earlier executions instead of running (default true). */
  runCache: boolean;
  cause: string;
  experiment?: string | undefined;
  signal?: AbortSignal | undefined;
  /**
   * A directory put first on the stages' PATH, e.g. one holding a `ledge` that runs this very
   * ledge, so stage commands can call `ledge` whether or not it is installed.
   */
  binDir?: string | undefined;
}

export type StageOutcome =
  | 'up-to-date'
  | 'ran'
  | 'restored'
  | 'failed'
  | 'skipped'
  | 'interrupted'
  | 'would-run'
  | 'would-restore';

export interface StageResult {
  name: string;
  outcome: StageOutcome;
  reasons: string[];
  durationMs: number;
  exitCode?: number | undefined;
  executionId?: number | undefined;
  restoredFrom?: number | undefined;
  /** Why it failed, in one line. */
  error?: string | undefined;
  logTail?: string[] | undefined;
}

export interface RunSummary {
  runId: number | undefined;
  status: 'up-to-date' | 'succeeded' | 'failed' | 'interrupted' | 'dry-run';
  stages: StageResult[];
  durationMs: number;
}

/** What the executor tells the user while it works. */
export interface RunReporter {
  stageStarting(stage: Stage, reasons: string[]): void;
  stageLine(stage: string, stream: OutputStream, line: string): void;
  stageFinished(result: StageResult): void;
  note(message: string): void;
}

/** Runs async work one piece at a time (store and lock-file updates). */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(work, work);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

function oneLine(error: unknown): string {
  return error instanceof LedgeError ? error.line : error instanceof Error ? error.message : String(error);
}

export class PipelineExecutor {
  private readonly lockAbs: string;
  private readonly lockShown: string;
  private lock!: LockFile;
  private readonly queue = new SerialQueue();
  private readonly params: ParamsReader;
  private readonly paramValues = new Map<string, ParamValues>();
  private readonly outputs: StageOutputs;
  /** An error that ends the whole run (the metadata database failing), not just one stage. */
  private fatal: unknown;

  constructor(
    private readonly store: Store,
    private readonly pipeline: Pipeline,
    private readonly recorder: RunRecorder,
    private readonly reporter: RunReporter,
  ) {
    this.lockShown = lockPathFor(pipeline.file);
    this.lockAbs = store.ws.absolutePath(this.lockShown);
    this.params = new ParamsReader(store.ws.root);
    this.outputs = new StageOutputs(store, (message) => reporter.note(message));
  }

  async run(options: RunOptions): Promise<RunSummary> {
    const started = Date.now();
    const graph = buildStageGraph(this.pipeline);
    const selected = selectStages(graph, options.targets);
    this.lock = readLockFile(this.lockAbs, this.lockShown);
    this.validate(selected.map((name) => graph.stages.get(name)!));

    const results = new Map<string, StageResult>();
    if (options.dryRun) {
      for (const name of selected) {
        const result = await this.plan(graph.stages.get(name)!, options, graph.needs.get(name)!, results);
        results.set(name, result);
        this.reporter.stageFinished(result);
      }
      return {
        runId: undefined,
        status: 'dry-run',
        stages: [...results.values()],
        durationMs: Date.now() - started,
      };
    }

    const waiting = new Set(selected);
    const running = new Map<string, Promise<void>>();
    let stopping = false;
    const wake: { resolve?: () => void } = {};
    const onAbort = () => wake.resolve?.();
    options.signal?.addEventListener('abort', onAbort);
    const settle = (result: StageResult) => {
      results.set(result.name, result);
      this.reporter.stageFinished(result);
    };
    while (waiting.size > 0 || running.size > 0) {
      if (options.signal?.aborted) stopping = true;
      for (const name of [...waiting]) {
        if (stopping) break;
        const needs = [...(graph.needs.get(name) ?? [])].filter((n) => selected.includes(n));
        const broken = needs.find((n) => {
          const outcome = results.get(n)?.outcome;
          return outcome === 'failed' || outcome === 'skipped' || outcome === 'interrupted';
        });
        if (broken) {
          waiting.delete(name);
          settle({
            name,
            outcome: 'skipped',
            reasons: [`upstream stage '${broken}' did not finish`],
            durationMs: 0,
          });
          continue;
        }
        if (!needs.every((n) => results.has(n)) || running.size >= options.jobs) continue;
        waiting.delete(name);
        const stage = graph.stages.get(name)!;
        const work = this.execute(stage, options)
          .catch(
            (error): StageResult => ({
              name,
              outcome: options.signal?.aborted ? 'interrupted' : 'failed',
              reasons: [],
              durationMs: 0,
              error: oneLine(error),
            }),
          )
          .then((result) => {
            settle(result);
            running.delete(name);
            if (
              (result.outcome === 'failed' && !options.keepGoing) ||
              result.outcome === 'interrupted' ||
              this.fatal !== undefined
            ) {
              stopping = true;
            }
            wake.resolve?.();
          });
        running.set(name, work);
      }
      if (stopping) {
        for (const name of waiting)
          settle({ name, outcome: 'skipped', reasons: ['the run stopped'], durationMs: 0 });
        waiting.clear();
      }
      if (running.size === 0) {
        if (waiting.size === 0) break;
        continue;
      }
      await new Promise<void>((resolve) => {
        wake.resolve = resolve;
      });
    }
    options.signal?.removeEventListener('abort', onAbort);
    if (this.fatal !== undefined) throw this.fatal;

    const stages = selected.map((name) => results.get(name)!);
    const status =
      stages.some((s) => s.outcome === 'interrupted') || options.signal?.aborted
        ? 'interrupted'
        : stages.some((s) => s.outcome === 'failed' || s.outcome === 'skipped')
          ? 'failed'
          : stages.every((s) => s.outcome === 'up-to-date')
            ? 'up-to-date'
            : 'succeeded';
    if (status !== 'up-to-date') {
      await this.recorder.finishRun({
        status: status === 'interrupted' ? 'interrupted' : status === 'failed' ? 'failed' : 'succeeded',
        metrics: this.currentMetrics(selected.map((name) => graph.stages.get(name)!)),
        summary: Object.fromEntries(stages.map((s) => [s.name, s.outcome])),
      });
    }
    return { runId: this.recorder.currentRunId, status, stages, durationMs: Date.now() - started };
  }

  /** Runs a recording step; its failure stops the run rather than failing one stage. */
  private async record<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      this.fatal ??= error;
      throw error;
    }
  }

  /** Checks what can be checked before anything runs: parameters and working directories. */
  private validate(stages: Stage[]): void {
    const written = this.pipeline.stages.flatMap((s) => [...s.outs, ...s.metrics]);
    for (const stage of stages) {
      this.paramValues.set(stage.name, this.params.valuesFor(stage));
      for (const dep of stage.deps) {
        if (written.some((out) => overlaps(out, dep))) continue;
        if (!fs.existsSync(this.store.ws.absolutePath(dep))) {
          throw new LedgeError('config', `stage '${stage.name}': dependency '${dep}' does not exist`, {
            hint: 'create it, fix the path in ledge.yaml, or add a stage that writes it',
          });
        }
      }
    }
  }

  private runStart(stages: Stage[]) {
    const params: ParamValues = {};
    for (const stage of stages) {
      for (const [file, values] of Object.entries(this.paramValues.get(stage.name) ?? {})) {
        params[file] = { ...params[file], ...values };
      }
    }
    return {
      pipelineFile: this.pipeline.file,
      stages: stages.map((s) => s.name),
      params: nestParams(params),
    };
  }

  /** Inputs now and why the stage must run (empty: up to date). */
  private async assess(
    stage: Stage,
    options: RunOptions,
  ): Promise<{
    inputs: StageInputs;
    reasons: string[];
    inputsMatch: boolean;
    locked: LockedStage | undefined;
  }> {
    return this.queue.run(async () => {
      const locked = this.lock.stages[stage.name];
      const inputs = await currentInputs(this.store, stage, this.paramValues.get(stage.name) ?? {}, locked);
      const missing = [...inputs.deps].filter(([, v]) => v === undefined).map(([dep]) => dep);
      if (missing.length > 0) {
        throw new LedgeError(
          'path-not-found',
          `stage '${stage.name}': dependency '${missing[0]}' does not exist`,
          {
            hint: 'the stage that should write it did not; check its outs in ledge.yaml',
          },
        );
      }
      const changes = inputChanges(stage, inputs, locked);
      const reasons = changes.length > 0 || !locked ? changes : await outputChanges(this.store, locked);
      if (options.force) reasons.unshift('forced');
      return { inputs, reasons, inputsMatch: changes.length === 0, locked };
    });
  }

  /** The earlier outputs this stage can be restored from, if any are complete in the cache. */
  private async restorable(
    stage: Stage,
    inputs: StageInputs,
    inputsMatch: boolean,
    locked: LockedStage | undefined,
    options: RunOptions,
  ): Promise<CachedOutputs | undefined> {
    if (options.force || !options.runCache) return undefined;
    const candidates: CachedOutputs[] = [];
    if (inputsMatch && locked)
      candidates.push({ executionId: 0, outs: locked.outs, metrics: locked.metrics });
    candidates.push(...(await this.record(() => this.recorder.findCached(cacheKeyOf(stage, inputs)))));
    const declared = [...stage.outs, ...stage.metrics].sort().join('\n');
    return candidates.find(
      (c) =>
        [...c.outs, ...c.metrics]
          .map((o) => o.path)
          .sort()
          .join('\n') === declared && [...c.outs, ...c.metrics].every((o) => this.outputs.available(o)),
    );
  }

  /** Dry run: what would happen, and why. */
  private async plan(
    stage: Stage,
    options: RunOptions,
    needs: Set<string>,
    earlier: Map<string, StageResult>,
  ): Promise<StageResult> {
    const upstream = [...needs].filter((n) => {
      const outcome = earlier.get(n)?.outcome;
      return outcome === 'would-run' || outcome === 'would-restore';
    });
    if (upstream.length > 0) {
      const reasons = upstream.map((n) => `upstream stage '${n}' is stale`);
      if (options.force) reasons.unshift('forced');
      return { name: stage.name, outcome: 'would-run', reasons, durationMs: 0 };
    }
    const { inputs, reasons, inputsMatch, locked } = await this.assess(stage, options);
    if (reasons.length === 0) return { name: stage.name, outcome: 'up-to-date', reasons, durationMs: 0 };
    const cached = await this.restorable(stage, inputs, inputsMatch, locked, options);
    return {
      name: stage.name,
      outcome: cached ? 'would-restore' : 'would-run',
      reasons,
      durationMs: 0,
      restoredFrom: cached?.executionId || undefined,
    };
  }

  private async execute(stage: Stage, options: RunOptions): Promise<StageResult> {
    const started = Date.now();
    const { inputs, reasons, inputsMatch, locked } = await this.assess(stage, options);
    if (reasons.length === 0) return { name: stage.name, outcome: 'up-to-date', reasons, durationMs: 0 };
    const cached = await this.restorable(stage, inputs, inputsMatch, locked, options);
    await this.record(() =>
      this.recorder.startRun({
        ...this.runStart(this.pipeline.stages),
        cause: options.cause,
        experiment: options.experiment,
      }),
    );
    const cacheKey = cacheKeyOf(stage, inputs);
    const executionId = await this.record(() =>
      this.recorder.startStage({
        name: stage.name,
        params: nestParams(inputs.params),
        cacheKey,
        reasons,
        commands: stage.commands,
        inputs: [...inputs.deps.values()].filter((v): v is PathVersion => v !== undefined),
      }),
    );
    if (cached) return this.restore(stage, inputs, cached, executionId, reasons, started);

    this.reporter.stageStarting(stage, reasons);
    await this.queue.run(() => this.outputs.clear(stage, locked));
    const cwd = this.store.ws.absolutePath(stage.wdir);
    const result = await runStageCommands(stage.commands, {
      cwd,
      env: {
        ...process.env,
        ...stage.env,
        ...(options.binDir ? { PATH: `${options.binDir}${path.delimiter}${process.env.PATH ?? ''}` } : {}),
        LEDGE_STAGE: stage.name,
        LEDGE_RUN_ID: String(this.recorder.currentRunId ?? ''),
        // What a stage records (a model registered, a deployment) names the execution that made it.
        LEDGE_EXECUTION_ID: String(executionId),
        [WORKSPACE_ENV]: this.store.ws.root,
        [LOCK_HOLDER_ENV]: String(process.pid),
      },
      onLine: (stream, line) => this.reporter.stageLine(stage.name, stream, line),
      signal: options.signal,
    });
    const log = await this.queue.run(() => {
      const digest = this.store.cache.putBuffer(result.log);
      return { digest, size: result.log.length, path: `${stage.name}.log` };
    });
    const base = { name: stage.name, reasons, executionId, durationMs: Date.now() - started };
    if (result.aborted || result.exitCode !== 0) {
      const outcome = result.aborted ? 'interrupted' : 'failed';
      const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
      const which =
        stage.commands.length > 1
          ? `command ${(result.failedCommand ?? 0) + 1} of ${stage.commands.length}`
          : 'its command';
      const error = result.aborted ? 'stopped by an interrupt' : `${which} ${how}`;
      await this.record(() =>
        this.recorder.finishStage(executionId, {
          status: outcome,
          exitCode: result.exitCode,
          outs: [],
          metricsFiles: [],
          log,
          error,
        }),
      );
      return { ...base, outcome, exitCode: result.exitCode, error, logTail: logTail(result.log, 10) };
    }
    try {
      const { outs, metricsFiles, metrics } = await this.queue.run(async () => {
        const collected = await this.outputs.collect(stage);
        this.updateLock(stage.name, lockEntry(stage, inputs, collected.outs, collected.metricsFiles));
        return collected;
      });
      await this.record(() =>
        this.recorder.finishStage(executionId, {
          status: 'succeeded',
          exitCode: 0,
          metrics,
          outs,
          metricsFiles,
          log,
        }),
      );
      return { ...base, durationMs: Date.now() - started, outcome: 'ran', exitCode: 0 };
    } catch (error) {
      await this.record(() =>
        this.recorder.finishStage(executionId, {
          status: 'failed',
          exitCode: 0,
          outs: [],
          metricsFiles: [],
          log,
          error: oneLine(error),
        }),
      );
      return {
        ...base,
        outcome: 'failed',
        exitCode: 0,
        error: oneLine(error),
        logTail: logTail(result.log, 10),
      };
    }
  }

  private async restore(
    stage: Stage,
    inputs: StageInputs,
    cached: CachedOutputs,
    executionId: number,
    reasons: string[],
    started: number,
  ): Promise<StageResult> {
    const metrics = await this.queue.run(async () => {
      const metrics = await this.outputs.restore(
        cached.outs,
        cached.metrics,
        this.lock.stages[stage.name],
        this.lockShown,
      );
      this.updateLock(stage.name, lockEntry(stage, inputs, cached.outs, cached.metrics));
      return metrics;
    });
    const restoredFrom = cached.executionId || undefined;
    await this.record(() =>
      this.recorder.finishStage(executionId, {
        status: 'cached',
        metrics,
        outs: cached.outs,
        metricsFiles: cached.metrics,
        restoredFrom,
      }),
    );
    return {
      name: stage.name,
      outcome: 'restored',
      reasons,
      executionId,
      restoredFrom,
      durationMs: Date.now() - started,
    };
  }

  /** Records a stage in the lock file, dropping entries of stages the pipeline no longer has. */
  private updateLock(name: string, entry: LockedStage): void {
    const names = new Set(this.pipeline.stages.map((s) => s.name));
    const stages: Record<string, LockedStage> = {};
    for (const [stage, locked] of Object.entries(this.lock.stages))
      if (names.has(stage)) stages[stage] = locked;
    stages[name] = entry;
    this.lock = { stages };
    writeLockFile(this.lockAbs, this.lock);
  }

  /** The metrics the stages' files hold now, merged (for the run's record). */
  private currentMetrics(stages: Stage[]): Record<string, unknown> {
    const metrics: Record<string, unknown> = {};
    for (const stage of stages) {
      for (const file of stage.metrics) {
        try {
          Object.assign(metrics, readMetricsFile(this.store, file));
        } catch {
          // Missing or broken: the stage's own record says so.
        }
      }
    }
    return metrics;
  }
}
