/**
 * The metadata schema, modelled on ML Metadata: artifacts (data, models, logs: anything with a
 * digest), executions (pipeline runs and stage executions), events (an execution's input and
 * output edges to artifacts) and contexts (pipeline, run, experiment) that group them; the
 * model registry (named, numbered model versions and their aliases); monitoring history;
 * deployments. Row types for Kysely.
 */
import type { ColumnType, Generated } from 'kysely';

/** JSON held as text in SQLite and as jsonb in PostgreSQL; written and read as strings. */
export type JsonText = string;

export interface ArtifactTable {
  id: Generated<number>;
  /** `sha256:<hex>` of the content (a file, or a directory manifest). */
  digest: string;
  /** dataset | model | log | metrics | file | directory */
  type: string;
  /** Workspace-relative path or URI it was seen at. */
  uri: string;
  size: number;
  created_at: ColumnType<string, string, never>;
  properties: JsonText;
}

export interface ExecutionTable {
  id: Generated<number>;
  /** run (a whole pipeline run) | stage (one stage's execution) */
  type: string;
  name: string;
  /** The run an execution belongs to (null for runs themselves). */
  parent_id: number | null;
  /** running | succeeded | failed | interrupted | cached | gated */
  status: string;
  exit_code: number | null;
  cause: string;
  started_at: string;
  ended_at: string | null;
  git_commit: string | null;
  git_dirty: number | null;
  user_name: string;
  host: string;
  platform: string;
  node_version: string;
  ledge_version: string;
  params: JsonText;
  metrics: JsonText;
  log_digest: string | null;
  /** Run-cache key of a stage execution: sha256 of its command, dependency digests and params. */
  cache_key: string | null;
  /** The process that ran it, to mark runs of killed processes as interrupted. */
  pid: number | null;
  /** `host:/absolute/path` of the workspace it ran in. */
  workspace: string | null;
  /** Environment (package versions, OS), reasons it ran, where a restored output came from. */
  properties: ColumnType<JsonText, JsonText | undefined, JsonText>;
}

export interface EventTable {
  execution_id: number;
  artifact_id: number;
  /** input | output */
  kind: string;
  /** Where the execution read or wrote it. */
  path: string;
}

export interface ContextTable {
  id: Generated<number>;
  /** pipeline | run | experiment */
  type: string;
  name: string;
  created_at: ColumnType<string, string, never>;
}

export interface AssociationTable {
  context_id: number;
  execution_id: number;
}

export interface AttributionTable {
  context_id: number;
  artifact_id: number;
}

/** One registered version of a named model: `name@version` is a content-store digest. */
export interface ModelVersionTable {
  id: Generated<number>;
  name: string;
  /** 1, 2, 3… per name, in registration order. */
  version: number;
  /** `sha256:<hex>`: a bundle directory's manifest, or an .onnx file's bytes. */
  digest: string;
  /** bundle | onnx */
  kind: string;
  /** Bytes of the model (a bundle: all its files). */
  size: number;
  created_at: ColumnType<string, string, never>;
  /** The stage execution that produced it, when a pipeline did. */
  execution_id: number | null;
  metrics: JsonText;
  /** What inspection found (opset, inputs, outputs, operators, labels) and where it came from. */
  properties: JsonText;
}

/** A movable name for one version of a model: `imdb-sentiment@production` → 3. */
export interface ModelAliasTable {
  name: string;
  alias: string;
  version: number;
  updated_at: string;
}

export interface MetadataDatabase {
  artifacts: ArtifactTable;
  executions: ExecutionTable;
  events: EventTable;
  contexts: ContextTable;
  associations: AssociationTable;
  attributions: AttributionTable;
  model_versions: ModelVersionTable;
  model_aliases: ModelAliasTable;
  monitoring_windows: MonitoringWindowTable;
  serving_events: ServingEventTable;
  deployments: DeploymentTable;
  image_builds: ImageBuildTable;
}

/**
 * One model version's traffic over one monitoring window of an inference server (migration
 * 0004; written by monitoring-records.ts, columns documented in docs/monitoring.md).
 */
export interface MonitoringWindowTable {
  id: Generated<number>;
  /** The server's id (`host:pid` unless configured). */
  server: string;
  model: string;
  version: string;
  /** ISO times; the window is [started_at, ended_at). */
  started_at: string;
  ended_at: string;
  requests: number;
  /** Requests answered with a status ≥ 400. */
  errors: number;
  /** Requests per second over the window. */
  throughput: number;
  /** Request latency quantiles in ms; null without requests. */
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  /** Over the accuracy window at the window's end; null before any label. */
  live_accuracy: number | null;
  /** Labels in the accuracy window at the window's end. */
  labelled: number;
  /** `{"edges": [...11], "counts": [...10]}`: scores of the window's predictions. */
  scores: JsonText;
  /** `{"samples", "evaluatedAt", "features": {"token_count": {"psi", "ks", "alert", "thresholds"}, …}}` or null. */
  drift: JsonText | null;
}

/** Something that happened to a server or a model it serves (migration 0004). */
export interface ServingEventTable {
  id: Generated<number>;
  /** ISO time. */
  at: string;
  server: string;
  /** server-started | server-stopped | model-loaded | model-swapped | model-load-failed | model-unloaded | drift-alert-fired | drift-alert-cleared */
  kind: string;
  model: string | null;
  version: string | null;
  message: string;
  properties: JsonText;
}

/**
 * One deployment: an attempt to put a model version on a deploy target (migration 0005;
 * written by deployments.ts, statuses documented in docs/deploy.md).
 */
export interface DeploymentTable {
  id: Generated<number>;
  /** The deploy target's name (`.ledge/deploy.yaml`), e.g. `local`. */
  target: string;
  /** The name the model is served as (its registry name, else its model card's). */
  model_name: string;
  /** The registry version, when the model is registered. */
  model_version: number | null;
  /** → model_versions.id, when the model is registered. */
  model_version_id: number | null;
  /** `sha256:<hex>` of what was deployed (the registry digest of the bundle). */
  model_digest: string;
  /** What the target ran: a bundle directory (local target) or an image reference. */
  location: string;
  /** deploying | active | failed | rolled-back | superseded | stopped */
  status: string;
  /** Why it was deployed: `manual`, `rollback`, or what the user said with --cause. */
  cause: string;
  /** ISO times: the attempt started; it stopped serving (or failed). */
  started_at: string;
  ended_at: string | null;
  /** The deployment that was active on the target when this one started. */
  previous_id: number | null;
  /** → executions.id: the stage execution that produced the model (model_versions.execution_id). */
  run_execution_id: number | null;
  /** Why it failed or ended, in one line. */
  message: string | null;
  /** Quality-gate decision, the model's metrics, the steps of the rollout, the serving URL. */
  properties: JsonText;
}

/**
 * One image build: a model version packaged as an OCI image or index (migration 0006; written
 * by image-builds.ts, columns documented in docs/build.md).
 */
export interface ImageBuildTable {
  id: Generated<number>;
  /** ISO time the build was recorded (wall clock; the image's own time is image_created). */
  created_at: string;
  /** `sha256:<hex>` of what was built: the image manifest, or the index for several platforms. */
  digest: string;
  /** Its media type (OCI image manifest or index). */
  media_type: string;
  model_name: string;
  /** The registry version, when the model is registered. */
  model_version: number | null;
  /** → model_versions.id, when the model is registered. */
  model_version_id: number | null;
  model_digest: string;
  /** The base image as given (`node:20-slim`, `oci:DIR:TAG`). */
  base_ref: string;
  /** The digest the base reference named (an index for multi-platform bases), when known. */
  base_digest: string | null;
  /** `[{platform, digest, base: {name, digest}, layers: [{role, digest, diffId, mediaType, size, uncompressedSize}], size, uncompressedSize}]` */
  platforms: JsonText;
  /** Bytes of every distinct blob (configs and layers). */
  size: number;
  /** The image name it was tagged with (`ledge/imdb-sentiment:3`). */
  tag: string | null;
  /** `[{kind: oci|tar|push|dockerfile, location, digest, bytes}]` */
  outputs: JsonText;
  git_commit: string | null;
  git_dirty: number | null;
  /** The creation time written into the image (fixed, for reproducible digests). */
  image_created: string;
  /** Timings, pruning, labels, the ledge version. */
  properties: JsonText;
}
