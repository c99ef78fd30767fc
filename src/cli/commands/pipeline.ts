/** `ledge run`: bring the pipeline's outputs up to date, recording every stage it runs. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomicSync } from '../../core/atomic-fs.js';
import { LedgeError } from '../../core/errors.js';
import { VERSION } from '../../core/version.js';
import type { RunReporter, RunSummary, StageResult } from '../../pipeline/executor.js';
import type { Pipeline } from '../../pipeline/pipeline-file.js';
import type { Store } from '../../store/store.js';
import type { CommandContext } from '../context.js';

interface RunFlags {
  jobs?: string;
  force?: boolean;
  dryRun?: boolean;
  keepGoing?: boolean;
  runCache?: boolean;
  cause?: string;
  experiment?: string;
  file?: string;
  wait?: string;
  json?: boolean;
}

/** Reads and validates the pipeline file (default: ledge.yaml at the workspace root). */
export async function loadPipeline(store: Store, file?: string, cwd = process.cwd()): Promise<Pipeline> {
  const { parsePipeline, PIPELINE_FILE } = await import('../../pipeline/pipeline-file.js');
  const rel = file === undefined ? PIPELINE_FILE : store.ws.relativePath(file, cwd);
  let text: string;
  try {
    text = fs.readFileSync(store.ws.absolutePath(rel), 'utf8');
  } catch {
    throw new LedgeError('config', `no pipeline file ${rel} in ${store.ws.root}`, {
      hint: 'describe the stages in ledge.yaml (see docs/pipelines.md)',
    });
  }
  return parsePipeline(text, rel);
}

/**
 * A directory with a `ledge` executable that runs this ledge (same Node, same build): stage
 * commands that call `ledge` get the version running the pipeline, installed or not.
 */
function ledgeShimDir(store: Store): string | undefined {
  const bin = process.argv[1];
  if (!bin || !fs.existsSync(bin)) return undefined;
  const dir = path.join(store.ws.stateDir, 'bin');
  const shim = path.join(dir, 'ledge');
  const text = `#!/bin/sh\nexec '${process.execPath.replace(/'/g, "'\\''")}' '${bin.replace(/'/g, "'\\''")}' "$@"\n`;
  if (!fs.existsSync(shim) || fs.readFileSync(shim, 'utf8') !== text) {
    fs.mkdirSync(dir, { recursive: true });
    writeFileAtomicSync(shim, text, { mode: 0o755 });
  }
  return dir;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** Prints what the executor does: stage output prefixed with the stage name, one line per event. */
function terminalReporter(ctx: CommandContext, pipeline: Pipeline, json: boolean): RunReporter {
  const width = Math.max(...pipeline.stages.map((s) => s.name.length));
  const say = (line: string) => (json ? ctx.note(line) : ctx.say(line));
  return {
    stageStarting(stage, reasons) {
      say(`Running stage '${stage.name}' (${reasons.join('; ')})`);
      for (const command of stage.commands) say(`${' '.repeat(width)} > ${command}`);
    },
    stageLine(stage, stream, line) {
      if (ctx.options.quiet) return;
      const out = stream === 'stderr' || json ? process.stderr : process.stdout;
      out.write(`${stage.padEnd(width)} | ${line}\n`);
    },
    stageFinished(result) {
      const line = describe(result);
      if (result.outcome === 'failed' || result.outcome === 'interrupted') {
        process.stderr.write(`ledge: ${line}\n`);
        if (result.logTail && result.logTail.length > 0) {
          process.stderr.write(`ledge: last lines of its log:\n`);
          for (const l of result.logTail) process.stderr.write(`    ${l}\n`);
        }
      } else say(line);
    },
    note: (message) => ctx.note(message),
  };
}

function describe(result: StageResult): string {
  const why = result.reasons.length > 0 ? ` (${result.reasons.join('; ')})` : '';
  switch (result.outcome) {
    case 'up-to-date':
      return `Stage '${result.name}' is up to date`;
    case 'ran':
      return `Stage '${result.name}' finished in ${seconds(result.durationMs)}`;
    case 'restored':
      return `Stage '${result.name}' restored from the ${result.restoredFrom ? `run-cache (execution ${result.restoredFrom})` : 'cache (outputs recorded in the lock file)'}`;
    case 'failed':
      return `stage '${result.name}' failed: ${result.error ?? 'unknown error'}`;
    case 'interrupted':
      return `stage '${result.name}' was interrupted`;
    case 'skipped':
      return `Stage '${result.name}' skipped: ${result.reasons.join('; ')}`;
    case 'would-run':
      return `Would run '${result.name}'${why}`;
    case 'would-restore':
      return `Would restore '${result.name}' from the ${result.restoredFrom ? `run-cache (execution ${result.restoredFrom})` : 'cache'}${why}`;
  }
}

/** `stage 'x': <why>`, without repeating the stage when the reason names it already. */
function stageError(result: StageResult): string {
  const error = result.error ?? 'unknown error';
  return error.startsWith(`stage '${result.name}'`) ? error : `stage '${result.name}': ${error}`;
}

function tally(summary: RunSummary): string {
  const counts = new Map<string, number>();
  for (const s of summary.stages) counts.set(s.outcome, (counts.get(s.outcome) ?? 0) + 1);
  return [...counts].map(([outcome, n]) => `${n} ${outcome}`).join(', ');
}

export function registerPipelineCommands(program: Command, context: () => CommandContext): void {
  program
    .command('run')
    .description(
      'run the stages whose command, dependencies or parameters changed (all, or these and what they need)',
    )
    .argument('[stages...]', 'stages to bring up to date (default: all)')
    .option('-j, --jobs <n>', 'stages to run at once (default: number of cores)')
    .option('-f, --force', 'run the stages even if they are up to date')
    .option('-n, --dry-run', 'show what would run and why, without running anything')
    .option('-k, --keep-going', 'after a failure, still run the stages that do not depend on it')
    .option('--no-run-cache', 'always run; never restore outputs of an identical earlier execution')
    .option('--experiment <name>', 'group the run under an experiment name')
    .option('--cause <text>', 'why the run started, recorded with it', 'manual')
    .option('--file <path>', 'pipeline file (default: ledge.yaml in the workspace root)')
    .option(
      '--wait <seconds>',
      'how long to wait for another ledge process to finish (default: as long as it runs)',
    )
    .option('--json', 'print the summary as JSON (stage output goes to stderr)')
    .action(async (targets: string[], flags: RunFlags) => {
      const ctx = context();
      const jobs = flags.jobs === undefined ? os.availableParallelism() : Number(flags.jobs);
      if (!Number.isInteger(jobs) || jobs < 1) {
        throw new LedgeError('usage', `--jobs must be a positive integer, not '${flags.jobs}'`);
      }
      const wait = flags.wait === undefined ? Number.POSITIVE_INFINITY : Number(flags.wait);
      if (Number.isNaN(wait) || wait < 0) {
        throw new LedgeError('usage', `--wait must be a number of seconds, not '${flags.wait}'`);
      }
      const [{ PipelineExecutor }, { RunRecorder }, { onInterrupt }] = await Promise.all([
        import('../../pipeline/executor.js'),
        import('../../pipeline/run-recorder.js'),
        import('../../core/interrupt.js'),
      ]);
      const store = await ctx.openStore();
      const pipeline = await loadPipeline(store, flags.file, ctx.cwd);
      const lock = flags.dryRun
        ? undefined
        : await store.ws.lock(`ledge run ${targets.join(' ')}`.trim(), (m) => ctx.note(m), wait);
      const recorder = new RunRecorder(() => ctx.openMetadata(store), store.ws.root, VERSION);
      const controller = new AbortController();
      const executor = new PipelineExecutor(
        store,
        pipeline,
        recorder,
        terminalReporter(ctx, pipeline, flags.json === true),
      );
      const running = executor.run({
        targets,
        jobs,
        force: flags.force === true,
        dryRun: flags.dryRun === true,
        keepGoing: flags.keepGoing === true,
        runCache: flags.runCache !== false,
        cause: flags.cause ?? 'manual',
        experiment: flags.experiment,
        signal: controller.signal,
        binDir: ledgeShimDir(store),
      });
      const stopInterrupt = onInterrupt(async () => {
        ctx.note('stopping the running stages…');
        controller.abort();
        await running.catch(() => undefined);
        await recorder.close();
        return undefined; // the usual 130/143
      });
      let summary: RunSummary;
      try {
        summary = await running;
      } finally {
        stopInterrupt();
        await recorder.close();
        lock?.release();
        store.close();
      }
      if (flags.json) ctx.json(summary);
      const runRef = summary.runId === undefined ? 'the run' : `run ${summary.runId}`;
      switch (summary.status) {
        case 'dry-run':
          if (!flags.json && summary.stages.every((s) => s.outcome === 'up-to-date'))
            ctx.say('Nothing would run.');
          return;
        case 'up-to-date':
          if (!flags.json)
            ctx.say(
              `Nothing to do: ${summary.stages.length} stage${summary.stages.length === 1 ? ' is' : 's are'} up to date.`,
            );
          return;
        case 'succeeded':
          if (!flags.json) {
            ctx.say(`Run ${summary.runId} finished in ${seconds(summary.durationMs)}: ${tally(summary)}.`);
            ctx.say(`Details: ledge runs show ${summary.runId}`);
          }
          return;
        case 'interrupted':
          throw new LedgeError('interrupted', `${runRef} was interrupted; it is recorded as interrupted`, {
            hint: 'run `ledge run` again to finish it',
          });
        case 'failed': {
          const failed = summary.stages.filter((s) => s.outcome === 'failed');
          const first = failed[0];
          throw new LedgeError(
            'stage-failed',
            `${runRef} failed: ${failed.length === 1 && first ? stageError(first) : `stages ${failed.map((s) => `'${s.name}'`).join(', ')} failed`}`,
            {
              hint: first?.executionId
                ? `full log: ledge runs log ${first.executionId}`
                : 'fix the problem and run `ledge run` again',
            },
          );
        }
      }
    });
}
