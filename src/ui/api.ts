/**
 * The dashboard's JSON API (`/api/…`) over the metadata store and the running servers. Read
 * only. What needs more than the metadata store comes in as functions (`readLog` reads the
 * content store, `diffRuns` is the pipeline's comparison), so this component imports neither.
 *
 *     GET /api/info                          version, database, servers
 *     GET /api/runs?where=&type=&limit=      runs and stage executions, newest first
 *     GET /api/runs/:id                      one, with environment, stages and artifacts
 *     GET /api/runs/:id/logs                 its log, or the logs of a run's stages
 *     GET /api/compare?a=&b=[&all=1]         two runs compared (params, metrics, digests)
 *     GET /api/models                        models with aliases and versions
 *     GET /api/deployments?target=&status=&limit=   deployments, newest first, each with its chain
 *     GET /api/deployments/refused?limit=    pipeline runs whose model the quality gate refused
 *     GET /api/deployments/:id               one, with the whole chain: cause → control run →
 *                                            pipeline run → producing stage → model version →
 *                                            deployment, its gate verdict and rollout steps
 *     GET /api/monitoring/live               each --server's /v1/monitoring, or its error
 *     GET /api/monitoring/history?server=&model=&limit=   recorded windows and events
 */
import { Hono } from 'hono';
import { LedgeError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { DEPLOYMENT_STATUSES, type DeploymentStatus } from '../metadata/deployments.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { parseWhere } from '../metadata/where-expression.js';
import type { ApiError, RunDiff, UiInfo } from './api-types.js';
import {
  listModelInfo,
  listRuns,
  monitoringHistory,
  type ReadLog,
  runDetail,
  runLogs,
} from './dashboard-queries.js';
import { deploymentDetail, listDeploymentInfo, listGateRefusals } from './deployment-queries.js';
import { type FetchFunction, fetchLiveServers } from './live-monitoring.js';

/** Compares two recorded executions by id, as `ledge runs diff --json` does. */
export type DiffRuns = (a: number, b: number, options: { all: boolean }) => Promise<RunDiff>;

export interface DashboardServices {
  metadata: MetadataStore;
  /** A log object's text by digest (undefined when the cache lacks it); without it, no logs. */
  readLog?: ReadLog | undefined;
  /** Without it, comparing answers 501. */
  diffRuns?: DiffRuns | undefined;
  /** Running servers to watch (normalised URLs, see normalizeServerUrl). */
  servers?: readonly string[] | undefined;
  /** How long to wait for a server's snapshot (default 1500 ms). */
  liveTimeoutMs?: number | undefined;
  /** Seconds between the browser's live refreshes (default 1.5). */
  refreshSeconds?: number | undefined;
  /** For tests: how the servers are asked. */
  fetch?: FetchFunction | undefined;
  /**
   * A control server serves this dashboard and answers the queue's endpoints in front of it
   * (`/api/session`, `/api/queue`, `POST /api/runs`): the browser then shows the run queue.
   */
  controlPlane?: boolean | undefined;
}

/** An error the API answers with its status: the caller's mistakes are 4xx. */
export class HttpError extends Error {
  readonly status: 400 | 404 | 501;

  constructor(status: 400 | 404 | 501, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

/** The API's one translation of errors into responses: `{"error": "…"}` with a status. */
export function apiErrorResponse(error: unknown): { status: 400 | 404 | 500 | 501; body: ApiError } {
  if (error instanceof HttpError) return { status: error.status, body: { error: error.message } };
  if (error instanceof LedgeError && error.code === 'usage')
    return { status: 400, body: { error: error.line } };
  const message =
    error instanceof LedgeError ? error.line : error instanceof Error ? error.message : String(error);
  return { status: 500, body: { error: `internal error: ${message}` } };
}

function positiveInteger(text: string | undefined, name: string, fallback?: number, max?: number): number {
  if ((text === undefined || text === '') && fallback !== undefined) return fallback;
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new HttpError(400, `${name} must be a positive integer, not '${text ?? ''}'`);
  }
  return max === undefined ? n : Math.min(n, max);
}

/** `active,failed` → the statuses, each one a deployment status. */
function deploymentStatuses(text: string | undefined): DeploymentStatus[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const statuses = text.split(',').map((s) => s.trim());
  for (const status of statuses) {
    if (!(DEPLOYMENT_STATUSES as readonly string[]).includes(status))
      throw new HttpError(
        400,
        `status must be one or more of ${DEPLOYMENT_STATUSES.join(', ')} (comma-separated), not '${status}'`,
      );
  }
  return statuses as DeploymentStatus[];
}

export function createApi(services: DashboardServices): Hono {
  const { metadata } = services;
  const servers = [...(services.servers ?? [])];
  const api = new Hono();

  api.use('*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  });

  api.get('/info', (c) =>
    c.json<UiInfo>({
      version: VERSION,
      database: metadata.location,
      servers,
      refreshSeconds: services.refreshSeconds ?? 1.5,
      control: services.controlPlane === true,
    }),
  );

  api.get('/runs', async (c) => {
    const whereText = c.req.query('where')?.trim() ?? '';
    if (whereText.length > 2000) throw new HttpError(400, 'where: the filter is longer than 2000 characters');
    const type = c.req.query('type') ?? '';
    if (type !== '' && type !== 'run' && type !== 'stage')
      throw new HttpError(400, `type must be run or stage, not '${type}'`);
    const runs = await listRuns(metadata, {
      where: whereText === '' ? undefined : parseWhere(whereText),
      type: type === '' ? undefined : type,
      limit: positiveInteger(c.req.query('limit'), 'limit', 200, 1000),
    });
    return c.json(runs);
  });

  api.get('/runs/:id', async (c) => {
    const id = positiveInteger(c.req.param('id'), 'run id');
    const detail = await runDetail(metadata, id);
    if (!detail) throw new HttpError(404, `no run or execution with id ${id}`);
    return c.json(detail);
  });

  api.get('/runs/:id/logs', async (c) => {
    const id = positiveInteger(c.req.param('id'), 'run id');
    const logs = await runLogs(metadata, id, services.readLog);
    if (!logs) throw new HttpError(404, `no run or execution with id ${id}`);
    return c.json(logs);
  });

  api.get('/compare', async (c) => {
    const a = positiveInteger(c.req.query('a'), 'a');
    const b = positiveInteger(c.req.query('b'), 'b');
    if (!services.diffRuns) throw new HttpError(501, 'comparing runs is not available here');
    const all = c.req.query('all');
    return c.json(await services.diffRuns(a, b, { all: all === '1' || all === 'true' }));
  });

  api.get('/models', async (c) => c.json(await listModelInfo(metadata)));

  api.get('/deployments', async (c) => {
    const target = c.req.query('target')?.trim() || undefined;
    if (target !== undefined && target.length > 200)
      throw new HttpError(400, 'target: the name is longer than 200 characters');
    return c.json(
      await listDeploymentInfo(metadata, {
        target,
        status: deploymentStatuses(c.req.query('status')),
        limit: positiveInteger(c.req.query('limit'), 'limit', 100, 1000),
      }),
    );
  });

  api.get('/deployments/refused', async (c) =>
    c.json(await listGateRefusals(metadata, positiveInteger(c.req.query('limit'), 'limit', 20, 1000))),
  );

  api.get('/deployments/:id', async (c) => {
    const id = positiveInteger(c.req.param('id'), 'deployment id');
    const detail = await deploymentDetail(metadata, id);
    if (!detail) throw new HttpError(404, `no deployment with id ${id}`);
    return c.json(detail);
  });

  api.get('/monitoring/live', async (c) =>
    c.json(
      await fetchLiveServers(servers, {
        timeoutMs: services.liveTimeoutMs ?? 1500,
        fetch: services.fetch,
      }),
    ),
  );

  api.get('/monitoring/history', async (c) =>
    c.json(
      await monitoringHistory(metadata, {
        server: c.req.query('server') || undefined,
        model: c.req.query('model') || undefined,
        limit: positiveInteger(c.req.query('limit'), 'limit', 500, 5000),
      }),
    ),
  );

  return api;
}
