/**
 * The control plane's tables (migration 0007, docs/control-plane.md): the run queue
 * (`control_runs`), API tokens (`api_tokens`, sha256 hashes only), webhook deliveries seen
 * (`webhook_deliveries`, so a replayed delivery is ignored) and what triggers remember across
 * restarts (`trigger_state`: the last commit seen on a branch). Row types for Kysely, used
 * through `controlDb(store.db)` so the shared schema file stays untouched.
 */
import type { Generated, Kysely, Migration } from 'kysely';
import type { DdlCapabilities } from './migrations.js';
import type { JsonText, MetadataDatabase } from './schema.js';

export interface ControlRunTable {
  id: Generated<number>;
  /** `host:/absolute/path` of the workspace the run belongs to. */
  workspace: string;
  /** queued | running | succeeded | failed | cancelled | interrupted | gated */
  status: string;
  /** `[{kind, …}]`: every trigger merged into this run, oldest first. */
  causes: JsonText;
  /** `["train", …]`, or `[]` for the whole pipeline. */
  stages: JsonText;
  requested_at: string;
  started_at: string | null;
  ended_at: string | null;
  exit_code: number | null;
  /** Why it ended as it did (the failing stage, the gate's refusal, who cancelled it). */
  reason: string | null;
  /** → executions.id of the `ledge run` it started (null: nothing ran, or not known yet). */
  pipeline_run_id: number | null;
  /** The `ledge run` child process (its process group id) and its start time in /proc. */
  pid: number | null;
  pid_start: string | null;
  /** The control server (or `ledge trigger`) process that runs it. */
  owner_pid: number | null;
  properties: JsonText;
}

export interface ApiTokenTable {
  id: Generated<number>;
  name: string;
  /** sha256 hex of the whole token; the token itself is never stored. */
  token_hash: string;
  /** The first characters of the token (`ledge_AbCd`), to tell tokens apart in lists. */
  prefix: string;
  read_only: number;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface WebhookDeliveryTable {
  /** github | gitlab */
  provider: string;
  delivery_id: string;
  received_at: string;
  /** The control run it was merged into (null: ignored, e.g. another branch). */
  control_run_id: number | null;
  outcome: string;
}

export interface TriggerStateTable {
  /** `git:<workspace>:<branch>`… */
  key: string;
  value: string;
  updated_at: string;
}

export type ControlTables = {
  control_runs: ControlRunTable;
  api_tokens: ApiTokenTable;
  webhook_deliveries: WebhookDeliveryTable;
  trigger_state: TriggerStateTable;
};

export type ControlDb = Kysely<MetadataDatabase & ControlTables>;

/** The metadata database seen with the control plane's tables. */
export function controlDb(db: Kysely<MetadataDatabase>): ControlDb {
  return db.withTables<ControlTables>() as unknown as ControlDb;
}

export function controlPlaneMigration(caps: DdlCapabilities): Migration {
  return {
    async up(db: Kysely<unknown>) {
      const withId = (name: string) => {
        const table = db.schema.createTable(name);
        return caps.serial === 'serial'
          ? table.addColumn('id', 'serial', (c) => c.primaryKey())
          : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      };
      await withId('control_runs')
        .addColumn('workspace', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('causes', caps.json, (c) => c.notNull())
        .addColumn('stages', caps.json, (c) => c.notNull())
        .addColumn('requested_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('ended_at', 'text')
        .addColumn('exit_code', 'integer')
        .addColumn('reason', 'text')
        .addColumn('pipeline_run_id', 'integer', (c) => c.references('executions.id'))
        .addColumn('pid', 'integer')
        .addColumn('pid_start', 'text')
        .addColumn('owner_pid', 'integer')
        .addColumn('properties', caps.json, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('control_runs_by_status')
        .on('control_runs')
        .columns(['workspace', 'status', 'id'])
        .execute();
      await withId('api_tokens')
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('read_only', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('delivery_id', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addColumn('control_run_id', 'integer', (c) => c.references('control_runs.id'))
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('webhook_deliveries_pk', ['provider', 'delivery_id'])
        .execute();
      await db.schema
        .createTable('trigger_state')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
