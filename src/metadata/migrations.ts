/**
 * Versioned schema migrations, applied automatically when a store opens (Kysely's Migrator:
 * ordered by name, recorded in `kysely_migration`, guarded by a lock: an advisory lock on
 * PostgreSQL, so many workspaces can open one database at once).
 */
import { type Kysely, type Migration, type MigrationProvider, type RawBuilder, sql } from 'kysely';
import { controlPlaneMigration } from './control-plane-schema.js';

/** What differs between dialects, as capabilities rather than dialect names. */
export interface DdlCapabilities {
  /** SQL reading a JSON value at `path` of `column` as a number (NULL when not a number). */
  jsonNumber(column: string, path: string[]): RawBuilder<number | null>;
  /** SQL reading a JSON value at `path` of `column` as text (NULL when absent). */
  jsonText(column: string, path: string[]): RawBuilder<string | null>;
  /** Column type for JSON documents. */
  json: 'text' | 'jsonb';
  /** Column type for auto-incremented ids. */
  serial: 'integer' | 'serial';
}

function migrations(caps: DdlCapabilities): Record<string, Migration> {
  return {
    '0001_core': {
      async up(db: Kysely<unknown>) {
        const id = (builder: ReturnType<Kysely<unknown>['schema']['createTable']>) =>
          caps.serial === 'serial'
            ? builder.addColumn('id', 'serial', (c) => c.primaryKey())
            : builder.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
        await id(db.schema.createTable('artifacts'))
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('uri', 'text', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('properties', caps.json, (c) => c.notNull())
          .addUniqueConstraint('artifacts_digest_uri', ['digest', 'uri'])
          .execute();
        await db.schema.createIndex('artifacts_by_digest').on('artifacts').column('digest').execute();
        await id(db.schema.createTable('executions'))
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('parent_id', 'integer', (c) => c.references('executions.id'))
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('exit_code', 'integer')
          .addColumn('cause', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('ended_at', 'text')
          .addColumn('git_commit', 'text')
          .addColumn('git_dirty', 'integer')
          .addColumn('user_name', 'text', (c) => c.notNull())
          .addColumn('host', 'text', (c) => c.notNull())
          .addColumn('platform', 'text', (c) => c.notNull())
          .addColumn('node_version', 'text', (c) => c.notNull())
          .addColumn('ledge_version', 'text', (c) => c.notNull())
          .addColumn('params', caps.json, (c) => c.notNull())
          .addColumn('metrics', caps.json, (c) => c.notNull())
          .addColumn('log_digest', 'text')
          .execute();
        await db.schema
          .createIndex('executions_by_start')
          .on('executions')
          .columns(['type', 'started_at'])
          .execute();
        await db.schema.createIndex('executions_by_parent').on('executions').column('parent_id').execute();
        await db.schema
          .createTable('events')
          .addColumn('execution_id', 'integer', (c) => c.notNull().references('executions.id'))
          .addColumn('artifact_id', 'integer', (c) => c.notNull().references('artifacts.id'))
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('path', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('events_pk', ['execution_id', 'artifact_id', 'kind', 'path'])
          .execute();
        await db.schema
          .createIndex('events_by_artifact')
          .on('events')
          .columns(['artifact_id', 'kind'])
          .execute();
        await id(db.schema.createTable('contexts'))
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('contexts_type_name', ['type', 'name'])
          .execute();
        for (const [table, column, target] of [
          ['associations', 'execution_id', 'executions.id'],
          ['attributions', 'artifact_id', 'artifacts.id'],
        ] as const) {
          await db.schema
            .createTable(table)
            .addColumn('context_id', 'integer', (c) => c.notNull().references('contexts.id'))
            .addColumn(column, 'integer', (c) => c.notNull().references(target))
            .addPrimaryKeyConstraint(`${table}_pk`, ['context_id', column])
            .execute();
        }
      },
    },
    '0002_pipeline_runs': {
      // What the pipeline executor needs: the run-cache key of a stage execution, the process
      // and workspace that ran it (to find runs left "running" by a killed process), and free-form
      // properties (environment, why it ran, where a restored execution came from).
      async up(db: Kysely<unknown>) {
        for (const [name, type] of [
          ['cache_key', 'text'],
          ['pid', 'integer'],
          ['workspace', 'text'],
        ] as const) {
          await db.schema.alterTable('executions').addColumn(name, type).execute();
        }
        await db.schema
          .alterTable('executions')
          .addColumn('properties', caps.json, (c) => c.notNull().defaultTo('{}'))
          .execute();
        await db.schema
          .createIndex('executions_by_cache_key')
          .on('executions')
          .columns(['cache_key', 'status'])
          .execute();
        await db.schema
          .createIndex('executions_by_status')
          .on('executions')
          .columns(['status', 'host'])
          .execute();
      },
    },
    '0003_model_registry': {
      // The model registry: numbered versions of named models (each a content-store digest:
      // a bundle directory's manifest or an .onnx file) and movable aliases (`production`).
      // Deployments (issue 6) will reference model_versions.id.
      async up(db: Kysely<unknown>) {
        const table = db.schema.createTable('model_versions');
        await (caps.serial === 'serial'
          ? table.addColumn('id', 'serial', (c) => c.primaryKey())
          : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        )
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('execution_id', 'integer', (c) => c.references('executions.id'))
          .addColumn('metrics', caps.json, (c) => c.notNull())
          .addColumn('properties', caps.json, (c) => c.notNull())
          .addUniqueConstraint('model_versions_name_version', ['name', 'version'])
          .execute();
        await db.schema
          .createIndex('model_versions_by_digest')
          .on('model_versions')
          .column('digest')
          .execute();
        await db.schema
          .createTable('model_aliases')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('alias', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('model_aliases_pk', ['name', 'alias'])
          .addForeignKeyConstraint('model_aliases_version', ['name', 'version'], 'model_versions', [
            'name',
            'version',
          ])
          .execute();
      },
    },
    '0004_monitoring': {
      // Monitoring history from inference servers (src/runtime/monitoring, docs/monitoring.md):
      // one row per model version and window (default 10 s) with traffic, latency, scores,
      // drift and live accuracy, and the serving events (loads, swaps, drift alerts, starts,
      // stops). The dashboard reads both.
      async up(db: Kysely<unknown>) {
        const withId = (name: string) => {
          const table = db.schema.createTable(name);
          return caps.serial === 'serial'
            ? table.addColumn('id', 'serial', (c) => c.primaryKey())
            : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
        };
        await withId('monitoring_windows')
          .addColumn('server', 'text', (c) => c.notNull())
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('ended_at', 'text', (c) => c.notNull())
          .addColumn('requests', 'integer', (c) => c.notNull())
          .addColumn('errors', 'integer', (c) => c.notNull())
          .addColumn('throughput', 'double precision', (c) => c.notNull())
          .addColumn('p50_ms', 'double precision')
          .addColumn('p95_ms', 'double precision')
          .addColumn('p99_ms', 'double precision')
          .addColumn('live_accuracy', 'double precision')
          .addColumn('labelled', 'integer', (c) => c.notNull())
          .addColumn('scores', caps.json, (c) => c.notNull())
          .addColumn('drift', caps.json)
          .execute();
        await db.schema
          .createIndex('monitoring_windows_by_model')
          .on('monitoring_windows')
          .columns(['model', 'version', 'started_at'])
          .execute();
        await withId('serving_events')
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('server', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('model', 'text')
          .addColumn('version', 'text')
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('properties', caps.json, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('serving_events_by_at').on('serving_events').column('at').execute();
      },
    },
    '0005_deployments': {
      // Deployments (src/deploy, docs/deploy.md): one row per attempt to put a model version on a
      // target (what, where, when, why, and how it ended), linked to the registry version and the
      // run that produced it. At most one row per target is `active`; a partial unique index
      // keeps it so even when two writers race.
      async up(db: Kysely<unknown>) {
        const table = db.schema.createTable('deployments');
        await (caps.serial === 'serial'
          ? table.addColumn('id', 'serial', (c) => c.primaryKey())
          : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        )
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('model_name', 'text', (c) => c.notNull())
          .addColumn('model_version', 'integer')
          .addColumn('model_version_id', 'integer', (c) => c.references('model_versions.id'))
          .addColumn('model_digest', 'text', (c) => c.notNull())
          .addColumn('location', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('cause', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('ended_at', 'text')
          .addColumn('previous_id', 'integer', (c) => c.references('deployments.id'))
          .addColumn('run_execution_id', 'integer', (c) => c.references('executions.id'))
          .addColumn('message', 'text')
          .addColumn('properties', caps.json, (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('deployments_by_target')
          .on('deployments')
          .columns(['target', 'id'])
          .execute();
        await db.schema
          .createIndex('deployments_one_active')
          .on('deployments')
          .column('target')
          .unique()
          .where(sql.ref('status'), '=', 'active')
          .execute();
        await db.schema
          .createIndex('deployments_by_model')
          .on('deployments')
          .columns(['model_name', 'model_version'])
          .execute();
      },
    },
    '0006_image_builds': {
      // Image builds (src/build, docs/build.md): one row per `ledge build` of a model version:
      // what was built (the image or index digest, each platform's image with its base and
      // layers and their sizes), from what (model, base, git commit), and where it went
      // (layouts, tarballs, registry pushes). Linked to the registry version, as deployments are.
      async up(db: Kysely<unknown>) {
        const table = db.schema.createTable('image_builds');
        await (caps.serial === 'serial'
          ? table.addColumn('id', 'serial', (c) => c.primaryKey())
          : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        )
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('media_type', 'text', (c) => c.notNull())
          .addColumn('model_name', 'text', (c) => c.notNull())
          .addColumn('model_version', 'integer')
          .addColumn('model_version_id', 'integer', (c) => c.references('model_versions.id'))
          .addColumn('model_digest', 'text', (c) => c.notNull())
          .addColumn('base_ref', 'text', (c) => c.notNull())
          .addColumn('base_digest', 'text')
          .addColumn('platforms', caps.json, (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('tag', 'text')
          .addColumn('outputs', caps.json, (c) => c.notNull())
          .addColumn('git_commit', 'text')
          .addColumn('git_dirty', 'integer')
          .addColumn('image_created', 'text', (c) => c.notNull())
          .addColumn('properties', caps.json, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('image_builds_by_digest').on('image_builds').column('digest').execute();
        await db.schema
          .createIndex('image_builds_by_model')
          .on('image_builds')
          .columns(['model_name', 'model_version'])
          .execute();
      },
    },
    // The control plane (src/control, docs/control-plane.md): the run queue, API tokens,
    // webhook deliveries seen, and trigger state. Defined next to its row types.
    '0007_control_plane': controlPlaneMigration(caps),
  };
}

export function migrationProvider(caps: DdlCapabilities): MigrationProvider {
  return { getMigrations: async () => migrations(caps) };
}
