/**
 * What the dashboard's JSON API returns (`/api/…`): the one contract between the server
 * (api.ts) and the browser code (client/), which imports these types only (`import type`,
 * erased when compiled, so the browser never loads this file).
 */

/** A run or stage execution as listed. */
export interface RunSummary {
  id: number;
  /** run | stage */
  type: string;
  name: string;
  parentId: number | null;
  /** running | succeeded | failed | interrupted | cached | gated */
  status: string;
  cause: string;
  startedAt: string;
  endedAt: string | null;
  gitCommit: string | null;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

export interface RunEnvironment {
  user: string;
  host: string;
  platform: string;
  nodeVersion: string;
  ledgeVersion: string;
  gitCommit: string | null;
  gitDirty: boolean | null;
  workspace: string | null;
}

/** An input or output edge of an execution, with the artifact's digest. */
export interface RunArtifact {
  /** input | output */
  kind: string;
  path: string;
  /** The stage execution that read or wrote it (a run lists those of its stages). */
  executionId: number;
  stage: string;
  digest: string;
  /** dir | file | metrics | log … */
  type: string;
  size: number;
}

export interface RunDetail extends RunSummary {
  exitCode: number | null;
  environment: RunEnvironment;
  properties: Record<string, unknown>;
  /** The stage executions of a run, in the order they started (empty for a stage). */
  stages: (RunSummary & { exitCode: number | null })[];
  artifacts: RunArtifact[];
}

export interface RunLog {
  /** The stage execution. */
  id: number;
  name: string;
  status: string;
  digest: string | null;
  /** Set when the log is that of the execution a cached one was restored from. */
  restoredFrom: number | null;
  /** The text; null when none was recorded or the cache does not hold it. */
  text: string | null;
  /** Why `text` is null, for people. */
  missing: string | null;
  /** True when only the end of a long log is shown. */
  truncated: boolean;
}

/** One compared key, as `ledge runs diff --json` gives it. */
export interface DiffRow {
  key: string;
  old?: unknown;
  new?: unknown;
  change: 'added' | 'removed' | 'changed' | 'unchanged';
  delta?: number;
}

export interface ArtifactDiffRow {
  kind: 'input' | 'output';
  path: string;
  old?: unknown;
  new?: unknown;
  change: 'added' | 'removed' | 'changed' | 'unchanged';
}

export interface DiffSide {
  id: number;
  type: string;
  name: string;
  status: string;
  startedAt: string;
  gitCommit: string | null;
}

/** Two runs compared: the shape of `ledge runs diff --json`. */
export interface RunDiff {
  a: DiffSide;
  b: DiffSide;
  params: DiffRow[];
  metrics: DiffRow[];
  artifacts: ArtifactDiffRow[];
}

export interface ModelVersionInfo {
  name: string;
  version: number;
  digest: string;
  kind: string;
  size: number;
  createdAt: string;
  executionId: number | null;
  metrics: Record<string, unknown>;
  properties: Record<string, unknown>;
  aliases: string[];
}

export interface ModelInfo {
  name: string;
  aliases: Record<string, number>;
  /** Newest first. */
  versions: ModelVersionInfo[];
}

/** A control-plane run (the queue of `ledge server`) as a deployment's chain shows it. */
export interface ChainControlRun {
  id: number;
  /** queued | running | succeeded | failed | gated | cancelled | interrupted */
  status: string;
  /** What asked for it, oldest first (several triggers can merge into one run). */
  causes: QueueRun['causes'];
  /** Stages asked for; empty: the whole pipeline. */
  stages: string[];
  requestedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  reason: string | null;
}

/** A pipeline run or a stage execution in a chain (`#/runs/ID`). */
export interface ChainExecution {
  id: number;
  /** run | stage */
  type: string;
  name: string;
  status: string;
  cause: string;
  startedAt: string;
  endedAt: string | null;
  gitCommit: string | null;
  /** A cached stage execution: the one whose outputs it restored. */
  restoredFrom: number | null;
}

/**
 * How a deployment came about, from the change to the model: each link is null when it is not
 * recorded (a model deployed by hand has no pipeline run; a pipeline run started by `ledge run`
 * has no control run).
 */
export interface DeploymentChain {
  /** The control run whose pipeline run produced the model, with its causes. */
  controlRun: ChainControlRun | null;
  /** The pipeline run the producing stage execution belongs to. */
  pipelineRun: ChainExecution | null;
  /** The stage execution that wrote the model. */
  producedBy: ChainExecution | null;
  /**
   * How `producedBy` is known. registry: the model version's `execution_id` (or the
   * deployment's `run_execution_id`); lineage: the newest stage execution that wrote the
   * model's digest before the deployment started.
   */
  producedByFrom: 'registry' | 'lineage' | null;
  /** The registered version deployed; null for a bundle outside the registry. */
  modelVersion: ModelVersionInfo | null;
}

/** A deployment as listed (`GET /api/deployments`). */
export interface DeploymentSummary {
  id: number;
  target: string;
  /** The target's kind when it was deployed: local | engine. */
  kind: string | null;
  modelName: string;
  modelVersion: number | null;
  /** `imdb-sentiment@2`, or the name and digest prefix of a bundle outside the registry. */
  label: string;
  digest: string;
  /** deploying | active (serving now) | failed | superseded | rolled-back | stopped */
  status: string;
  /** Why it was deployed (`ledge deploy --cause`): manual, rollback, a pipeline stage's text. */
  cause: string;
  startedAt: string;
  /** When the target switched traffic to it (as the target reported); null if it never served. */
  activatedAt: string | null;
  endedAt: string | null;
  /** How it ended: `replaced by deployment 4`, or why it failed. */
  message: string | null;
  /** The deployment serving on the target when this one started. */
  previousId: number | null;
  /** What the target ran: the bundle's path, or the image pinned by digest. */
  location: string;
  /** The target's stable endpoint. */
  url: string | null;
  /** A rollback: the deployment whose model it brought back. */
  restores: number | null;
  chain: DeploymentChain;
}

/** Another deployment, named. */
export interface DeploymentRef {
  id: number;
  label: string;
  status: string;
  startedAt: string;
  endedAt: string | null;
  message: string | null;
}

/** One step of a rollout (start, ready, smoke, switch, drain; an engine adds pull, create…). */
export interface DeploymentStep {
  step: string;
  ok: boolean;
  ms: number;
  detail: string | null;
}

/** `GET /api/deployments/ID`: a deployment with the whole chain and how the rollout went. */
export interface DeploymentDetail extends DeploymentSummary {
  previous: DeploymentRef | null;
  /** Later deployments that started from this one (replaced it, or failed and left it serving). */
  followedBy: DeploymentRef[];
  /** The quality gate's verdict; null when there was none (a rollback). */
  gate: { passed: boolean | null; forced: boolean; message: string } | null;
  steps: DeploymentStep[];
  /** The stage executions of the pipeline run, in the order they started. */
  pipelineStages: ChainExecution[];
  /** Everything recorded with it (metrics, gate, steps, image, target facts). */
  properties: Record<string, unknown>;
}

/**
 * `GET /api/deployments/refused`: a pipeline run whose model the quality gate refused, so nothing
 * was deployed (`ledge server` marks such runs `gated`, with the gate's reason).
 */
export interface GateRefusal {
  reason: string;
  pipelineRun: ChainExecution;
  controlRun: ChainControlRun | null;
}

/** One drift measurement of a feature against the model's reference profile. */
export interface DriftValue {
  feature: string;
  /** psi | ks | … */
  method: string;
  value: number;
  threshold: number | null;
  alert: boolean;
}

export interface Histogram {
  /** Bucket boundaries: `counts.length + 1` of them. */
  edges: number[];
  counts: number[];
  /** The share of each bucket in the model's reference profile (what training data looked like). */
  reference: number[] | null;
}

export interface SeriesPoint {
  at: string;
  throughput: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  accuracy: number | null;
}

/** What a running server reports for one model version, normalised. */
export interface LiveModel {
  model: string;
  version: string;
  requests: number | null;
  errors: number | null;
  /** Requests per second, recently. */
  throughput: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  scores: Histogram | null;
  drift: DriftValue[];
  /** True when any drift value crossed its threshold (or the server says so). */
  alert: boolean;
  liveAccuracy: number | null;
  labelled: number | null;
  series: SeriesPoint[];
}

/** One `--server`: its snapshot, or why there is none. */
export interface LiveServer {
  url: string;
  ok: boolean;
  /** e.g. "unreachable: connect ECONNREFUSED 127.0.0.1:9", "timed out after 1.5 s", "HTTP 500" */
  error: string | null;
  fetchedAt: string;
  /** False when the server runs with monitoring off. */
  monitoring: boolean;
  models: LiveModel[];
}

export interface MonitoringWindow {
  id: number;
  server: string;
  model: string;
  version: string;
  startedAt: string;
  endedAt: string;
  requests: number | null;
  errors: number | null;
  throughput: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  liveAccuracy: number | null;
  labelled: number | null;
  scores: Histogram | null;
  drift: DriftValue[];
}

export interface ServingEvent {
  id: number;
  at: string;
  server: string;
  kind: string;
  model: string | null;
  version: string | null;
  message: string;
  properties: Record<string, unknown>;
}

export interface MonitoringHistory {
  /** Oldest first. */
  windows: MonitoringWindow[];
  /** Newest first. */
  events: ServingEvent[];
}

export interface UiInfo {
  version: string;
  database: string;
  servers: string[];
  /** Seconds between live monitoring refreshes in the browser. */
  refreshSeconds: number;
  /**
   * True when a control server (`ledge server`) serves this dashboard: it answers
   * `GET /api/session` and the run queue (`/api/queue`, `POST /api/runs`). False under `ledge ui`.
   */
  control: boolean;
}

/** `GET /api/session` (control server only): who this browser is and what it may do. */
export interface ControlSession {
  /** The name of the token this browser signed in with; null when reading without one. */
  user: string | null;
  /** Whether this session may queue and cancel runs (a token that is not read-only). */
  canWrite: boolean;
  /** Send as the `X-Ledge-CSRF` header with every POST of this browser session. */
  csrf: string | null;
}

/** A run of the control plane's queue (`GET /api/queue`), as far as the dashboard reads it. */
export interface QueueRun {
  id: number;
  /** queued | running | succeeded | failed | gated | cancelled | interrupted */
  status: string;
  /** What asked for it: `{kind: 'manual', user, note}`, `{kind: 'webhook', provider, delivery}`… */
  causes: { kind: string; at: string; [detail: string]: unknown }[];
  /** Stages asked for; empty: the whole pipeline. */
  stages: string[];
  requestedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  reason: string | null;
  /** The pipeline run (`#/runs/ID`) it started. */
  pipelineRunId: number | null;
}

/** `POST /api/runs`: the run queued, or the waiting run the request joined. */
/** `GET /api/stages` of the control server: the stages of ledge.yaml (null: it cannot be read). */
export interface PipelineStages {
  stages: string[] | null;
}

export interface EnqueueAnswer {
  run: QueueRun;
  merged: boolean;
}

/** Every error: a 4xx for the caller's mistakes, 5xx for ours. */
export interface ApiError {
  error: string;
}
