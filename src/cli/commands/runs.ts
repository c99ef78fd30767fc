/** `ledge runs list|show|diff|log`: search, compare and read the recorded runs and stage executions. */
import type { Command } from 'commander';
import { shortDigest } from '../../core/digest.js';
import { LedgeError } from '../../core/errors.js';
import type { CommandContext } from '../context.js';
import { formatChange, formatValue, table } from '../table.js';

interface ListFlags {
  where?: string;
  limit?: string;
  type?: string;
  json?: boolean;
}

/** A few metrics for a one-line summary: accuracy-like ones first, at most four. */
function headlineMetrics(flat: Record<string, unknown>): string {
  const keys = Object.keys(flat).filter((k) => typeof flat[k] === 'number');
  const rank = (k: string) => (/accuracy/.test(k) ? 0 : /auc|f1|loss/.test(k) ? 1 : 2);
  keys.sort((a, b) => rank(a) - rank(b));
  const shown = keys.slice(0, 4).map((k) => `${k}=${formatValue(flat[k])}`);
  return shown.join(' ') + (keys.length > 4 ? ` (+${keys.length - 4})` : '');
}

/** A run or execution id given on the command line. */
function executionIdOf(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id < 1)
    throw new LedgeError('usage', `run id must be a positive number, not '${text}'`, {
      hint: 'see `ledge runs list`',
    });
  return id;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function registerRunCommands(program: Command, context: () => CommandContext): void {
  const runs = program.command('runs').description('search recorded runs and stage executions');

  runs
    .command('list')
    .description('list runs and stage executions, newest first')
    .option('-w, --where <expr>', 'filter, e.g. "metrics.accuracy > 0.9 or params.train.epochs = 5"')
    .option('-n, --limit <n>', 'at most this many rows', '50')
    .option('-t, --type <type>', 'run or stage (default: both)')
    .option('--json', 'print the result as JSON')
    .action(async (flags: ListFlags) => {
      const ctx = context();
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new LedgeError('usage', `--limit must be a positive integer, not '${flags.limit}'`);
      if (flags.type !== undefined && flags.type !== 'run' && flags.type !== 'stage') {
        throw new LedgeError('usage', `--type must be run or stage, not '${flags.type}'`);
      }
      const { parseWhere } = await import('../../metadata/where-expression.js');
      const where = flags.where === undefined ? undefined : parseWhere(flags.where);
      const metadata = await ctx.openMetadata();
      try {
        const rows = await metadata.listExecutions({
          where,
          limit,
          type: flags.type as 'run' | 'stage' | undefined,
        });
        const shaped = rows.map((row) => ({
          ...row,
          params: parseJson(row.params),
          metrics: parseJson(row.metrics),
        }));
        if (flags.json) return ctx.json(shaped);
        if (shaped.length === 0) ctx.say('No runs match.');
        if (shaped.length === 0) return;
        const { flatten } = await import('../../pipeline/metrics.js');
        const lines = table([
          ['ID', 'TYPE', 'NAME', 'STATUS', 'STARTED', 'METRICS'],
          ...shaped.map((row) => [
            String(row.id),
            row.type,
            row.name,
            row.status,
            row.started_at.replace('T', ' ').slice(0, 19),
            headlineMetrics(flatten(row.metrics as Record<string, unknown>)),
          ]),
        ]);
        for (const line of lines) ctx.say(line);
      } finally {
        await metadata.close();
      }
    });

  runs
    .command('show')
    .description('show one run or stage execution with its inputs and outputs')
    .argument('<id>')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      const ctx = context();
      const executionId = executionIdOf(id);
      const [{ getExecution, stageExecutionsOf }, { parseObject }] = await Promise.all([
        import('../../metadata/execution-queries.js'),
        import('../../metadata/metadata-store.js'),
      ]);
      const metadata = await ctx.openMetadata();
      try {
        const row = await getExecution(metadata.db, executionId);
        const events = await metadata.db
          .selectFrom('events')
          .innerJoin('artifacts', 'artifacts.id', 'events.artifact_id')
          .select(['events.kind', 'events.path', 'artifacts.digest', 'artifacts.size', 'artifacts.type'])
          .where('events.execution_id', '=', executionId)
          .orderBy('events.kind')
          .orderBy('events.path')
          .execute();
        const properties = parseObject(row.properties);
        const stages = row.type === 'run' ? await stageExecutionsOf(metadata.db, row.id) : [];
        const shown = {
          ...row,
          params: parseJson(row.params),
          metrics: parseJson(row.metrics),
          properties,
          events,
          ...(row.type === 'run'
            ? {
                stages: stages.map((s) => ({
                  id: s.id,
                  name: s.name,
                  status: s.status,
                  exit_code: s.exit_code,
                })),
              }
            : {}),
        };
        if (flags.json) return ctx.json(shown);
        ctx.say(
          `${row.type} ${row.id}: ${row.name} (${row.status}${row.exit_code === null ? '' : `, exit ${row.exit_code}`})`,
        );
        ctx.say(
          `  started ${row.started_at}${row.ended_at ? `, ended ${row.ended_at}` : ''}; cause: ${row.cause}`,
        );
        ctx.say(
          `  commit ${row.git_commit ?? '-'}${row.git_dirty ? ' (dirty)' : ''}; ${row.user_name}@${row.host} ${row.platform} node ${row.node_version}`,
        );
        if (row.workspace) ctx.say(`  workspace ${row.workspace}`);
        if (Array.isArray(properties.reasons)) ctx.say(`  ran because: ${properties.reasons.join('; ')}`);
        if (typeof properties.restoredFrom === 'number') {
          ctx.say(`  outputs restored from execution ${properties.restoredFrom} (run-cache)`);
        }
        if (typeof properties.error === 'string') ctx.say(`  error: ${properties.error}`);
        ctx.say(`  params  ${JSON.stringify(shown.params)}`);
        ctx.say(`  metrics ${JSON.stringify(shown.metrics)}`);
        for (const s of stages) {
          ctx.say(
            `  stage ${s.id} ${s.name}: ${s.status}${s.exit_code === null ? '' : ` (exit ${s.exit_code})`}`,
          );
        }
        if (row.log_digest) ctx.say(`  log: ledge runs log ${row.id}`);
        for (const e of events) ctx.say(`  ${e.kind.padEnd(6)} ${e.path} ${e.digest} (${e.size} bytes)`);
      } finally {
        await metadata.close();
      }
    });

  runs
    .command('diff')
    .description('compare two runs or stage executions: params, metrics and artifact digests')
    .argument('<a>', 'run or stage execution id (the old side)')
    .argument('<b>', 'run or stage execution id (the new side)')
    .option('-a, --all', 'also show what did not change')
    .option('--json', 'print the result as JSON')
    .action(async (a: string, b: string, flags: { all?: boolean; json?: boolean }) => {
      const ctx = context();
      const [idA, idB] = [executionIdOf(a), executionIdOf(b)];
      const { diffExecutions } = await import('../../pipeline/run-records.js');
      const metadata = await ctx.openMetadata();
      let diff: Awaited<ReturnType<typeof diffExecutions>>;
      try {
        diff = await diffExecutions(metadata, idA, idB, { all: flags.all });
      } finally {
        await metadata.close();
      }
      if (flags.json) return ctx.json(diff);
      const label = (e: typeof diff.a) => `${e.type} ${e.id} (${e.name}, ${e.status}, ${e.startedAt})`;
      ctx.say(`${label(diff.a)} -> ${label(diff.b)}`);
      const none = flags.all ? 'none' : 'no differences';
      const section = (title: string, header: string[], rows: string[][]) => {
        if (rows.length === 0) return ctx.say(`${title}: ${none}`);
        ctx.say(`${title}:`);
        for (const line of table([header, ...rows])) ctx.say(`  ${line}`);
      };
      const [colA, colB] = [String(diff.a.id), String(diff.b.id)];
      for (const title of ['params', 'metrics'] as const) {
        section(
          title,
          ['key', colA, colB, 'change'],
          diff[title].map((row) => [row.key, formatValue(row.old), formatValue(row.new), formatChange(row)]),
        );
      }
      const digest = (value: unknown) =>
        typeof value === 'string' && value.startsWith('sha256:')
          ? shortDigest(value as `sha256:${string}`)
          : formatValue(value);
      section(
        'artifacts',
        ['kind', 'path', colA, colB, 'change'],
        diff.artifacts.map((row) => [
          row.kind,
          row.path,
          digest(row.old),
          digest(row.new),
          formatChange(row),
        ]),
      );
    });

  runs
    .command('log')
    .description("print a stage execution's log, or the logs of every stage of a run")
    .argument('<id>', 'run or stage execution id')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      const ctx = context();
      const executionId = executionIdOf(id);
      const { executionLogs } = await import('../../pipeline/run-records.js');
      const { execution, logs } = await ctx.withStore(async (store) => {
        const metadata = await ctx.openMetadata(store);
        try {
          return await executionLogs(metadata, store.cache, executionId);
        } finally {
          await metadata.close();
        }
      });
      if (flags.json) {
        return ctx.json({
          execution,
          logs: logs.map(({ content, ...log }) => ({ ...log, log: content?.toString('utf8') ?? null })),
        });
      }
      if (execution.type !== 'run') {
        const log = logs[0]!;
        if (!log.content) {
          throw new LedgeError(
            'missing-object',
            `stage execution ${log.id} (${log.name}) has no log recorded (status ${log.status})`,
            { hint: 'a log is recorded when the stage finishes' },
          );
        }
        if (log.restoredFrom !== undefined)
          ctx.note(`restored from the run-cache: the log of execution ${log.restoredFrom}`);
        process.stdout.write(log.content);
        return;
      }
      if (logs.length === 0) return ctx.say(`run ${execution.id} has no stage executions`);
      for (const log of logs) {
        const from = log.restoredFrom === undefined ? '' : `, log of execution ${log.restoredFrom}`;
        process.stdout.write(`==> ${log.name} (execution ${log.id}, ${log.status}${from}) <==\n`);
        if (!log.content) process.stdout.write('(no log recorded)\n');
        else {
          process.stdout.write(log.content);
          if (log.content.length > 0 && log.content[log.content.length - 1] !== 10)
            process.stdout.write('\n');
        }
      }
    });
}
