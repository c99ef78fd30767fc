/**
 * Deployments for the dashboard, each with the chain that led to it: the change (the control
 * run's causes) → the control run → the pipeline run → the stage execution that wrote the model
 * → the registered model version → the deployment on its target. Built from the metadata
 * store's own functions (deployments, registry, executions, control runs); no SQL of its own.
 *
 * The producing execution is the model version's `execution_id` (or the deployment's
 * `run_execution_id`) when recorded — `ledge model register` in a pipeline stage records its
 * stage's execution (LEDGE_EXECUTION_ID) — else the lineage: the newest stage execution that
 * wrote the model's digest before the deployment started (a model registered by hand, or
 * `ledge deploy DIR` of an unregistered bundle; a bundle's digest is the digest of the stage
 * output it came from).
 */
import { isLedgeError } from '../core/errors.js';
import { type ControlRun, controlRunOfPipelineRun } from '../metadata/control-runs.js';
import {
  type Deployment,
  type DeploymentStatus,
  getDeployment,
  listDeployments,
} from '../metadata/deployments.js';
import { type ExecutionRow, getExecution, stageExecutionsOf } from '../metadata/execution-queries.js';
import { type MetadataStore, parseObject } from '../metadata/metadata-store.js';
import { getModelVersion, type ModelVersion } from '../metadata/model-registry.js';
import type {
  ChainControlRun,
  ChainExecution,
  DeploymentChain,
  DeploymentDetail,
  DeploymentRef,
  DeploymentStep,
  DeploymentSummary,
  GateRefusal,
  ModelVersionInfo,
} from './api-types.js';

/** `imdb-sentiment@3`, or the name and digest prefix of a bundle outside the registry (as the CLI). */
export function deploymentLabel(d: Pick<Deployment, 'modelName' | 'modelVersion' | 'modelDigest'>): string {
  return d.modelVersion === null
    ? `${d.modelName} (${d.modelDigest.slice(0, 19)})`
    : `${d.modelName}@${d.modelVersion}`;
}

function chainExecution(row: ExecutionRow): ChainExecution {
  const restoredFrom = parseObject(row.properties).restoredFrom;
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    status: row.status,
    cause: row.cause,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    gitCommit: row.git_commit,
    restoredFrom: typeof restoredFrom === 'number' ? restoredFrom : null,
  };
}

function chainControlRun(run: ControlRun): ChainControlRun {
  return {
    id: run.id,
    status: run.status,
    causes: run.causes,
    stages: run.stages,
    requestedAt: run.requestedAt,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    reason: run.reason,
  };
}

function versionInfo(v: ModelVersion): ModelVersionInfo {
  return {
    name: v.name,
    version: v.version,
    digest: v.digest,
    kind: v.kind,
    size: v.size,
    createdAt: v.createdAt,
    executionId: v.executionId,
    metrics: v.metrics,
    properties: v.properties,
    aliases: v.aliases,
  };
}

/** Undefined for a record that is not there (the metadata functions say so with a usage error). */
function ignoreMissing<T>(promise: Promise<T>): Promise<T | undefined> {
  return promise.catch((error: unknown) => {
    if (isLedgeError(error, 'usage')) return undefined;
    throw error;
  });
}

/**
 * Follows deployments back to their causes, remembering what it read: the deployments of one
 * listing mostly share model versions and pipeline runs.
 */
class ChainReader {
  private readonly versions = new Map<string, Promise<ModelVersion | undefined>>();
  private readonly executions = new Map<number, Promise<ExecutionRow | undefined>>();
  private readonly controlRuns = new Map<number, Promise<ControlRun | undefined>>();
  private readonly producers = new Map<string, Promise<{ id: number; name: string }[]>>();

  constructor(private readonly metadata: MetadataStore) {}

  private remember<K, V>(cache: Map<K, Promise<V>>, key: K, read: () => Promise<V>): Promise<V> {
    let found = cache.get(key);
    if (!found) {
      found = read();
      cache.set(key, found);
    }
    return found;
  }

  modelVersion(name: string, version: number): Promise<ModelVersion | undefined> {
    return this.remember(this.versions, `${name}@${version}`, () =>
      ignoreMissing(getModelVersion(this.metadata.db, name, version)),
    );
  }

  execution(id: number): Promise<ExecutionRow | undefined> {
    return this.remember(this.executions, id, () => ignoreMissing(getExecution(this.metadata.db, id)));
  }

  controlRun(run: ExecutionRow): Promise<ControlRun | undefined> {
    return this.remember(this.controlRuns, run.id, () => controlRunOfPipelineRun(this.metadata, run));
  }

  /** The newest stage execution that wrote `digest` and started no later than `before`. */
  async lineageProducer(digest: string, before: string): Promise<ExecutionRow | undefined> {
    const writers = await this.remember(this.producers, digest, () =>
      this.metadata.executionsTouching(digest, 'output'),
    );
    const limit = Date.parse(before);
    for (let i = writers.length - 1, looked = 0; i >= 0 && looked < 50; i--, looked++) {
      const row = await this.execution(writers[i]!.id);
      if (row?.type === 'stage' && !(Date.parse(row.started_at) > limit)) return row;
    }
    return undefined;
  }

  async chainOf(d: Deployment): Promise<DeploymentChain> {
    const version =
      d.modelVersion === null ? undefined : await this.modelVersion(d.modelName, d.modelVersion);
    const recordedId = version?.executionId ?? d.runExecutionId;
    let producer = recordedId === null ? undefined : await this.execution(recordedId);
    let from: DeploymentChain['producedByFrom'] = producer ? 'registry' : null;
    if (!producer) {
      producer = await this.lineageProducer(d.modelDigest, d.startedAt);
      if (producer) from = 'lineage';
    }
    const pipelineRun =
      producer?.type === 'stage' && producer.parent_id !== null
        ? await this.execution(producer.parent_id)
        : producer?.type === 'run'
          ? producer
          : undefined;
    const controlRun = pipelineRun ? await this.controlRun(pipelineRun) : undefined;
    return {
      controlRun: controlRun ? chainControlRun(controlRun) : null,
      pipelineRun: pipelineRun ? chainExecution(pipelineRun) : null,
      producedBy: producer ? chainExecution(producer) : null,
      producedByFrom: from,
      modelVersion: version ? versionInfo(version) : null,
    };
  }

  async summaryOf(d: Deployment): Promise<DeploymentSummary> {
    const props = d.properties;
    const serving = props.serving as { deploymentId?: unknown; since?: unknown } | null | undefined;
    const activatedAt =
      serving && serving.deploymentId === d.id && typeof serving.since === 'string' ? serving.since : null;
    return {
      id: d.id,
      target: d.target,
      kind: typeof props.kind === 'string' ? props.kind : null,
      modelName: d.modelName,
      modelVersion: d.modelVersion,
      label: deploymentLabel(d),
      digest: d.modelDigest,
      status: d.status,
      cause: d.cause,
      startedAt: d.startedAt,
      activatedAt,
      endedAt: d.endedAt,
      message: d.message,
      previousId: d.previousId,
      location: d.location,
      url: typeof props.url === 'string' ? props.url : null,
      restores: typeof props.restores === 'number' ? props.restores : null,
      chain: await this.chainOf(d),
    };
  }
}

export interface DeploymentListQuery {
  target?: string | undefined;
  status?: DeploymentStatus[] | undefined;
  limit: number;
}

/** Deployments, newest first, each with its chain. */
export async function listDeploymentInfo(
  metadata: MetadataStore,
  query: DeploymentListQuery,
): Promise<DeploymentSummary[]> {
  const deployments = await listDeployments(metadata.db, query);
  const reader = new ChainReader(metadata);
  const summaries: DeploymentSummary[] = [];
  for (const d of deployments) summaries.push(await reader.summaryOf(d));
  return summaries;
}

function refOf(d: Deployment): DeploymentRef {
  return {
    id: d.id,
    label: deploymentLabel(d),
    status: d.status,
    startedAt: d.startedAt,
    endedAt: d.endedAt,
    message: d.message,
  };
}

function gateOf(value: unknown): DeploymentDetail['gate'] {
  if (!value || typeof value !== 'object') return null;
  const gate = value as Record<string, unknown>;
  const forced = gate.forced === true;
  if (typeof gate.skipped === 'string') return { passed: null, forced, message: `skipped: ${gate.skipped}` };
  if (typeof gate.passed !== 'boolean') return null;
  return { passed: gate.passed, forced, message: typeof gate.message === 'string' ? gate.message : '' };
}

function stepsOf(value: unknown): DeploymentStep[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null)
    .map((s) => ({
      step: String(s.step ?? ''),
      ok: s.ok === true,
      ms: typeof s.ms === 'number' ? s.ms : 0,
      detail: typeof s.detail === 'string' ? s.detail : null,
    }));
}

/** How many later deployments of the target are searched for those that followed this one. */
const FOLLOWERS_SEARCHED = 1000;

/** One deployment with its whole chain, the deployments around it and how its rollout went. */
export async function deploymentDetail(
  metadata: MetadataStore,
  id: number,
): Promise<DeploymentDetail | undefined> {
  const d = await ignoreMissing(getDeployment(metadata.db, id));
  if (!d) return undefined;
  const reader = new ChainReader(metadata);
  const summary = await reader.summaryOf(d);
  const previous =
    d.previousId === null ? undefined : await ignoreMissing(getDeployment(metadata.db, d.previousId));
  const later = await listDeployments(metadata.db, { target: d.target, limit: FOLLOWERS_SEARCHED });
  const followedBy = later
    .filter((other) => other.previousId === d.id && other.id > d.id)
    .reverse()
    .map(refOf);
  const stages = summary.chain.pipelineRun
    ? await stageExecutionsOf(metadata.db, summary.chain.pipelineRun.id)
    : [];
  return {
    ...summary,
    previous: previous ? refOf(previous) : null,
    followedBy,
    gate: gateOf(d.properties.gate),
    steps: stepsOf(d.properties.steps),
    pipelineStages: stages.map(chainExecution),
    properties: d.properties,
  };
}

/**
 * Pipeline runs whose model the quality gate refused (status `gated`, set by the control plane
 * with the gate's reason), newest first, with the control run that started each.
 */
export async function listGateRefusals(metadata: MetadataStore, limit: number): Promise<GateRefusal[]> {
  const runs = await metadata.listExecutions({
    type: 'run',
    where: { kind: 'compare', field: { kind: 'column', column: 'status' }, op: '=', value: 'gated' },
    limit,
  });
  const reader = new ChainReader(metadata);
  const refusals: GateRefusal[] = [];
  for (const run of runs) {
    const control = await reader.controlRun(run);
    const gate = parseObject(run.properties).gate;
    refusals.push({
      reason: typeof gate === 'string' ? gate : (control?.reason ?? 'refused by the quality gate'),
      pipelineRun: chainExecution(run),
      controlRun: control ? chainControlRun(control) : null,
    });
  }
  return refusals;
}
