/**
 * Recorded runs read back for people: two executions compared (params, metrics, artifact
 * digests), and the logs of a stage or of every stage of a run.
 */
import type { Digest } from '../core/digest.js';
import { LedgeError } from '../core/errors.js';
import {
  type ExecutionRow,
  getExecution,
  stageExecutionsOf,
  stageStateAtRun,
} from '../metadata/execution-queries.js';
import { type MetadataStore, parseObject } from '../metadata/metadata-store.js';
import type { ObjectCache } from '../store/object-cache.js';
import { type DiffRow, diffFlat, type FlatValues, flatten } from './metrics.js';

/** Which execution a comparison or log is about. */
export interface ExecutionRef {
  id: number;
  type: string;
  name: string;
  status: string;
  startedAt: string;
  gitCommit: string | null;
}

/** An artifact compared by path (`stage:path` for runs): `old` and `new` are digests. */
export interface ArtifactDiffRow extends Omit<DiffRow, 'key' | 'delta'> {
  kind: 'input' | 'output';
  path: string;
}

export interface ExecutionDiff {
  a: ExecutionRef;
  b: ExecutionRef;
  params: DiffRow[];
  metrics: DiffRow[];
  artifacts: ArtifactDiffRow[];
}

function refOf(row: ExecutionRow): ExecutionRef {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    status: row.status,
    startedAt: row.started_at,
    gitCommit: row.git_commit,
  };
}

/**
 * Digests by path, inputs and outputs apart. A run's are those of every pipeline stage as it
 * stood at the run (stages it did not execute were up to date: their last execution before it
 * counts), keyed `stage:path`. Logs are left out (they differ on every run; `ledge runs log`
 * shows them).
 */
async function artifactDigests(
  metadata: MetadataStore,
  row: ExecutionRow,
): Promise<Record<'input' | 'output', FlatValues>> {
  const pipelineStages = parseObject(row.properties).stages;
  const stages =
    row.type === 'run'
      ? await stageStateAtRun(
          metadata.db,
          row,
          Array.isArray(pipelineStages)
            ? pipelineStages.filter((s): s is string => typeof s === 'string')
            : [],
        )
      : [row];
  const stageNames = new Map(stages.map((stage) => [stage.id, stage.name]));
  const digests: Record<'input' | 'output', FlatValues> = { input: {}, output: {} };
  for (const event of await metadata.eventsOf(stages.map((stage) => stage.id))) {
    if (event.type === 'log' || (event.kind !== 'input' && event.kind !== 'output')) continue;
    const key = row.type === 'run' ? `${stageNames.get(event.executionId)}:${event.path}` : event.path;
    digests[event.kind][key] = event.digest;
  }
  return digests;
}

/** Compares two recorded executions (runs or stage executions) by id. */
export async function diffExecutions(
  metadata: MetadataStore,
  idA: number,
  idB: number,
  options: { all?: boolean } = {},
): Promise<ExecutionDiff> {
  const [a, b] = [await getExecution(metadata.db, idA), await getExecution(metadata.db, idB)];
  const [artifactsA, artifactsB] = [await artifactDigests(metadata, a), await artifactDigests(metadata, b)];
  const values = (row: ExecutionRow, column: 'params' | 'metrics') => flatten(parseObject(row[column]));
  return {
    a: refOf(a),
    b: refOf(b),
    params: diffFlat(values(a, 'params'), values(b, 'params'), options),
    metrics: diffFlat(values(a, 'metrics'), values(b, 'metrics'), options),
    artifacts: (['input', 'output'] as const).flatMap((kind) =>
      diffFlat(artifactsA[kind], artifactsB[kind], options).map(({ key, ...row }) => ({
        kind,
        path: key,
        ...row,
      })),
    ),
  };
}

/** A stage execution's log: its bytes, or undefined when none was recorded. */
export interface StageLog extends ExecutionRef {
  digest: string | null;
  /** Set when the log is that of the execution a cached one was restored from. */
  restoredFrom?: number;
  content: Buffer | undefined;
}

/**
 * The log of a stage execution, or the logs of a run's stage executions in the order they
 * started. A cached execution without a log of its own shows the log of the execution it was
 * restored from. A log recorded but missing from the cache is an error naming it.
 */
export async function executionLogs(
  metadata: MetadataStore,
  cache: ObjectCache,
  id: number,
): Promise<{ execution: ExecutionRef; logs: StageLog[] }> {
  const row = await getExecution(metadata.db, id);
  const stages = row.type === 'run' ? await stageExecutionsOf(metadata.db, row.id) : [row];
  const logs: StageLog[] = [];
  for (const stage of stages) {
    let digest = stage.log_digest;
    const restoredFrom = parseObject(stage.properties).restoredFrom;
    let origin: number | undefined;
    if (digest === null && typeof restoredFrom === 'number') {
      const source = await metadata.db
        .selectFrom('executions')
        .select('log_digest')
        .where('id', '=', restoredFrom)
        .executeTakeFirst();
      if (source?.log_digest) {
        digest = source.log_digest;
        origin = restoredFrom;
      }
    }
    if (digest !== null && !cache.has(digest as Digest)) {
      throw new LedgeError(
        'missing-object',
        `the log of stage execution ${stage.id} (${stage.name}) is not in the cache: ${digest}`,
        { hint: 'it was recorded in another workspace, or `ledge gc` removed it' },
      );
    }
    logs.push({
      ...refOf(stage),
      digest,
      ...(origin === undefined ? {} : { restoredFrom: origin }),
      content: digest === null ? undefined : cache.readBuffer(digest as Digest),
    });
  }
  return { execution: refOf(row), logs };
}
