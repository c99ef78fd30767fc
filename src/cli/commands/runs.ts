/** `ledge runs list|show`: search the recorded pipeline runs and stage executions. */
import path from 'node:path';
import type { Command } from 'commander';
import { LedgeError } from '../../core/errors.js';
import type { CommandContext } from '../context.js';

interface ListFlags {
  where?: string;
  limit?: string;
  type?: string;
  json?: boolean;
}

/** Opens the workspace's metadata database: LEDGE_DB_URL / core.db_url, else SQLite in .ledge/state. */
async function openMetadata(ctx: CommandContext) {
  const [{ MetadataStore }, store] = await Promise.all([
    import('../../metadata/metadata-store.js'),
    ctx.openStore(),
  ]);
  try {
    return await MetadataStore.open(store.ws.config.dbUrl ?? path.join(store.ws.stateDir, 'metadata.db'));
  } finally {
    store.close();
  }
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
      const metadata = await openMetadata(ctx);
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
        for (const row of shaped) {
          const metrics = Object.entries(row.metrics as Record<string, unknown>)
            .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(4)) : JSON.stringify(v)}`)
            .join(' ');
          ctx.say(`${row.id}\t${row.type}\t${row.name}\t${row.status}\t${row.started_at}\t${metrics}`);
        }
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
      const executionId = Number(id);
      if (!Number.isInteger(executionId))
        throw new LedgeError('usage', `run id must be a number, not '${id}'`);
      const metadata = await openMetadata(ctx);
      try {
        const row = await metadata.db
          .selectFrom('executions')
          .selectAll()
          .where('id', '=', executionId)
          .executeTakeFirst();
        if (!row)
          throw new LedgeError('usage', `no run or execution with id ${executionId}`, {
            hint: 'see `ledge runs list`',
          });
        const events = await metadata.db
          .selectFrom('events')
          .innerJoin('artifacts', 'artifacts.id', 'events.artifact_id')
          .select(['events.kind', 'events.path', 'artifacts.digest', 'artifacts.size', 'artifacts.type'])
          .where('events.execution_id', '=', executionId)
          .orderBy('events.kind')
          .orderBy('events.path')
          .execute();
        const shown = { ...row, params: parseJson(row.params), metrics: parseJson(row.metrics), events };
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
        ctx.say(`  params  ${JSON.stringify(shown.params)}`);
        ctx.say(`  metrics ${JSON.stringify(shown.metrics)}`);
        for (const e of events) ctx.say(`  ${e.kind.padEnd(6)} ${e.path} ${e.digest} (${e.size} bytes)`);
      } finally {
        await metadata.close();
      }
    });
}
