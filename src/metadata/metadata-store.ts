/**
 * The metadata store: one schema and one query layer (Kysely) over SQLite (embedded default,
 * `.ledge/state/metadata.db`) and PostgreSQL (`LEDGE_DB_URL` or config). Opening it applies
 * pending migrations.
 */
import os from 'node:os';
import { type Kysely, Migrator, type RawBuilder, sql } from 'kysely';
import { LedgeError } from '../core/errors.js';
import { acquireLock } from '../core/lock.js';
import { type DdlCapabilities, migrationProvider } from './migrations.js';
import type { MetadataDatabase } from './schema.js';
import type { WhereExpr } from './where-expression.js';

export interface ExecutionStart {
  type: 'run' | 'stage';
  name: string;
  parentId?: number | undefined;
  cause: string;
  gitCommit?: string | undefined;
  gitDirty?: boolean | undefined;
  ledgeVersion: string;
  params?: Record<string, unknown>;
  /** Run-cache key (stage executions). */
  cacheKey?: string | undefined;
  /** `host:/path` of the workspace. */
  workspace?: string | undefined;
  properties?: Record<string, unknown>;
}

export interface ExecutionEnd {
  status: 'succeeded' | 'failed' | 'interrupted' | 'cached' | 'gated';
  exitCode?: number | undefined;
  metrics?: Record<string, unknown>;
  logDigest?: string | undefined;
  /** Merged into the properties given at the start. */
  properties?: Record<string, unknown>;
}

/** An output a stage execution recorded: where it wrote what. */
export interface RecordedOutput {
  path: string;
  digest: string;
  type: string;
  size: number;
  properties: Record<string, unknown>;
}

export interface ArtifactInput {
  digest: string;
  type: string;
  uri: string;
  size: number;
  properties?: Record<string, unknown>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A JSON object column's value (an empty object for anything else). */
export function parseObject(text: string | null | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** Shows a database URL without its password. */
export function redactDbUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

export class MetadataStore {
  readonly db: Kysely<MetadataDatabase>;
  /** Where it is, for messages (no password). */
  readonly location: string;

  private readonly caps: DdlCapabilities;

  private constructor(db: Kysely<MetadataDatabase>, location: string, caps: DdlCapabilities) {
    this.db = db;
    this.location = location;
    this.caps = caps;
  }

  /** Opens `postgres://…` / `postgresql://…`, or a SQLite file path; migrates it. */
  static async open(target: string): Promise<MetadataStore> {
    const isPostgres = /^postgres(ql)?:\/\//.test(target);
    const location = isPostgres ? redactDbUrl(target) : target;
    let db: Kysely<MetadataDatabase>;
    let caps: DdlCapabilities;
    if (isPostgres) {
      const dialect = await import('./dialect/postgres-dialect.js');
      db = dialect.openPostgres(target);
      caps = dialect.postgresCapabilities;
    } else {
      const dialect = await import('./dialect/sqlite-dialect.js');
      db = dialect.openSqlite(target);
      caps = dialect.sqliteCapabilities;
    }
    const store = new MetadataStore(db, location, caps);
    // PostgreSQL serialises migrators with an advisory lock; for a SQLite file, a lock file
    // does it across connections and processes.
    const lock = isPostgres
      ? undefined
      : await acquireLock(`${target}.migrate-lock`, { command: 'metadata migration', timeoutMs: 60_000 });
    try {
      const { error } = await new Migrator({ db, provider: migrationProvider(caps) }).migrateToLatest();
      if (error) throw error;
    } catch (error) {
      await db.destroy();
      const reason = error instanceof Error ? error.message : String(error);
      throw new LedgeError('config', `metadata database ${location} cannot be opened: ${reason}`, {
        hint: isPostgres
          ? 'check LEDGE_DB_URL and that the server is running and reachable'
          : 'check the path',
        cause: error,
      });
    } finally {
      lock?.release();
    }
    // Executions whose process was killed on this host are not "running" any more.
    await store.interruptAbandoned();
    return store;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** Records an artifact once per (digest, uri); returns its id. */
  async putArtifact(artifact: ArtifactInput): Promise<number> {
    const existing = await this.db
      .selectFrom('artifacts')
      .select('id')
      .where('digest', '=', artifact.digest)
      .where('uri', '=', artifact.uri)
      .executeTakeFirst();
    if (existing) return existing.id;
    const inserted = await this.db
      .insertInto('artifacts')
      .values({
        digest: artifact.digest,
        type: artifact.type,
        uri: artifact.uri,
        size: artifact.size,
        created_at: new Date().toISOString(),
        properties: JSON.stringify(artifact.properties ?? {}),
      })
      .onConflict((oc) => oc.columns(['digest', 'uri']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) return inserted.id;
    // Another writer inserted it between our select and insert.
    return (
      await this.db
        .selectFrom('artifacts')
        .select('id')
        .where('digest', '=', artifact.digest)
        .where('uri', '=', artifact.uri)
        .executeTakeFirstOrThrow()
    ).id;
  }

  async startExecution(start: ExecutionStart): Promise<number> {
    const row = await this.db
      .insertInto('executions')
      .values({
        type: start.type,
        name: start.name,
        parent_id: start.parentId ?? null,
        status: 'running',
        exit_code: null,
        cause: start.cause,
        started_at: new Date().toISOString(),
        ended_at: null,
        git_commit: start.gitCommit ?? null,
        git_dirty: start.gitDirty === undefined ? null : Number(start.gitDirty),
        user_name: os.userInfo().username,
        host: os.hostname(),
        platform: `${process.platform}/${process.arch}`,
        node_version: process.version,
        ledge_version: start.ledgeVersion,
        params: JSON.stringify(start.params ?? {}),
        metrics: '{}',
        log_digest: null,
        cache_key: start.cacheKey ?? null,
        pid: process.pid,
        workspace: start.workspace ?? null,
        properties: JSON.stringify(start.properties ?? {}),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async finishExecution(id: number, end: ExecutionEnd): Promise<void> {
    let properties: string | undefined;
    if (end.properties) {
      const row = await this.db
        .selectFrom('executions')
        .select('properties')
        .where('id', '=', id)
        .executeTakeFirst();
      properties = JSON.stringify({ ...parseObject(row?.properties), ...end.properties });
    }
    await this.db
      .updateTable('executions')
      .set({
        status: end.status,
        exit_code: end.exitCode ?? null,
        ended_at: new Date().toISOString(),
        metrics: JSON.stringify(end.metrics ?? {}),
        log_digest: end.logDigest ?? null,
        ...(properties === undefined ? {} : { properties }),
      })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Marks executions left `running` on this host by processes that no longer exist (a killed
   * `ledge run`) as interrupted; returns how many.
   */
  async interruptAbandoned(isAlive: (pid: number) => boolean = processAlive): Promise<number> {
    const rows = await this.db
      .selectFrom('executions')
      .select(['id', 'pid'])
      .where('status', '=', 'running')
      .where('host', '=', os.hostname())
      .execute();
    const dead = rows.filter((row) => row.pid !== null && row.pid !== process.pid && !isAlive(row.pid));
    if (dead.length === 0) return 0;
    await this.db
      .updateTable('executions')
      .set({ status: 'interrupted', ended_at: new Date().toISOString() })
      .where(
        'id',
        'in',
        dead.map((row) => row.id),
      )
      .where('status', '=', 'running')
      .execute();
    return dead.length;
  }

  /** The newest succeeded stage executions with this run-cache key, newest first. */
  async executionsWithCacheKey(
    cacheKey: string,
    limit = 5,
  ): Promise<{ id: number; workspace: string | null }[]> {
    return this.db
      .selectFrom('executions')
      .select(['id', 'workspace'])
      .where('cache_key', '=', cacheKey)
      .where('status', '=', 'succeeded')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  }

  /** The artifacts an execution read or wrote, by path. */
  async eventsOf(
    executionIds: number[],
    kind?: 'input' | 'output',
  ): Promise<(RecordedOutput & { executionId: number; kind: string })[]> {
    if (executionIds.length === 0) return [];
    let query = this.db
      .selectFrom('events')
      .innerJoin('artifacts', 'artifacts.id', 'events.artifact_id')
      .select([
        'events.execution_id as executionId',
        'events.kind as kind',
        'events.path as path',
        'artifacts.digest as digest',
        'artifacts.type as type',
        'artifacts.size as size',
        'artifacts.properties as properties',
      ])
      .where('events.execution_id', 'in', executionIds);
    if (kind) query = query.where('events.kind', '=', kind);
    const rows = await query
      .orderBy('events.execution_id')
      .orderBy('events.kind')
      .orderBy('events.path')
      .execute();
    return rows.map((row) => ({ ...row, size: Number(row.size), properties: parseObject(row.properties) }));
  }

  /** The digests of every recorded stage log (kept by `ledge gc`). */
  async logDigests(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('executions')
      .select('log_digest')
      .distinct()
      .where('log_digest', 'is not', null)
      .execute();
    return rows.map((row) => row.log_digest!);
  }

  /** A context (pipeline, experiment…) by type and name, created on first use; returns its id. */
  async putContext(type: string, name: string): Promise<number> {
    await this.db
      .insertInto('contexts')
      .values({ type, name, created_at: new Date().toISOString() })
      .onConflict((oc) => oc.columns(['type', 'name']).doNothing())
      .execute();
    const row = await this.db
      .selectFrom('contexts')
      .select('id')
      .where('type', '=', type)
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** Puts an execution into a context. */
  async associate(contextId: number, executionId: number): Promise<void> {
    await this.db
      .insertInto('associations')
      .values({ context_id: contextId, execution_id: executionId })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /** Puts an artifact into a context. */
  async attribute(contextId: number, artifactId: number): Promise<void> {
    await this.db
      .insertInto('attributions')
      .values({ context_id: contextId, artifact_id: artifactId })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /** Links an artifact to an execution as one of its inputs or outputs. */
  async addEvent(
    executionId: number,
    artifactId: number,
    kind: 'input' | 'output',
    path: string,
  ): Promise<void> {
    await this.db
      .insertInto('events')
      .values({ execution_id: executionId, artifact_id: artifactId, kind, path })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /**
   * Executions, newest first, filtered by a `--where` expression (see where-expression.ts).
   * Comparisons with a number compare numerically; others compare text.
   */
  async listExecutions(options: { type?: 'run' | 'stage'; where?: WhereExpr; limit?: number } = {}) {
    let query = this.db.selectFrom('executions').selectAll().orderBy('id', 'desc');
    if (options.type) query = query.where('type', '=', options.type);
    if (options.where) {
      const where = options.where;
      query = query.where(() => this.condition(where));
    }
    if (options.limit !== undefined) query = query.limit(options.limit);
    return query.execute();
  }

  private condition(expr: WhereExpr): RawBuilder<boolean> {
    switch (expr.kind) {
      case 'and':
        return sql<boolean>`(${this.condition(expr.left)} and ${this.condition(expr.right)})`;
      case 'or':
        return sql<boolean>`(${this.condition(expr.left)} or ${this.condition(expr.right)})`;
      case 'not':
        return sql<boolean>`(not coalesce(${this.condition(expr.operand)}, false))`;
      case 'compare': {
        const numeric = typeof expr.value === 'number' && expr.op !== '~';
        const left =
          expr.field.kind === 'json'
            ? numeric
              ? this.caps.jsonNumber(`executions.${expr.field.column}`, expr.field.path)
              : this.caps.jsonText(`executions.${expr.field.column}`, expr.field.path)
            : sql`${sql.ref(`executions.${expr.field.column}`)}`;
        const value = numeric ? expr.value : String(expr.value);
        const op = expr.op === '~' ? sql.raw('like') : sql.raw(expr.op === '!=' ? '<>' : expr.op);
        return sql<boolean>`(${left} ${op} ${value})`;
      }
    }
  }

  /** Executions that wrote (`output`) or read (`input`) an artifact with this digest. */
  async executionsTouching(
    digest: string,
    kind: 'input' | 'output',
  ): Promise<{ id: number; name: string }[]> {
    return this.db
      .selectFrom('events')
      .innerJoin('artifacts', 'artifacts.id', 'events.artifact_id')
      .innerJoin('executions', 'executions.id', 'events.execution_id')
      .select(['executions.id as id', 'executions.name as name'])
      .where('artifacts.digest', '=', digest)
      .where('events.kind', '=', kind)
      .orderBy('executions.id')
      .execute();
  }
}
