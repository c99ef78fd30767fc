/**
 * What the dashboard reads from the metadata store, shaped for the API (api-types.ts). Kysely
 * only, so the same queries run on SQLite and PostgreSQL. Logs are content-store objects: the
 * caller passes `readLog` (the dashboard itself never opens the store).
 */
import { type ExecutionRow, stageExecutionsOf } from '../metadata/execution-queries.js';
import { type MetadataStore, parseObject } from '../metadata/metadata-store.js';
import { listModels, modelVersions } from '../metadata/model-registry.js';
import { MonitoringRecords } from '../metadata/monitoring-records.js';
import type { WhereExpr } from '../metadata/where-expression.js';
import type {
  ModelInfo,
  MonitoringHistory,
  MonitoringWindow,
  RunArtifact,
  RunDetail,
  RunLog,
  RunSummary,
  ServingEvent,
} from './api-types.js';
import { readDrift, readHistogram } from './monitoring-snapshot.js';

/** Reads a log object's text by digest; undefined when the cache does not hold it. */
export type ReadLog = (digest: string) => string | undefined;

/** The end of a log longer than this is shown, not the whole of it. */
export const MAX_LOG_CHARS = 512 * 1024;

function summaryOf(row: ExecutionRow): RunSummary {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    parentId: row.parent_id,
    status: row.status,
    cause: row.cause,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    gitCommit: row.git_commit,
    params: parseObject(row.params),
    metrics: parseObject(row.metrics),
  };
}

/** Runs and stage executions, newest first, filtered by a `--where` expression. */
export async function listRuns(
  metadata: MetadataStore,
  options: { where?: WhereExpr | undefined; type?: 'run' | 'stage' | undefined; limit: number },
): Promise<RunSummary[]> {
  const rows = await metadata.listExecutions(options);
  return rows.map(summaryOf);
}

/** The run or stage execution with this id, if there is one. */
function findExecution(metadata: MetadataStore, id: number): Promise<ExecutionRow | undefined> {
  return metadata.db.selectFrom('executions').selectAll().where('id', '=', id).executeTakeFirst();
}

/** One run or stage execution: environment, params, metrics, stages, inputs and outputs. */
export async function runDetail(metadata: MetadataStore, id: number): Promise<RunDetail | undefined> {
  const row = await findExecution(metadata, id);
  if (!row) return undefined;
  const stages = row.type === 'run' ? await stageExecutionsOf(metadata.db, row.id) : [];
  const names = new Map([row, ...stages].map((e) => [e.id, e.name]));
  const events = await metadata.eventsOf([row.id, ...stages.map((s) => s.id)]);
  const artifacts: RunArtifact[] = events.map((event) => ({
    kind: event.kind,
    path: event.path,
    executionId: event.executionId,
    stage: names.get(event.executionId) ?? '',
    digest: event.digest,
    type: event.type,
    size: event.size,
  }));
  return {
    ...summaryOf(row),
    exitCode: row.exit_code,
    environment: {
      user: row.user_name,
      host: row.host,
      platform: row.platform,
      nodeVersion: row.node_version,
      ledgeVersion: row.ledge_version,
      gitCommit: row.git_commit,
      gitDirty: row.git_dirty === null ? null : Boolean(row.git_dirty),
      workspace: row.workspace,
    },
    properties: parseObject(row.properties),
    stages: stages.map((stage) => ({ ...summaryOf(stage), exitCode: stage.exit_code })),
    artifacts,
  };
}

/**
 * The log of a stage execution, or those of a run's stages in the order they started. A
 * cached execution shows the log of the execution it was restored from.
 */
export async function runLogs(
  metadata: MetadataStore,
  id: number,
  readLog: ReadLog | undefined,
): Promise<RunLog[] | undefined> {
  const row = await findExecution(metadata, id);
  if (!row) return undefined;
  const stages = row.type === 'run' ? await stageExecutionsOf(metadata.db, row.id) : [row];
  const logs: RunLog[] = [];
  for (const stage of stages) {
    let digest = stage.log_digest;
    let restoredFrom: number | null = null;
    const origin = parseObject(stage.properties).restoredFrom;
    if (digest === null && typeof origin === 'number') {
      const source = await metadata.db
        .selectFrom('executions')
        .select('log_digest')
        .where('id', '=', origin)
        .executeTakeFirst();
      if (source?.log_digest) {
        digest = source.log_digest;
        restoredFrom = origin;
      }
    }
    let text: string | null = null;
    let missing: string | null = null;
    if (digest === null) missing = stage.status === 'running' ? 'still running' : 'no log recorded';
    else if (!readLog) missing = 'logs are not available here';
    else {
      text = readLog(digest) ?? null;
      if (text === null) missing = `not in this workspace's cache (${digest})`;
    }
    const truncated = text !== null && text.length > MAX_LOG_CHARS;
    logs.push({
      id: stage.id,
      name: stage.name,
      status: stage.status,
      digest,
      restoredFrom,
      text: truncated ? text!.slice(-MAX_LOG_CHARS) : text,
      missing,
      truncated,
    });
  }
  return logs;
}

/** Every model with its aliases and versions (newest first), by name. */
export async function listModelInfo(metadata: MetadataStore): Promise<ModelInfo[]> {
  const models = await listModels(metadata.db);
  const found: ModelInfo[] = [];
  for (const model of models) {
    const versions = await modelVersions(metadata.db, model.name);
    found.push({ name: model.name, aliases: model.aliases, versions: versions.reverse() });
  }
  return found;
}

/**
 * Recorded monitoring windows (oldest first) and serving events (newest first), optionally
 * for one server or model (tables of migration 0004, read through MonitoringRecords).
 */
export async function monitoringHistory(
  metadata: MetadataStore,
  options: { server?: string | undefined; model?: string | undefined; limit: number },
): Promise<MonitoringHistory> {
  const records = new MonitoringRecords(metadata.db);
  const query = { server: options.server, model: options.model, limit: options.limit };
  const [windows, events] = await Promise.all([records.windows(query), records.events(query)]);
  return {
    windows: windows.map(
      (w): MonitoringWindow => ({
        id: w.id,
        server: w.server,
        model: w.model,
        version: w.version,
        startedAt: w.startedAt,
        endedAt: w.endedAt,
        requests: w.requests,
        errors: w.errors,
        throughput: w.throughput,
        p50Ms: w.p50Ms,
        p95Ms: w.p95Ms,
        p99Ms: w.p99Ms,
        liveAccuracy: w.liveAccuracy,
        labelled: w.labelled,
        scores: readHistogram(w.scores),
        drift: readDrift(w.drift),
      }),
    ),
    events: events.map(
      (e): ServingEvent => ({
        id: e.id,
        at: e.at,
        server: e.server,
        kind: e.kind,
        model: e.model,
        version: e.version,
        message: e.message,
        properties: e.properties,
      }),
    ),
  };
}
