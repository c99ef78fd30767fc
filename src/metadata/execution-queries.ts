/** Reading recorded executions back: one by id, and the stage executions of a run. */
import type { Kysely, Selectable } from 'kysely';
import { LedgeError } from '../core/errors.js';
import type { ExecutionTable, MetadataDatabase } from './schema.js';

export type ExecutionRow = Selectable<ExecutionTable>;

/** The run or stage execution with this id; a LedgeError naming it when there is none. */
export async function getExecution(db: Kysely<MetadataDatabase>, id: number): Promise<ExecutionRow> {
  const row = await db.selectFrom('executions').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row)
    throw new LedgeError('usage', `no run or execution with id ${id}`, { hint: 'see `ledge runs list`' });
  return row;
}

/** The stage executions of a pipeline run, in the order they started. */
export async function stageExecutionsOf(
  db: Kysely<MetadataDatabase>,
  runId: number,
): Promise<ExecutionRow[]> {
  return db
    .selectFrom('executions')
    .selectAll()
    .where('parent_id', '=', runId)
    .where('type', '=', 'stage')
    .orderBy('id')
    .execute();
}

/**
 * The stages of a pipeline as they stood when a run happened: the stage executions of the run,
 * and for each stage it did not execute (it was up to date), that stage's last successful
 * execution before the run in the same workspace. `stages` are the pipeline's stage names.
 */
export async function stageStateAtRun(
  db: Kysely<MetadataDatabase>,
  run: ExecutionRow,
  stages: string[],
): Promise<ExecutionRow[]> {
  const executed = await stageExecutionsOf(db, run.id);
  const rows = [...executed];
  for (const name of stages) {
    if (executed.some((row) => row.name === name)) continue;
    let query = db
      .selectFrom('executions')
      .selectAll()
      .where('type', '=', 'stage')
      .where('name', '=', name)
      .where('id', '<', run.id)
      .where('status', 'in', ['succeeded', 'cached']);
    query =
      run.workspace === null
        ? query.where('workspace', 'is', null)
        : query.where('workspace', '=', run.workspace);
    const previous = await query.orderBy('id', 'desc').limit(1).executeTakeFirst();
    if (previous) rows.push(previous);
  }
  return rows;
}
