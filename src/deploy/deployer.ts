/**
 * Deploying, rolling back and stopping, for every kind of target: decides *whether* (the
 * quality gate; which deployment a rollback returns to), records each deployment in the
 * metadata store from `deploying` to how it ended, and leaves *how* to the target. One
 * deployment per target at a time: a lock file in the target's state directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { acquireLock, type LockHolder } from '../core/lock.js';
import {
  activateDeployment,
  activeDeployment,
  type Deployment,
  endDeployment,
  failAbandonedDeployments,
  failDeployment,
  getDeployment,
  lastServedBefore,
  setDeploymentLocation,
  startDeployment,
} from '../metadata/deployments.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { GateConfig } from './deploy-config.js';
import { DeployError, isDeployError } from './deploy-errors.js';
import { checkGate, type GateDecision } from './quality-gate.js';
import type { DeployOutcome, DeployTarget, ModelToDeploy, StopOutcome, TargetStatus } from './target.js';

/** The metadata database (Kysely over SQLite or PostgreSQL). */
type Db = MetadataStore['db'];

/** A model to deploy, with what the registry knows of it. */
export interface Candidate extends ModelToDeploy {
  /** How messages name it: `imdb-sentiment@3`, or the path given. */
  label: string;
  /** The registry version (null for a bundle that is not registered). */
  registryVersion: number | null;
  /** → model_versions.id */
  modelVersionId: number | null;
  /** The stage execution that produced it (model_versions.execution_id). */
  runExecutionId: number | null;
  /** Its recorded evaluation metrics (registry, else the model card). */
  metrics: Record<string, unknown>;
}

export interface DeployerOptions {
  db: Db;
  target: DeployTarget;
  /** The target's deploy lock (one rollout at a time). */
  lockFile: string;
  /** Told when another process holds the lock and this one waits. */
  onWait?: ((holder: LockHolder) => void) | undefined;
  /** How long to wait for the lock (default 10 minutes). */
  lockTimeoutMs?: number | undefined;
}

export interface DeployRequest {
  candidate: Candidate;
  gate: GateConfig;
  /** Deploy even when the gate refuses (or the metric is missing). */
  force?: boolean | undefined;
  /** Why (default `manual`). */
  cause?: string | undefined;
}

/** The gate's verdict as recorded: a decision, or why it was skipped. */
export type GateRecord = (GateDecision & { forced: boolean }) | { skipped: string; forced: boolean };

export interface DeployReport {
  /** The deployment as recorded at the end (active or failed). */
  deployment: Deployment;
  outcome: DeployOutcome;
  gate: GateRecord | null;
  /** The deployment it replaced (superseded, or rolled back), on success. */
  replaced: Deployment | undefined;
  /** For a rollback: the deployment whose model it brought back. */
  restored?: Deployment | undefined;
}

/** `imdb-sentiment@3`, or the name and digest prefix of an unregistered bundle. */
export function deploymentLabel(d: Pick<Deployment, 'modelName' | 'modelVersion' | 'modelDigest'>): string {
  return d.modelVersion === null
    ? `${d.modelName} (${d.modelDigest.slice(0, 19)})`
    : `${d.modelName}@${d.modelVersion}`;
}

async function withTargetLock<T>(
  options: DeployerOptions,
  command: string,
  fn: () => Promise<T>,
): Promise<T> {
  fs.mkdirSync(path.dirname(options.lockFile), { recursive: true });
  const lock = await acquireLock(options.lockFile, {
    command,
    timeoutMs: options.lockTimeoutMs ?? 600_000,
    onWait: options.onWait,
  });
  try {
    await failAbandonedDeployments(
      options.db,
      options.target.name,
      'interrupted: the process deploying it ended before it finished',
    );
    return await fn();
  } finally {
    lock.release();
  }
}

function decideGate(request: DeployRequest, active: Deployment | undefined): GateRecord {
  const deployed = active
    ? {
        label: deploymentLabel(active),
        metrics: (active.properties.metrics as Record<string, unknown> | undefined) ?? {},
        deploymentId: active.id,
      }
    : undefined;
  const candidate = { label: request.candidate.label, metrics: request.candidate.metrics };
  try {
    return { ...checkGate(request.gate, candidate, deployed), forced: request.force === true };
  } catch (error) {
    if (request.force && isDeployError(error, 'unknown-metric'))
      return { skipped: error.message, forced: true };
    throw error;
  }
}

/** Carries out a recorded deployment on the target and records how it went. */
async function carryOut(
  options: DeployerOptions,
  deployment: Deployment,
  run: () => Promise<DeployOutcome>,
  replaced: 'superseded' | 'rolled-back',
): Promise<{ deployment: Deployment; outcome: DeployOutcome; replaced: Deployment | undefined }> {
  const { db } = options;
  let outcome: DeployOutcome;
  try {
    outcome = await run();
  } catch (error) {
    await failDeployment(db, deployment.id, (error as Error).message);
    throw error;
  }
  const facts = { url: outcome.url, steps: outcome.steps, serving: outcome.serving, ...outcome.facts };
  if (outcome.location !== undefined && outcome.location !== deployment.location) {
    await setDeploymentLocation(db, deployment.id, outcome.location);
  }
  if (!outcome.ok) {
    await failDeployment(db, deployment.id, outcome.reason ?? 'failed', facts);
    return { deployment: await getDeployment(db, deployment.id), outcome, replaced: undefined };
  }
  const previous = await activateDeployment(db, deployment.id, { replaced, properties: facts });
  return { deployment: await getDeployment(db, deployment.id), outcome, replaced: previous };
}

/**
 * Deploys a model: the quality gate (unless `force`), a `deploying` record, the target's
 * rollout, then the record becomes `active` (the one it replaced `superseded`) or `failed`
 * with the reason (what served before serves on). Throws `gate-refused` before recording
 * anything when the gate refuses.
 */
export async function deployModel(options: DeployerOptions, request: DeployRequest): Promise<DeployReport> {
  const { db, target } = options;
  const { candidate } = request;
  return withTargetLock(options, `ledge deploy ${candidate.label}`, async () => {
    const active = await activeDeployment(db, target.name);
    const gate = decideGate(request, active);
    if ('passed' in gate && !gate.passed && !request.force) {
      throw new DeployError(
        'gate-refused',
        `quality gate: refusing ${candidate.label} on target '${target.name}': ${gate.message}`,
        { hint: '--force deploys it anyway' },
      );
    }
    const deployment = await startDeployment(db, {
      target: target.name,
      modelName: candidate.name,
      modelVersion: candidate.registryVersion,
      modelVersionId: candidate.modelVersionId,
      modelDigest: candidate.digest,
      location: candidate.path,
      cause: request.cause ?? 'manual',
      previousId: active?.id ?? null,
      runExecutionId: candidate.runExecutionId,
      properties: { metrics: candidate.metrics, gate, kind: target.kind, servedVersion: candidate.version },
    });
    const model: ModelToDeploy = {
      name: candidate.name,
      version: candidate.version,
      digest: candidate.digest,
      path: candidate.path,
      image: candidate.image,
    };
    const done = await carryOut(
      options,
      deployment,
      () => target.deploy({ deploymentId: deployment.id, model }),
      'superseded',
    );
    return { ...done, gate };
  });
}

/** The deployment `d` restored, when it is a rollback. */
function restoredId(d: Deployment): number | undefined {
  return typeof d.properties.restores === 'number' ? d.properties.restores : undefined;
}

/**
 * What a rollback from `active` returns to, walking back through the history like a stack: a
 * rollback stands where the deployment it restored stood, so rolling back twice goes two steps
 * back rather than to and fro. Each step goes to the deployment that was active before (or,
 * deployed onto a stopped target, the last one that served); the first that served a model
 * other than `active`'s and ended normally (superseded or stopped) is it.
 */
export async function rollbackTarget(
  db: Db,
  target: string,
  active: Deployment,
): Promise<Deployment | undefined> {
  const standIn = async (d: Deployment): Promise<Deployment> => {
    const jumped = new Set<number>();
    let at = d;
    for (let id = restoredId(at); id !== undefined && !jumped.has(id); id = restoredId(at)) {
      jumped.add(id);
      at = await getDeployment(db, id);
    }
    return at;
  };
  const visited = new Set<number>();
  let position = await standIn(active);
  while (!visited.has(position.id)) {
    visited.add(position.id);
    const previous =
      position.previousId !== null
        ? await getDeployment(db, position.previousId)
        : await lastServedBefore(db, target, position.id);
    if (!previous) return undefined;
    if (
      (previous.status === 'superseded' || previous.status === 'stopped') &&
      previous.modelDigest !== active.modelDigest
    ) {
      return previous;
    }
    position = await standIn(previous);
  }
  return undefined;
}

/**
 * Rolls back: the earlier deployment `rollbackTarget` finds is deployed again, as a new
 * deployment with cause `rollback` (and `restores` naming it);
 * the one serving now becomes `rolled-back`. `locate` finds the earlier model's bundle again
 * (the registry may have to materialise it). No quality gate: going back is the point.
 */
export async function rollbackDeployment(
  options: DeployerOptions,
  request: { cause?: string | undefined; locate: (deployment: Deployment) => Promise<ModelToDeploy> },
): Promise<DeployReport> {
  const { db, target } = options;
  return withTargetLock(options, 'ledge deploy rollback', async () => {
    const active = await activeDeployment(db, target.name);
    if (!active) {
      throw new DeployError(
        'nothing-deployed',
        `nothing is deployed on target '${target.name}' to roll back`,
        {
          hint: `see \`ledge deploy history --target ${target.name}\`; \`ledge deploy MODEL\` deploys one`,
        },
      );
    }
    const earlier = await rollbackTarget(db, target.name, active);
    if (!earlier) {
      throw new DeployError(
        'nothing-deployed',
        `target '${target.name}' has no earlier deployment of another model than ${deploymentLabel(active)} (deployment ${active.id}) to roll back to`,
        { hint: `see \`ledge deploy history --target ${target.name}\`` },
      );
    }
    const model = await request.locate(earlier);
    const deployment = await startDeployment(db, {
      target: target.name,
      modelName: earlier.modelName,
      modelVersion: earlier.modelVersion,
      modelVersionId: earlier.modelVersionId,
      modelDigest: earlier.modelDigest,
      location: model.path,
      cause: request.cause ?? 'rollback',
      previousId: active.id,
      runExecutionId: earlier.runExecutionId,
      properties: {
        metrics: earlier.properties.metrics ?? {},
        restores: earlier.id,
        kind: target.kind,
        servedVersion: model.version,
      },
    });
    const done = await carryOut(
      options,
      deployment,
      () => target.rollback({ deploymentId: deployment.id, model }),
      'rolled-back',
    );
    return { ...done, gate: null, restored: earlier };
  });
}

/** Stops the target; the deployment active on it becomes `stopped`. */
export async function stopTarget(
  options: DeployerOptions,
): Promise<{ outcome: StopOutcome; ended: Deployment | undefined }> {
  const { db, target } = options;
  return withTargetLock(options, 'ledge deploy stop', async () => {
    const outcome = await target.stop();
    const active = await activeDeployment(db, target.name);
    if (active) await endDeployment(db, active.id, 'stopped', 'stopped by `ledge deploy stop`');
    return { outcome, ended: active ? await getDeployment(db, active.id) : undefined };
  });
}

export interface StatusReport {
  status: TargetStatus;
  /** The deployment recorded as active on the target. */
  active: Deployment | undefined;
}

/** The target's own report, with the recorded active deployment and where the two disagree. */
export async function targetStatus(db: Db, target: DeployTarget): Promise<StatusReport> {
  const status = await target.status();
  const active = await activeDeployment(db, target.name);
  const servingId = status.serving?.deploymentId ?? null;
  if (active && status.state === 'stopped') {
    status.problems.push(
      `deployment ${active.id} (${deploymentLabel(active)}) is recorded as active, but nothing runs on the target`,
    );
  } else if (active && servingId !== null && servingId !== active.id) {
    status.problems.push(
      `deployment ${active.id} is recorded as active, but the target serves deployment ${servingId}`,
    );
  }
  return { status, active };
}
