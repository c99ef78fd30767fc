/**
 * Lineage: where an artifact came from and what it went into, read from the events table.
 * Upstream follows, from an artifact digest, the newest stage execution that wrote it (an
 * `output` event) to what that execution read (its `input` events), and so on; downstream
 * follows the executions that read it to what they wrote. Plain Kysely queries over the
 * tables, the same on SQLite and PostgreSQL.
 */
import type { Kysely } from 'kysely';
import { parseObject } from './metadata-store.js';
import type { MetadataDatabase } from './schema.js';

type Db = Kysely<MetadataDatabase>;

/** A stage execution as lineage shows it. */
export interface LineageExecution {
  id: number;
  stage: string;
  /** The pipeline run it belonged to. */
  runId: number | null;
  status: string;
  startedAt: string;
  endedAt: string | null;
  gitCommit: string | null;
  gitDirty: boolean | null;
  params: Record<string, unknown>;
  /** For a `cached` execution: the execution whose outputs were restored. */
  restoredFrom?: number;
}

/** An artifact where an execution read or wrote it. */
export interface LineageArtifact {
  digest: string;
  path: string;
  type: string;
  size: number;
}

export interface UpstreamNode extends LineageArtifact {
  /**
   * The newest stage execution that wrote this digest (and how many others did), with what it
   * read; absent for data no recorded stage wrote (added with `ledge add`, or source code).
   */
  producedBy?: { execution: LineageExecution; others: number; inputs: UpstreamNode[] };
  /** Its producer is already shown elsewhere in the tree (a shared input, or a cycle). */
  repeated?: true;
  /** A stage wrote it, but the depth limit stopped the walk here. */
  truncated?: true;
}

export interface DownstreamConsumer {
  execution: LineageExecution;
  /** What it wrote (logs left out). Empty when `repeated`. */
  outputs: DownstreamNode[];
  /** The execution is already shown elsewhere in the tree. */
  repeated?: true;
}

export interface DownstreamNode extends LineageArtifact {
  /** The stage executions that read it, newest first. */
  consumers: DownstreamConsumer[];
  /** Its consumers are already shown elsewhere in the tree. */
  repeated?: true;
  /** Stages read it, but the depth limit stopped the walk here. */
  truncated?: true;
}

export interface Lineage {
  digest: string;
  path: string;
  upstream?: UpstreamNode;
  downstream?: DownstreamNode;
}

export interface LineageOptions {
  /** How many stage executions to follow in each direction (default 10). */
  depth?: number;
  upstream?: boolean;
  downstream?: boolean;
  /** How to name the artifact itself (default: the path it was last recorded at). */
  path?: string;
}

export const DEFAULT_LINEAGE_DEPTH = 10;

/** The stage executions with an event of `kind` on an artifact with this digest, newest first. */
async function executionsWith(db: Db, digest: string, kind: 'input' | 'output'): Promise<LineageExecution[]> {
  const rows = await db
    .selectFrom('events')
    .innerJoin('artifacts', 'artifacts.id', 'events.artifact_id')
    .innerJoin('executions', 'executions.id', 'events.execution_id')
    .select([
      'executions.id as id',
      'executions.name as name',
      'executions.parent_id as parent_id',
      'executions.status as status',
      'executions.started_at as started_at',
      'executions.ended_at as ended_at',
      'executions.git_commit as git_commit',
      'executions.git_dirty as git_dirty',
      'executions.params as params',
      'executions.properties as properties',
    ])
    .where('artifacts.digest', '=', digest)
    .where('events.kind', '=', kind)
    .where('executions.type', '=', 'stage')
    .orderBy('executions.id', 'desc')
    .execute();
  const seen = new Set<number>();
  const executions: LineageExecution[] = [];
  for (const row of rows) {
    // One execution may read or write the same content at two paths.
    if (seen.has(row.id)) continue;
    seen.add(row.id);
    const restoredFrom = parseObject(row.properties).restoredFrom;
    executions.push({
      id: row.id,
      stage: row.name,
      runId: row.parent_id,
      status: row.status,
      startedAt: row.started_at,
      endedAt: row.ended_at,
      gitCommit: row.git_commit,
      gitDirty: row.git_dirty === null ? null : Boolean(row.git_dirty),
      params: parseObject(row.params),
      ...(typeof restoredFrom === 'number' ? { restoredFrom } : {}),
    });
  }
  return executions;
}

/** What an execution read (`input`) or wrote (`output`, logs left out), by path. */
async function artifactsOf(
  db: Db,
  executionId: number,
  kind: 'input' | 'output',
): Promise<LineageArtifact[]> {
  let query = db
    .selectFrom('events')
    .innerJoin('artifacts', 'artifacts.id', 'events.artifact_id')
    .select([
      'artifacts.digest as digest',
      'events.path as path',
      'artifacts.type as type',
      'artifacts.size as size',
    ])
    .where('events.execution_id', '=', executionId)
    .where('events.kind', '=', kind);
  if (kind === 'output') query = query.where('artifacts.type', '<>', 'log');
  const rows = await query.orderBy('events.path').execute();
  return rows.map((row) => ({ ...row, size: Number(row.size) }));
}

/**
 * The artifact with this digest as last recorded by an execution (its newest event), or
 * undefined when no execution read or wrote it.
 */
export async function recordedArtifact(db: Db, digest: string): Promise<LineageArtifact | undefined> {
  const row = await db
    .selectFrom('events')
    .innerJoin('artifacts', 'artifacts.id', 'events.artifact_id')
    .select([
      'artifacts.digest as digest',
      'events.path as path',
      'artifacts.type as type',
      'artifacts.size as size',
    ])
    .where('artifacts.digest', '=', digest)
    .orderBy('events.execution_id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && { ...row, size: Number(row.size) };
}

async function upstream(db: Db, root: LineageArtifact, depth: number): Promise<UpstreamNode> {
  const expanded = new Set<string>();
  const walk = async (artifact: LineageArtifact, level: number): Promise<UpstreamNode> => {
    const node: UpstreamNode = { ...artifact };
    if (expanded.has(artifact.digest)) {
      node.repeated = true;
      return node;
    }
    const [newest, ...others] = await executionsWith(db, artifact.digest, 'output');
    if (!newest) return node;
    if (level >= depth) {
      node.truncated = true;
      return node;
    }
    expanded.add(artifact.digest);
    const inputs: UpstreamNode[] = [];
    for (const input of await artifactsOf(db, newest.id, 'input')) inputs.push(await walk(input, level + 1));
    node.producedBy = { execution: newest, others: others.length, inputs };
    return node;
  };
  return walk(root, 0);
}

async function downstream(db: Db, root: LineageArtifact, depth: number): Promise<DownstreamNode> {
  const expanded = new Set<string>();
  const shown = new Set<number>();
  const walk = async (artifact: LineageArtifact, level: number): Promise<DownstreamNode> => {
    const node: DownstreamNode = { ...artifact, consumers: [] };
    if (expanded.has(artifact.digest)) {
      node.repeated = true;
      return node;
    }
    const consumers = await executionsWith(db, artifact.digest, 'input');
    if (consumers.length === 0) return node;
    if (level >= depth) {
      node.truncated = true;
      return node;
    }
    expanded.add(artifact.digest);
    for (const execution of consumers) {
      if (shown.has(execution.id)) {
        node.consumers.push({ execution, outputs: [], repeated: true });
        continue;
      }
      shown.add(execution.id);
      const outputs: DownstreamNode[] = [];
      for (const output of await artifactsOf(db, execution.id, 'output'))
        outputs.push(await walk(output, level + 1));
      node.consumers.push({ execution, outputs });
    }
    return node;
  };
  return walk(root, 0);
}

/**
 * The lineage of the artifact with this digest, or undefined when no execution read or wrote
 * it. Each direction is a tree; an artifact's producer (or consumers) appear once, later
 * occurrences are marked `repeated`, so cycles and shared inputs end.
 */
export async function lineageOf(
  db: Db,
  digest: string,
  options: LineageOptions = {},
): Promise<Lineage | undefined> {
  const recorded = await recordedArtifact(db, digest);
  if (!recorded) return undefined;
  const depth = options.depth ?? DEFAULT_LINEAGE_DEPTH;
  const root = { ...recorded, path: options.path ?? recorded.path };
  const lineage: Lineage = { digest, path: root.path };
  if (options.upstream !== false) lineage.upstream = await upstream(db, root, depth);
  if (options.downstream !== false) lineage.downstream = await downstream(db, root, depth);
  return lineage;
}
