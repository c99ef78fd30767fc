/**
 * Records for the dashboard tests: runs written through the metadata store's API (fast, for
 * the API suite on SQLite and PostgreSQL) or by the real `ledge run` in a temp workspace (for
 * the browser suite), model versions and aliases through the registry, monitoring history
 * through MonitoringRecords, the way inference servers write it, and control runs and
 * deployments through the functions the control plane and `ledge deploy` record them with.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sha256 } from '../../src/core/digest.js';
import { ControlRunRecords } from '../../src/metadata/control-runs.js';
import {
  activateDeployment,
  endDeployment,
  failDeployment,
  startDeployment,
} from '../../src/metadata/deployments.js';
import type { MetadataStore } from '../../src/metadata/metadata-store.js';
import { registerModelVersion, setAlias } from '../../src/metadata/model-registry.js';
import { MonitoringRecords } from '../../src/metadata/monitoring-records.js';
import { LEDGE_BIN, runLedge } from '../helpers/cli.js';
import { writeTree } from '../helpers/temp-dir.js';

/** What a run's params carry, and what its pipeline prints: markup that must stay text. */
export const SCRIPT_PARAM = '<script>window.__xss = "param"</script>';
export const SCRIPT_LOG = '<script>window.__xss = "log"</script> trained';
export const SCRIPT_NAME = '<script>window.__xss = "name"</script><img src=x onerror="window.__xss=1">';
export const SCRIPT_CAUSE = '<img src=x onerror="window.__xss = \'cause\'">';

export interface SeededRecords {
  /** Two pipeline runs, older first; their train stage executions. */
  runs: [number, number];
  stages: [number, number];
  /** A run whose name is markup. */
  scriptRun: number;
  /** Log text by digest (what the content store would hold). */
  logs: Map<string, string>;
  modelDigests: [string, string];
}

/** Runs, stages, artifacts and logs through MetadataStore; models; monitoring history. */
export async function seedRecords(metadata: MetadataStore): Promise<SeededRecords> {
  const logs = new Map<string, string>();
  const runs: number[] = [];
  const stages: number[] = [];
  const modelDigests: string[] = [];
  for (const [i, epochs, accuracy, loss] of [
    [0, 3, 0.8, 0.3],
    [1, 5, 0.9, 0.2],
  ] as const) {
    const params = { train: { epochs, note: SCRIPT_PARAM } };
    const metrics = { accuracy, loss: { train: loss } };
    const run = await metadata.startExecution({
      type: 'run',
      name: 'ledge.yaml',
      cause: 'manual',
      ledgeVersion: '0.1.0',
      params,
      workspace: 'test:/ws',
      properties: { stages: ['train'], os: 'Linux test', cpus: 2 },
    });
    const stage = await metadata.startExecution({
      type: 'stage',
      name: 'train',
      parentId: run,
      cause: 'pipeline',
      ledgeVersion: '0.1.0',
      params,
      workspace: 'test:/ws',
      properties: {
        reasons: [i === 0 ? 'never run' : 'param train.epochs changed: 3 -> 5'],
        cmd: ['node train.js'],
      },
    });
    const data = await metadata.putArtifact({ digest: sha256('data'), type: 'dir', uri: 'data', size: 4 });
    const modelDigest = sha256(`model ${epochs}`);
    modelDigests.push(modelDigest);
    const model = await metadata.putArtifact({
      digest: modelDigest,
      type: 'dir',
      uri: 'model',
      size: 1000 + i,
    });
    const logText = `epoch ${epochs}\n${SCRIPT_LOG}\n`;
    const logDigest = sha256(logText);
    logs.set(logDigest, logText);
    const log = await metadata.putArtifact({
      digest: logDigest,
      type: 'log',
      uri: 'train.log',
      size: logText.length,
    });
    await metadata.addEvent(stage, data, 'input', 'data');
    await metadata.addEvent(stage, model, 'output', 'model');
    await metadata.addEvent(stage, log, 'output', 'train.log');
    await metadata.finishExecution(stage, { status: 'succeeded', exitCode: 0, metrics, logDigest });
    await metadata.finishExecution(run, { status: 'succeeded', metrics });
    runs.push(run);
    stages.push(stage);
  }
  const scriptRun = await metadata.startExecution({
    type: 'run',
    name: SCRIPT_NAME,
    cause: SCRIPT_CAUSE,
    ledgeVersion: '0.1.0',
    params: { [SCRIPT_NAME]: SCRIPT_PARAM },
  });
  await metadata.finishExecution(scriptRun, { status: 'failed', exitCode: 1 });
  await seedModels(metadata, modelDigests as [string, string], stages as [number, number]);
  await seedMonitoringHistory(metadata);
  return {
    runs: runs as [number, number],
    stages: stages as [number, number],
    scriptRun,
    logs,
    modelDigests: modelDigests as [string, string],
  };
}

/** `imdb-sentiment` versions 1 and 2 (produced by the given stage executions), with aliases. */
export async function seedModels(
  metadata: MetadataStore,
  digests: [string, string],
  executions: [number, number],
): Promise<void> {
  for (const [i, digest] of digests.entries()) {
    await registerModelVersion(metadata.db, {
      name: 'imdb-sentiment',
      digest: digest as `sha256:${string}`,
      kind: 'bundle',
      size: 2048 + i,
      metrics: { accuracy: 0.8 + i / 10 },
      properties: { opset: 17 },
      executionId: executions[i],
    });
  }
  await setAlias(metadata.db, 'imdb-sentiment', 'production', 1);
  await setAlias(metadata.db, 'imdb-sentiment', 'staging', 2);
}

/** Three windows of `imdb-sentiment@2` on one server, the last one drifting; two events. */
export async function seedMonitoringHistory(metadata: MetadataStore): Promise<void> {
  const records = new MonitoringRecords(metadata.db);
  const start = Date.parse('2026-11-27T10:00:00.000Z');
  const at = (seconds: number) => new Date(start + seconds * 1000).toISOString();
  const thresholds = { psi: 0.2, ks: 0.15 };
  for (const i of [0, 1, 2]) {
    const drifting = i === 2;
    await records.recordWindow({
      server: 'edge-1:4242',
      model: 'imdb-sentiment',
      version: '2',
      startedAt: at(i * 10),
      endedAt: at(i * 10 + 10),
      requests: 400 + i * 10,
      errors: i,
      throughput: 40 + i,
      p50Ms: 2 + i,
      p95Ms: 7 + i,
      p99Ms: 12 + i,
      liveAccuracy: 0.9 - i * 0.05,
      labelled: 100 + i,
      scores: { edges: [0, 0.5, 1], counts: [200, 200 + i] },
      drift: {
        samples: 500,
        evaluatedAt: at(i * 10 + 10),
        features: {
          token_count: { psi: 0.01, ks: 0.02, alert: false, thresholds },
          oov_rate: drifting
            ? { psi: 0.52, ks: 0.33, alert: true, thresholds }
            : { psi: 0.02, ks: 0.03, alert: false, thresholds },
          score: { psi: 0.01, ks: 0.02, alert: false, thresholds },
        },
      },
    });
  }
  await records.recordEvent({
    at: at(0),
    server: 'edge-1:4242',
    kind: 'model-loaded',
    model: 'imdb-sentiment',
    version: '2',
    message: 'loaded imdb-sentiment@2 in 0.12 s',
    properties: { seconds: 0.12 },
  });
  await records.recordEvent({
    at: at(30),
    server: 'edge-1:4242',
    kind: 'drift-alert-fired',
    model: 'imdb-sentiment',
    version: '2',
    message: 'drift alert: oov_rate psi 0.52 > 0.2',
    properties: { feature: 'oov_rate' },
  });
}

/** The commit of the push that started the first run, and why a deployment failed. */
export const PUSHED_COMMIT = '4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d';
export const FAILED_REASON =
  "start: the server exited with code 1: cannot load version 1 of 'imdb-sentiment': ONNX Runtime cannot load model.onnx: Protobuf parsing failed.";
export const GATE_REASON =
  "quality gate: refusing imdb-sentiment@3 on target 'local': accuracy 0.7 is worse than imdb-sentiment@2 (deployment 2) at 0.9";

export interface SeededDeployments {
  /** On target `local`: @1 (superseded), @2 (serving), @1 again (failed, cause is markup). */
  superseded: number;
  serving: number;
  failed: number;
  /** On target `edge` (engine): a bundle deployed by path (not registered), then stopped. */
  stopped: number;
  /** The control runs that started the two pipeline runs: a GitHub push, then a saved params.yaml. */
  controlRuns: [number, number];
  /** A pipeline run the quality gate refused (gated), and its control run. */
  gatedRun: number;
  gatedControlRun: number;
}

/**
 * The chain from a change to a served version: control runs that started `runs` (a push, then
 * a saved params.yaml), deployments of the model versions their train stages produced, a failed
 * deployment, a stopped one of an unregistered bundle, and a pipeline run the gate refused.
 */
export async function seedDeployments(
  metadata: MetadataStore,
  seeded: { runs: [number, number]; modelDigests: [string, string] },
): Promise<SeededDeployments> {
  const control = new ControlRunRecords(metadata, 'test:/ws');
  const controlRuns: number[] = [];
  const causes = [
    {
      kind: 'webhook',
      at: '2026-11-27T09:00:00.000Z',
      provider: 'github',
      delivery: 'd-101',
      branch: 'main',
      commit: PUSHED_COMMIT,
    },
    { kind: 'file', at: '2026-11-27T09:30:00.000Z', paths: ['params.yaml'] },
  ];
  for (const [i, cause] of causes.entries()) {
    const queued = await control.enqueue([cause], []);
    await control.markRunning(queued.id, process.pid);
    await control.finish(queued.id, { status: 'succeeded', exitCode: 0, pipelineRunId: seeded.runs[i] });
    controlRuns.push(queued.id);
  }

  const gate = (candidate: number) => ({
    passed: true,
    metric: 'accuracy',
    direction: 'higher',
    candidate,
    message: `accuracy ${candidate} passes the minimum 0.75`,
    forced: false,
  });
  const steps = [
    { step: 'start', ok: true, ms: 700, detail: 'pid 4242 on port 43279' },
    { step: 'ready', ok: true, ms: 20 },
    { step: 'smoke', ok: true, ms: 15, detail: 'score 0.66' },
    { step: 'switch', ok: true, ms: 2 },
  ];
  const url = 'http://127.0.0.1:8080';
  const deploy = async (
    target: string,
    version: number | null,
    digest: string,
    cause: string,
    previousId: number | null,
  ) =>
    startDeployment(metadata.db, {
      target,
      modelName: 'imdb-sentiment',
      modelVersion: version,
      modelDigest: digest,
      location: version === null ? '/ws/models/imdb-sentiment' : `/ws/.ledge/models/${digest.slice(7, 23)}`,
      cause,
      previousId,
      properties: {
        metrics: { accuracy: 0.8 },
        gate: gate(0.8),
        kind: target === 'edge' ? 'engine' : 'local',
      },
    });
  const activate = async (id: number) =>
    activateDeployment(metadata.db, id, {
      properties: {
        url,
        steps,
        serving: { deploymentId: id, name: 'imdb-sentiment', since: new Date().toISOString(), details: {} },
      },
    });

  const first = await deploy('local', 1, seeded.modelDigests[0], 'manual', null);
  await activate(first.id);
  const second = await deploy(
    'local',
    2,
    seeded.modelDigests[1],
    "the example pipeline's deploy stage",
    first.id,
  );
  await activate(second.id);
  const third = await deploy('local', 1, seeded.modelDigests[0], SCRIPT_CAUSE, second.id);
  await failDeployment(metadata.db, third.id, FAILED_REASON, {
    url,
    steps: [{ step: 'start', ok: false, ms: 300, detail: FAILED_REASON }],
    serving: { deploymentId: second.id, since: new Date().toISOString() },
  });
  const edge = await deploy('edge', null, seeded.modelDigests[0], 'manual', null);
  await activate(edge.id);
  await endDeployment(metadata.db, edge.id, 'stopped', 'stopped by `ledge deploy stop`');

  // The control plane's run of a change whose model the gate refused: the run is gated.
  const gatedControl = await control.enqueue(
    [{ kind: 'schedule', at: '2026-11-27T10:00:00.000Z', cron: '0 2 * * *', name: 'nightly' }],
    [],
  );
  await control.markRunning(gatedControl.id, process.pid);
  const gatedRun = await metadata.startExecution({
    type: 'run',
    name: 'ledge.yaml',
    cause: `control run ${gatedControl.id}: schedule nightly`,
    ledgeVersion: '0.1.0',
    workspace: 'test:/ws',
  });
  await metadata.finishExecution(gatedRun, { status: 'failed', exitCode: 1 });
  await control.finish(gatedControl.id, {
    status: 'gated',
    exitCode: 1,
    reason: GATE_REASON,
    pipelineRunId: gatedRun,
  });
  await control.markPipelineRunGated(gatedRun, GATE_REASON);
  return {
    superseded: first.id,
    serving: second.id,
    failed: third.id,
    stopped: edge.id,
    controlRuns: controlRuns as [number, number],
    gatedRun,
    gatedControlRun: gatedControl.id,
  };
}

/** A tiny two-stage pipeline whose params and log carry markup. */
const PIPELINE = `stages:
  prepare:
    cmd: mkdir -p prepared && cp data/* prepared/ && echo "prepared <b>bold</b>"
    deps: [data]
    outs: [prepared]
  train:
    cmd:
      - mkdir -p model && cat prepared/* > model/weights.txt && echo "epochs $(grep epochs params.yaml)" >> model/weights.txt
      - 'node -e "const e = Number(process.argv[1]); console.log(JSON.stringify({accuracy: e === 5 ? 0.9 : 0.8, loss: 1 / e}))" "$(grep epochs params.yaml | tr -dc 0-9)" > metrics.json'
      - echo '${SCRIPT_LOG}'
    deps: [prepared]
    params: [train.epochs, train.note]
    outs: [model]
    metrics: [metrics.json]
`;

export interface SeededWorkspace {
  root: string;
  /** The two runs `ledge run` recorded, older first. */
  runs: [number, number];
  /** Their train stage executions. */
  trainStages: [number, number];
  remove(): void;
}

async function ledge(root: string, args: string[]): Promise<string> {
  const result = await runLedge(args, { cwd: root });
  if (result.code !== 0)
    throw new Error(`ledge ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** A git workspace where the real `ledge run` ran the pipeline twice (train.epochs 3, then 5). */
export async function seedWorkspace(): Promise<SeededWorkspace> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-ui-'));
  execFileSync('git', ['init', '-q'], { cwd: root });
  writeTree(root, {
    'data/a.txt': 'first review\n',
    'params.yaml': `train:\n  epochs: 3\n  note: '${SCRIPT_PARAM}'\n`,
    'ledge.yaml': PIPELINE,
  });
  execFileSync(process.execPath, [LEDGE_BIN, 'init'], { cwd: root, stdio: 'ignore' });
  await ledge(root, ['run']);
  const params = path.join(root, 'params.yaml');
  fs.writeFileSync(params, fs.readFileSync(params, 'utf8').replace('epochs: 3', 'epochs: 5'));
  await ledge(root, ['run', '--cause', SCRIPT_CAUSE]);
  const listed = JSON.parse(await ledge(root, ['runs', 'list', '--json'])) as {
    id: number;
    type: string;
    name: string;
  }[];
  const runs = listed
    .filter((r) => r.type === 'run')
    .map((r) => r.id)
    .sort((a, b) => a - b);
  const trains = listed
    .filter((r) => r.name === 'train')
    .map((r) => r.id)
    .sort((a, b) => a - b);
  if (runs.length !== 2 || trains.length !== 2) throw new Error(`unexpected runs: ${JSON.stringify(listed)}`);
  return {
    root,
    runs: runs as [number, number],
    trainStages: trains as [number, number],
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}
