/**
 * Deployments in the metadata store (migration 0005): every attempt to put a model version on a
 * deploy target, from `deploying` to how it ended. Kysely only: the same queries on SQLite and
 * PostgreSQL. At most one deployment per target is `active` (a partial unique index); the
 * transitions that move "active" from one row to another run in one transaction.
 *
 *     deploying ──▶ active ──▶ superseded   (another deployment replaced it)
 *         │            ├─────▶ rolled-back  (`ledge deploy rollback` went back past it)
 *         │            └─────▶ stopped      (`ledge deploy stop`)
 *         └──▶ failed  (readiness, smoke inference, or the target refused it: nothing changed)
 */
import type { Kysely, Selectable } from 'kysely';
import { LedgeError } from '../core/errors.js';
import { parseObject } from './metadata-store.js';
import type { DeploymentTable, MetadataDatabase } from './schema.js';

type Db = Kysely<MetadataDatabase>;

export const DEPLOYMENT_STATUSES = [
  'deploying',
  'active',
  'failed',
  'rolled-back',
  'superseded',
  'stopped',
] as const;

export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** How an active deployment ends. */
export type EndedStatus = 'superseded' | 'rolled-back' | 'stopped';

export interface DeploymentStart {
  target: string;
  modelName: string;
  modelVersion?: number | null | undefined;
  /** → model_versions.id */
  modelVersionId?: number | null | undefined;
  modelDigest: string;
  location: string;
  cause: string;
  /** The deployment active on the target now (what this one replaces). */
  previousId?: number | null | undefined;
  /** The stage execution that produced the model. */
  runExecutionId?: number | null | undefined;
  properties?: Record<string, unknown> | undefined;
}

export interface Deployment {
  id: number;
  target: string;
  modelName: string;
  modelVersion: number | null;
  modelVersionId: number | null;
  modelDigest: string;
  location: string;
  status: DeploymentStatus;
  cause: string;
  startedAt: string;
  endedAt: string | null;
  previousId: number | null;
  runExecutionId: number | null;
  message: string | null;
  properties: Record<string, unknown>;
}

export interface DeploymentQuery {
  target?: string | undefined;
  status?: DeploymentStatus[] | undefined;
  /** The newest N (default 100), newest first. */
  limit?: number | undefined;
}

type Row = Selectable<DeploymentTable>;

function deploymentOf(row: Row): Deployment {
  return {
    id: Number(row.id),
    target: row.target,
    modelName: row.model_name,
    modelVersion: row.model_version === null ? null : Number(row.model_version),
    modelVersionId: row.model_version_id === null ? null : Number(row.model_version_id),
    modelDigest: row.model_digest,
    location: row.location,
    status: row.status as DeploymentStatus,
    cause: row.cause,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    previousId: row.previous_id === null ? null : Number(row.previous_id),
    runExecutionId: row.run_execution_id === null ? null : Number(row.run_execution_id),
    message: row.message,
    properties: parseObject(row.properties),
  };
}

const now = () => new Date().toISOString();

/** Records a deployment as `deploying`; returns it. */
export async function startDeployment(db: Db, start: DeploymentStart): Promise<Deployment> {
  const row = await db
    .insertInto('deployments')
    .values({
      target: start.target,
      model_name: start.modelName,
      model_version: start.modelVersion ?? null,
      model_version_id: start.modelVersionId ?? null,
      model_digest: start.modelDigest,
      location: start.location,
      status: 'deploying',
      cause: start.cause,
      started_at: now(),
      ended_at: null,
      previous_id: start.previousId ?? null,
      run_execution_id: start.runExecutionId ?? null,
      message: null,
      properties: JSON.stringify(start.properties ?? {}),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return deploymentOf(row);
}

export async function getDeployment(db: Db, id: number): Promise<Deployment> {
  const row = await db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) {
    throw new LedgeError('usage', `no deployment ${id}`, { hint: 'see `ledge deploy history`' });
  }
  return deploymentOf(row);
}

/** The deployment serving on `target` now, as recorded. */
export async function activeDeployment(db: Db, target: string): Promise<Deployment | undefined> {
  const row = await db
    .selectFrom('deployments')
    .selectAll()
    .where('target', '=', target)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return row ? deploymentOf(row) : undefined;
}

/** Deployments, newest first. */
export async function listDeployments(db: Db, query: DeploymentQuery = {}): Promise<Deployment[]> {
  let select = db.selectFrom('deployments').selectAll();
  if (query.target !== undefined) select = select.where('target', '=', query.target);
  if (query.status !== undefined && query.status.length > 0)
    select = select.where('status', 'in', query.status);
  const rows = await select
    .orderBy('id', 'desc')
    .limit(query.limit ?? 100)
    .execute();
  return rows.map(deploymentOf);
}

async function mergedProperties(
  db: Db,
  id: number,
  extra: Record<string, unknown> | undefined,
): Promise<string | undefined> {
  if (!extra) return undefined;
  const row = await db.selectFrom('deployments').select('properties').where('id', '=', id).executeTakeFirst();
  return JSON.stringify({ ...parseObject(row?.properties), ...extra });
}

/**
 * Makes a `deploying` deployment the active one of its target, in one transaction: the
 * deployment active before it ends as `replaced` (superseded, or rolled-back when this one
 * is a rollback). Returns the deployment it replaced, if any.
 */
export async function activateDeployment(
  db: Db,
  id: number,
  options: {
    replaced?: 'superseded' | 'rolled-back';
    message?: string;
    properties?: Record<string, unknown>;
  } = {},
): Promise<Deployment | undefined> {
  return db.transaction().execute(async (trx) => {
    // Written so that the first statement writes: on SQLite the transaction then takes the write
    // lock at once (waiting for other writers, e.g. servers recording monitoring) instead of
    // starting with a read snapshot that another writer can make stale ("database is locked").
    const replaced = await trx
      .updateTable('deployments')
      .set({
        status: options.replaced ?? 'superseded',
        ended_at: now(),
        message: `${options.replaced === 'rolled-back' ? 'rolled back' : 'replaced'} by deployment ${id}`,
      })
      .where('target', '=', (eb) => eb.selectFrom('deployments').select('target').where('id', '=', id))
      .where('status', '=', 'active')
      .where('id', '!=', id)
      .returningAll()
      .executeTakeFirst();
    const properties = await mergedProperties(trx, id, options.properties);
    await trx
      .updateTable('deployments')
      .set({
        status: 'active',
        message: options.message ?? null,
        ...(properties === undefined ? {} : { properties }),
      })
      .where('id', '=', id)
      .executeTakeFirst()
      .then((result) => {
        if (Number(result.numUpdatedRows) !== 1) throw new LedgeError('usage', `no deployment ${id}`);
      });
    return replaced ? deploymentOf(replaced) : undefined;
  });
}

/** Records what the target ran, once it knows (an engine target: the image pinned by digest). */
export async function setDeploymentLocation(db: Db, id: number, location: string): Promise<void> {
  await db.updateTable('deployments').set({ location }).where('id', '=', id).execute();
}

/** Records that a deployment failed (nothing it did is serving): why, and what it found. */
export async function failDeployment(
  db: Db,
  id: number,
  message: string,
  properties?: Record<string, unknown>,
): Promise<void> {
  const merged = await mergedProperties(db, id, properties);
  await db
    .updateTable('deployments')
    .set({
      status: 'failed',
      ended_at: now(),
      message,
      ...(merged === undefined ? {} : { properties: merged }),
    })
    .where('id', '=', id)
    .execute();
}

/** Ends an active deployment (stopped, or superseded by something outside ledge's records). */
export async function endDeployment(db: Db, id: number, status: EndedStatus, message: string): Promise<void> {
  await db
    .updateTable('deployments')
    .set({ status, ended_at: now(), message })
    .where('id', '=', id)
    .where('status', '=', 'active')
    .execute();
}

/**
 * Marks deployments of `target` still `deploying` as failed: the process deploying them
 * ended before it finished (the caller holds the target's lock, so none is in progress).
 */
export async function failAbandonedDeployments(db: Db, target: string, message: string): Promise<number> {
  const result = await db
    .updateTable('deployments')
    .set({ status: 'failed', ended_at: now(), message })
    .where('target', '=', target)
    .where('status', '=', 'deploying')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * The newest deployment on `target` before `beforeId` that served at some point (active,
 * superseded, rolled-back or stopped; never a failed one): what served before it when the
 * record of what it replaced is missing (it was deployed onto a stopped target).
 */
export async function lastServedBefore(
  db: Db,
  target: string,
  beforeId: number,
): Promise<Deployment | undefined> {
  const row = await db
    .selectFrom('deployments')
    .selectAll()
    .where('target', '=', target)
    .where('id', '<', beforeId)
    .where('status', 'in', ['active', 'superseded', 'rolled-back', 'stopped'])
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? deploymentOf(row) : undefined;
}
