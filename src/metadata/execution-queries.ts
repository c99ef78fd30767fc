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
