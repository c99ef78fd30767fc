/**
 * Monitoring history in the metadata store: window summaries (`monitoring_windows`) and serving
 * events (`serving_events`) from inference servers, written through the runtime's
 * `MonitoringSink` interface (src/runtime/monitoring/monitoring-sink.ts; the runtime cannot
 * import metadata, so the shapes are restated here and the compiler checks they match where
 * the two meet), and read back for the dashboard. Kysely only: the same queries on SQLite and
 * PostgreSQL. Writes reject on database errors; the monitor calling them logs and goes on.
 */
import type { Kysely, Selectable } from 'kysely';
import { parseObject } from './metadata-store.js';
import type { MetadataDatabase, MonitoringWindowTable, ServingEventTable } from './schema.js';

type Db = Kysely<MetadataDatabase>;

/** A window summary as the monitor sends it (the runtime's `WindowSummary`). */
export interface MonitoringWindowInput {
  server: string;
  model: string;
  version: string;
  startedAt: string;
  endedAt: string;
  requests: number;
  errors: number;
  throughput: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  liveAccuracy: number | null;
  labelled: number;
  scores: { edges: number[]; counts: number[] };
  drift: unknown;
}

/** A serving event as the monitor sends it (the runtime's `ServingEventRecord`). */
export interface ServingEventInput {
  at: string;
  server: string;
  kind: string;
  model: string | null;
  version: string | null;
  message: string;
  properties: Record<string, unknown>;
}

export interface MonitoringWindow extends Omit<MonitoringWindowInput, 'drift'> {
  id: number;
  drift: Record<string, unknown> | null;
}

export interface StoredServingEvent extends ServingEventInput {
  id: number;
}

export interface WindowQuery {
  server?: string | undefined;
  model?: string | undefined;
  version?: string | undefined;
  /** ISO time: windows that started at or after it. */
  since?: string | undefined;
  /** ISO time: windows that started before it. */
  until?: string | undefined;
  /** The newest N (default 1,000), returned oldest first. */
  limit?: number | undefined;
}

export interface EventQuery {
  server?: string | undefined;
  model?: string | undefined;
  kinds?: string[] | undefined;
  since?: string | undefined;
  /** The newest N (default 1,000), returned newest first. */
  limit?: number | undefined;
}

/** A finite number for a NOT NULL numeric column (NaN and ±Infinity do not survive JSON or SQL). */
const finite = (n: number) => (Number.isFinite(n) ? n : 0);
const finiteOrNull = (n: number | null) => (n !== null && Number.isFinite(n) ? n : null);

function parseScores(text: string): { edges: number[]; counts: number[] } {
  const value = parseObject(text);
  return {
    edges: Array.isArray(value.edges) ? (value.edges as number[]) : [],
    counts: Array.isArray(value.counts) ? (value.counts as number[]) : [],
  };
}

function windowOf(row: Selectable<MonitoringWindowTable>): MonitoringWindow {
  return {
    id: Number(row.id),
    server: row.server,
    model: row.model,
    version: row.version,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    requests: Number(row.requests),
    errors: Number(row.errors),
    throughput: Number(row.throughput),
    p50Ms: row.p50_ms === null ? null : Number(row.p50_ms),
    p95Ms: row.p95_ms === null ? null : Number(row.p95_ms),
    p99Ms: row.p99_ms === null ? null : Number(row.p99_ms),
    liveAccuracy: row.live_accuracy === null ? null : Number(row.live_accuracy),
    labelled: Number(row.labelled),
    scores: parseScores(row.scores),
    drift: row.drift === null ? null : parseObject(row.drift),
  };
}

function eventOf(row: Selectable<ServingEventTable>): StoredServingEvent {
  return {
    id: Number(row.id),
    at: row.at,
    server: row.server,
    kind: row.kind,
    model: row.model,
    version: row.version,
    message: row.message,
    properties: parseObject(row.properties),
  };
}

export class MonitoringRecords {
  constructor(private readonly db: Db) {}

  async recordWindow(summary: MonitoringWindowInput): Promise<void> {
    await this.db
      .insertInto('monitoring_windows')
      .values({
        server: summary.server,
        model: summary.model,
        version: summary.version,
        started_at: summary.startedAt,
        ended_at: summary.endedAt,
        requests: Math.round(finite(summary.requests)),
        errors: Math.round(finite(summary.errors)),
        throughput: finite(summary.throughput),
        p50_ms: finiteOrNull(summary.p50Ms),
        p95_ms: finiteOrNull(summary.p95Ms),
        p99_ms: finiteOrNull(summary.p99Ms),
        live_accuracy: finiteOrNull(summary.liveAccuracy),
        labelled: Math.round(finite(summary.labelled)),
        scores: JSON.stringify({ edges: summary.scores.edges, counts: summary.scores.counts }),
        drift: summary.drift === null || summary.drift === undefined ? null : JSON.stringify(summary.drift),
      })
      .execute();
  }

  async recordEvent(event: ServingEventInput): Promise<void> {
    await this.db
      .insertInto('serving_events')
      .values({
        at: event.at,
        server: event.server,
        kind: event.kind,
        model: event.model,
        version: event.version,
        message: event.message,
        properties: JSON.stringify(event.properties ?? {}),
      })
      .execute();
  }

  /** Windows, oldest first (the newest `limit` of those matching). */
  async windows(query: WindowQuery = {}): Promise<MonitoringWindow[]> {
    let select = this.db.selectFrom('monitoring_windows').selectAll();
    if (query.server !== undefined) select = select.where('server', '=', query.server);
    if (query.model !== undefined) select = select.where('model', '=', query.model);
    if (query.version !== undefined) select = select.where('version', '=', query.version);
    if (query.since !== undefined) select = select.where('started_at', '>=', query.since);
    if (query.until !== undefined) select = select.where('started_at', '<', query.until);
    const rows = await select
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit ?? 1000)
      .execute();
    return rows.reverse().map(windowOf);
  }

  /** Serving events, newest first. */
  async events(query: EventQuery = {}): Promise<StoredServingEvent[]> {
    let select = this.db.selectFrom('serving_events').selectAll();
    if (query.server !== undefined) select = select.where('server', '=', query.server);
    if (query.model !== undefined) select = select.where('model', '=', query.model);
    if (query.kinds !== undefined && query.kinds.length > 0) select = select.where('kind', 'in', query.kinds);
    if (query.since !== undefined) select = select.where('at', '>=', query.since);
    const rows = await select
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit ?? 1000)
      .execute();
    return rows.map(eventOf);
  }

  /** Deletes windows that ended and events that happened before `before` (ISO); returns the counts. */
  async prune(before: string): Promise<{ windows: number; events: number }> {
    const windows = await this.db
      .deleteFrom('monitoring_windows')
      .where('ended_at', '<', before)
      .executeTakeFirst();
    const events = await this.db.deleteFrom('serving_events').where('at', '<', before).executeTakeFirst();
    return { windows: Number(windows.numDeletedRows), events: Number(events.numDeletedRows) };
  }
}
