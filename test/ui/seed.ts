/**
 * Records for the dashboard tests: runs written through the metadata store's API (fast, for
 * the API suite on SQLite and PostgreSQL) or by the real `ledge run` in a temp workspace (for
 * the browser suite), model versions and aliases through the registry, and monitoring history
 * through MonitoringRecords, the way inference servers write it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sha256 } from '../../src/core/digest.js';
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
