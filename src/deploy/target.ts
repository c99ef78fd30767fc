/**
 * A deploy target: somewhere a model version can serve behind a stable endpoint. One interface
 * here, one folder per kind (`local/`: a supervised `ledge serve` process behind a reverse
 * proxy; `engine/`: containers through the Docker Engine API over a unix socket).
 *
 * Targets only know *how* to put a model in place, check on it and take it down. *Whether* to
 * deploy (the quality gate), which deployment to roll back to, and the records in the metadata
 * store are shared code (deployer.ts) written once for every target.
 */

/** The model a deployment puts on a target: a local bundle and what it is in the registry. */
export interface ModelToDeploy {
  /** The name it is served as (URLs: `/v2/models/<name>`). */
  name: string;
  /** The version it is served as: the registry version, or a digest prefix for a bare bundle. */
  version: string;
  /** `sha256:<hex>` of the bundle. */
  digest: string;
  /** Absolute path of the bundle directory (what the local target serves; what an image build takes). */
  path: string;
  /**
   * An image reference to run as it is (`ledge deploy registry.local:5000/ledge/imdb:3`), for
   * targets that run images; `path` then holds the same reference.
   */
  image?: string | undefined;
}

export interface DeploySpec {
  /** The deployment being carried out (its record in the metadata store). */
  deploymentId: number;
  model: ModelToDeploy;
}

/** One step of a rollout, as it went: the steps run in order and stop at the first failure. */
export interface DeployStep {
  /** start | ready | smoke | switch | drain (targets may add their own, e.g. pull). */
  step: string;
  ok: boolean;
  /** Milliseconds the step took. */
  ms: number;
  /** What happened, in a few words (why it failed). */
  detail?: string | undefined;
}

/** What serves on a target: a deployment's model, and where its process or container is. */
export interface ServingInstance {
  deploymentId: number | null;
  name: string;
  version: string;
  digest: string;
  /** ISO time it started serving. */
  since: string;
  /** Target-specific facts: a pid and port, a container id. */
  details: Record<string, unknown>;
}

/**
 * The result of `deploy()`/`rollback()`: per-step results rather than an exception halfway. A
 * failed outcome means nothing changed: what served before still serves (`serving`).
 */
export interface DeployOutcome {
  ok: boolean;
  /** The stable endpoint clients use, e.g. `http://127.0.0.1:8080`. */
  url: string;
  steps: DeployStep[];
  /** Why it failed (the failed step's detail), for the deployment record. */
  reason?: string | undefined;
  /** What serves after the rollout (the new version, or on failure the one that kept serving). */
  serving: ServingInstance | null;
  /** What was replaced and drained (on success). */
  replaced: ServingInstance | null;
  /** What the target ran, when it is not the bundle path: an image reference pinned by digest. */
  location?: string | undefined;
  /** Target-specific facts recorded with the deployment (e.g. the bytes an engine pulled). */
  facts?: Record<string, unknown> | undefined;
}

/** Something that happened on a target outside a rollout: crashes, restarts, starts, stops. */
export interface TargetEvent {
  /** ISO time. */
  at: string;
  /** supervisor-started | supervisor-stopped | backend-exited | backend-restarted | backend-restart-failed | switched | deploy-failed */
  kind: string;
  message: string;
  deploymentId?: number | null | undefined;
  properties?: Record<string, unknown> | undefined;
}

export interface TargetStatus {
  target: string;
  kind: string;
  /** The stable endpoint (configured, whether or not anything listens there). */
  url: string;
  /**
   * serving: a model answers at `url`. idle: the target runs with nothing deployed.
   * restarting: what should serve crashed and is being restarted. stopped: nothing runs.
   * unhealthy: the target's own machinery (supervisor, engine) does not answer.
   */
  state: 'serving' | 'idle' | 'restarting' | 'stopped' | 'unhealthy';
  serving: ServingInstance | null;
  /** One line per thing that is wrong (shown by `ledge deploy status`). */
  problems: string[];
  /** The newest events, oldest first. */
  events: TargetEvent[];
  /** Target-specific facts (the supervisor's pid and uptime, the engine's version). */
  details: Record<string, unknown>;
}

export interface StopOutcome {
  /** Whether anything was running to stop. */
  stopped: boolean;
  /** What served until now. */
  serving: ServingInstance | null;
  detail: string;
}

/** What an image says of the model it serves (its labels), for deploying an image reference. */
export interface ImageModel {
  /** The reference as given. */
  reference: string;
  /** The image's manifest digest. */
  digest: string;
  /** From the image's labels, when it has them. */
  name: string | undefined;
  version: string | undefined;
  modelDigest: string | undefined;
}

export interface DeployTarget {
  readonly name: string;
  readonly kind: string;
  /** The stable endpoint. */
  readonly url: string;
  /**
   * Puts `spec.model` in place with no downtime: start it next to what serves, check it
   * (readiness, a smoke inference), switch traffic, then retire the old one. On any failure
   * the new one is removed and the old one keeps serving; the outcome says which step failed.
   */
  deploy(spec: DeploySpec): Promise<DeployOutcome>;
  /**
   * Returns to an earlier deployment's model, the same way a deploy switches (targets that keep
   * old versions around, such as stopped containers, can reuse them).
   */
  rollback(to: DeploySpec): Promise<DeployOutcome>;
  status(): Promise<TargetStatus>;
  /** Stops serving and frees the endpoint. */
  stop(): Promise<StopOutcome>;
  /**
   * Capability of targets that run images (`engine`): reads what an image reference serves,
   * so `ledge deploy <image>` can record and gate it. Absent: the target runs bundles only.
   */
  describeImage?(reference: string): Promise<ImageModel>;
}
