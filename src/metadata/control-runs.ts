/**
 * The control plane's run queue in the metadata store (migration 0007): one row per queued
 * pipeline run, from `queued` to how it ended. Kysely only, the same on SQLite and PostgreSQL.
 *
 *     queued ──▶ running ──▶ succeeded | failed | gated | cancelled | interrupted
 *        └──▶ cancelled
 */
import type { Selectable } from 'kysely';
import { LedgeError } from '../core/errors.js';
import { type ControlDb, type ControlRunTable, controlDb } from './control-plane-schema.js';
import type { MetadataStore } from './metadata-store.js';
import { parseObject } from './metadata-store.js';

export const CONTROL_RUN_STATUSES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'gated',
  'cancelled',
  'interrupted',
] as const;

export type ControlRunStatus = (typeof CONTROL_RUN_STATUSES)[number];
export type FinishedStatus = Exclude<ControlRunStatus, 'queued' | 'running'>;

/** Why a run was asked for: `{kind: 'webhook', provider, delivery, commit}`, `{kind: 'schedule', cron}`… */
export interface RunCause {
  kind: string;
  /** ISO time the trigger fired. */
  at: string;
  [detail: string]: unknown;
}

export interface ControlRun {
  id: number;
  workspace: string;
  status: ControlRunStatus;
  causes: RunCause[];
  /** Stages asked for; empty: the whole pipeline. */
  stages: string[];
  requestedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  exitCode: number | null;
  reason: string | null;
  pipelineRunId: number | null;
  pid: number | null;
  pidStart: string | null;
  ownerPid: number | null;
  properties: Record<string, unknown>;
}

function parseArray<T>(text: string): T[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? (value as T[]) : [];
  } catch {
    return [];
  }
}

const num = (value: number | null) => (value === null ? null : Number(value));

function controlRunOf(row: Selectable<ControlRunTable>): ControlRun {
  return {
    id: Number(row.id),
    workspace: row.workspace,
    status: row.status as ControlRunStatus,
    causes: parseArray<RunCause>(row.causes),
    stages: parseArray<string>(row.stages),
    requestedAt: row.requested_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    exitCode: num(row.exit_code),
    reason: row.reason,
    pipelineRunId: num(row.pipeline_run_id),
    pid: num(row.pid),
    pidStart: row.pid_start,
    ownerPid: num(row.owner_pid),
    properties: parseObject(row.properties),
  };
}

const now = () => new Date().toISOString();

/**
 * The control run that started pipeline run `pipelineRun` (an `executions` row of type run), in
 * any workspace: the one that recorded it when it ended, else, while it still runs, the one its
 * cause names (`control run 7: …`, as src/control writes it). Read only: the dashboard follows
 * it from a deployment back to the change that caused it.
 */
export async function controlRunOfPipelineRun(
  metadata: MetadataStore,
  pipelineRun: { id: number; cause: string },
): Promise<ControlRun | undefined> {
  const db = controlDb(metadata.db);
  const recorded = await db
    .selectFrom('control_runs')
    .selectAll()
    .where('pipeline_run_id', '=', pipelineRun.id)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (recorded) return controlRunOf(recorded);
  const named = /^control run (\d+):/.exec(pipelineRun.cause);
  if (!named) return undefined;
  const row = await db
    .selectFrom('control_runs')
    .selectAll()
    .where('id', '=', Number(named[1]))
    .where('pipeline_run_id', 'is', null)
    .executeTakeFirst();
  return row ? controlRunOf(row) : undefined;
}

/** The queue's records of one workspace. */
export class ControlRunRecords {
  private readonly db: ControlDb;

  constructor(
    metadata: MetadataStore,
    readonly workspace: string,
  ) {
    this.db = controlDb(metadata.db);
  }

  async enqueue(causes: RunCause[], stages: string[]): Promise<ControlRun> {
    const row = await this.db
      .insertInto('control_runs')
      .values({
        workspace: this.workspace,
        status: 'queued',
        causes: JSON.stringify(causes),
        stages: JSON.stringify(stages),
        requested_at: now(),
        started_at: null,
        ended_at: null,
        exit_code: null,
        reason: null,
        pipeline_run_id: null,
        pid: null,
        pid_start: null,
        owner_pid: null,
        properties: '{}',
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return controlRunOf(row);
  }

  /** Replaces a queued run's causes and stages (a trigger merged into it); undefined if it left the queue. */
  async updateQueued(id: number, causes: RunCause[], stages: string[]): Promise<ControlRun | undefined> {
    const row = await this.db
      .updateTable('control_runs')
      .set({ causes: JSON.stringify(causes), stages: JSON.stringify(stages) })
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst();
    return row ? controlRunOf(row) : undefined;
  }

  /** Moves a queued run to running; undefined if it was no longer queued (cancelled meanwhile). */
  async markRunning(id: number, ownerPid: number): Promise<ControlRun | undefined> {
    const row = await this.db
      .updateTable('control_runs')
      .set({ status: 'running', started_at: now(), owner_pid: ownerPid })
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst();
    return row ? controlRunOf(row) : undefined;
  }

  async setProcess(id: number, pid: number, pidStart: string | null): Promise<void> {
    await this.db
      .updateTable('control_runs')
      .set({ pid, pid_start: pidStart })
      .where('id', '=', id)
      .execute();
  }

  /** Ends a queued or running run; undefined if it had ended already. */
  async finish(
    id: number,
    end: {
      status: FinishedStatus;
      exitCode?: number | null;
      reason?: string | null;
      pipelineRunId?: number | null;
      properties?: Record<string, unknown>;
    },
  ): Promise<ControlRun | undefined> {
    const current = await this.get(id);
    if (current.status !== 'queued' && current.status !== 'running') return undefined;
    const row = await this.db
      .updateTable('control_runs')
      .set({
        status: end.status,
        ended_at: now(),
        exit_code: end.exitCode ?? null,
        reason: end.reason ?? null,
        pipeline_run_id: end.pipelineRunId ?? current.pipelineRunId,
        properties: JSON.stringify({ ...current.properties, ...(end.properties ?? {}) }),
      })
      .where('id', '=', id)
      .where('status', 'in', ['queued', 'running'])
      .returningAll()
      .executeTakeFirst();
    return row ? controlRunOf(row) : undefined;
  }

  async get(id: number): Promise<ControlRun> {
    const row = await this.db.selectFrom('control_runs').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new LedgeError('usage', `no queued run ${id}`, { hint: 'see GET /api/queue' });
    return controlRunOf(row);
  }

  /** This workspace's runs, newest first. */
  async list(options: { status?: ControlRunStatus[]; limit?: number } = {}): Promise<ControlRun[]> {
    let query = this.db.selectFrom('control_runs').selectAll().where('workspace', '=', this.workspace);
    if (options.status && options.status.length > 0) query = query.where('status', 'in', options.status);
    const rows = await query
      .orderBy('id', 'desc')
      .limit(options.limit ?? 100)
      .execute();
    return rows.map(controlRunOf);
  }

  /** Queued runs, oldest first. */
  async queued(): Promise<ControlRun[]> {
    const rows = await this.db
      .selectFrom('control_runs')
      .selectAll()
      .where('workspace', '=', this.workspace)
      .where('status', '=', 'queued')
      .orderBy('id')
      .execute();
    return rows.map(controlRunOf);
  }

  /**
   * Marks a pipeline run (an `executions` row of type run) `gated`: it ended because the quality
   * gate refused its model, which is not a failure of the pipeline. The reason goes to its
   * properties (`gate`).
   */
  async markPipelineRunGated(executionId: number, reason: string): Promise<void> {
    const row = await this.db
      .selectFrom('executions')
      .select(['properties', 'type'])
      .where('id', '=', executionId)
      .executeTakeFirst();
    if (row?.type !== 'run') return;
    await this.db
      .updateTable('executions')
      .set({ status: 'gated', properties: JSON.stringify({ ...parseObject(row.properties), gate: reason }) })
      .where('id', '=', executionId)
      .execute();
  }

  /** The id of the pipeline run (`executions`, type run) whose cause names this control run. */
  async findPipelineRun(causePrefix: string): Promise<number | null> {
    const row = await this.db
      .selectFrom('executions')
      .select('id')
      .where('type', '=', 'run')
      .where('cause', 'like', `${causePrefix}%`)
      .orderBy('id', 'desc')
      .executeTakeFirst();
    return row ? Number(row.id) : null;
  }
}
