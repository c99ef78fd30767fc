/**
 * Records pipeline runs in the metadata store: the run, each stage execution with its
 * inputs, outputs, log, params and metrics, and the run-cache lookups. The database is
 * opened on first use, so a run with nothing to do never touches it.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { gitState } from '../core/git.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { PathVersion } from './lock-file.js';

export interface RunStart {
  pipelineFile: string;
  cause: string;
  stages: string[];
  params: Record<string, unknown>;
  experiment?: string | undefined;
}

export interface StageStart {
  name: string;
  params: Record<string, unknown>;
  cacheKey: string;
  reasons: string[];
  commands: string[];
  inputs: PathVersion[];
}

export interface StageFinish {
  status: 'succeeded' | 'failed' | 'interrupted' | 'cached';
  exitCode?: number | undefined;
  metrics?: Record<string, unknown>;
  outs: PathVersion[];
  metricsFiles: PathVersion[];
  log?: { digest: string; size: number; path: string } | undefined;
  restoredFrom?: number | undefined;
  error?: string | undefined;
}

/** Outputs a stage execution recorded, as candidates for the run-cache. */
export interface CachedOutputs {
  executionId: number;
  outs: PathVersion[];
  metrics: PathVersion[];
}

/** Versions of the packages ledge runs on, recorded with every run. */
function packageVersions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const versions: Record<string, string> = {};
  for (const name of ['better-sqlite3', 'kysely', 'pg', 'yaml', 'zod', 'onnxruntime-node']) {
    try {
      const file = require.resolve(`${name}/package.json`);
      versions[name] = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    } catch {
      // Not installed (optional) or not resolvable: nothing to record.
    }
  }
  return versions;
}

export class RunRecorder {
  private metadata: MetadataStore | undefined;
  private opening: Promise<MetadataStore> | undefined;
  private runId: number | undefined;
  private runStarting: Promise<number> | undefined;
  private contexts: number[] = [];
  private git: { commit: string | undefined; dirty: boolean } | undefined;

  constructor(
    private readonly open: () => Promise<MetadataStore>,
    private readonly workspaceRoot: string,
    private readonly ledgeVersion: string,
  ) {}

  /** `host:/path`, telling workspaces that share one database apart. */
  get workspace(): string {
    return `${os.hostname()}:${this.workspaceRoot}`;
  }

  get currentRunId(): number | undefined {
    return this.runId;
  }

  private async store(): Promise<MetadataStore> {
    this.opening ??= this.open().then((metadata) => {
      this.metadata = metadata;
      return metadata;
    });
    return this.opening;
  }

  /** Finds earlier executions of a stage with the same run-cache key, newest first. */
  async findCached(cacheKey: string): Promise<CachedOutputs[]> {
    const metadata = await this.store();
    const executions = await metadata.executionsWithCacheKey(cacheKey);
    const events = await metadata.eventsOf(
      executions.map((e) => e.id),
      'output',
    );
    return executions.map(({ id }) => {
      const mine = events.filter((e) => e.executionId === id);
      const version = (e: (typeof mine)[number]): PathVersion => ({
        path: e.path,
        type: e.type === 'dir' ? 'dir' : 'file',
        digest: e.digest as PathVersion['digest'],
        size: e.size,
        files: typeof e.properties.files === 'number' ? e.properties.files : undefined,
      });
      return {
        executionId: id,
        outs: mine.filter((e) => e.type === 'dir' || e.type === 'file').map(version),
        metrics: mine.filter((e) => e.type === 'metrics').map(version),
      };
    });
  }

  /** Records the start of the run (once: stages starting in parallel share the one record). */
  startRun(start: RunStart): Promise<number> {
    this.runStarting ??= this.insertRun(start);
    return this.runStarting;
  }

  private async insertRun(start: RunStart): Promise<number> {
    const metadata = await this.store();
    this.git = gitState(this.workspaceRoot);
    const runId = await metadata.startExecution({
      type: 'run',
      name: start.pipelineFile,
      cause: start.cause,
      gitCommit: this.git?.commit,
      gitDirty: this.git?.dirty,
      ledgeVersion: this.ledgeVersion,
      params: start.params,
      workspace: this.workspace,
      properties: {
        stages: start.stages,
        experiment: start.experiment,
        os: `${os.type()} ${os.release()}`,
        cpus: os.availableParallelism(),
        packages: packageVersions(),
      },
    });
    this.runId = runId;
    this.contexts = [await metadata.putContext('pipeline', `${this.workspace}/${start.pipelineFile}`)];
    if (start.experiment) this.contexts.push(await metadata.putContext('experiment', start.experiment));
    for (const context of this.contexts) await metadata.associate(context, runId);
    return runId;
  }

  async startStage(stage: StageStart): Promise<number> {
    const metadata = await this.store();
    const id = await metadata.startExecution({
      type: 'stage',
      name: stage.name,
      parentId: this.runId,
      cause: 'pipeline',
      gitCommit: this.git?.commit,
      gitDirty: this.git?.dirty,
      ledgeVersion: this.ledgeVersion,
      params: stage.params,
      cacheKey: stage.cacheKey,
      workspace: this.workspace,
      properties: { reasons: stage.reasons, cmd: stage.commands },
    });
    for (const context of this.contexts) await metadata.associate(context, id);
    for (const input of stage.inputs) {
      const artifact = await metadata.putArtifact({
        digest: input.digest,
        type: input.type,
        uri: input.path,
        size: input.size,
        properties: input.files === undefined ? {} : { files: input.files },
      });
      await metadata.addEvent(id, artifact, 'input', input.path);
    }
    return id;
  }

  async finishStage(id: number, finish: StageFinish): Promise<void> {
    const metadata = await this.store();
    const outputs: { version: PathVersion; type: string }[] = [
      ...finish.outs.map((version) => ({ version, type: version.type })),
      ...finish.metricsFiles.map((version) => ({ version, type: 'metrics' })),
    ];
    for (const { version, type } of outputs) {
      const artifact = await metadata.putArtifact({
        digest: version.digest,
        type,
        uri: version.path,
        size: version.size,
        properties: version.files === undefined ? {} : { files: version.files },
      });
      await metadata.addEvent(id, artifact, 'output', version.path);
      for (const context of this.contexts) await metadata.attribute(context, artifact);
    }
    if (finish.log) {
      const artifact = await metadata.putArtifact({
        digest: finish.log.digest,
        type: 'log',
        uri: finish.log.path,
        size: finish.log.size,
      });
      await metadata.addEvent(id, artifact, 'output', finish.log.path);
    }
    const properties: Record<string, unknown> = {};
    if (finish.restoredFrom !== undefined) properties.restoredFrom = finish.restoredFrom;
    if (finish.error !== undefined) properties.error = finish.error;
    await metadata.finishExecution(id, {
      status: finish.status,
      exitCode: finish.exitCode,
      metrics: finish.metrics,
      logDigest: finish.log?.digest,
      properties,
    });
  }

  async finishRun(finish: {
    status: 'succeeded' | 'failed' | 'interrupted';
    metrics: Record<string, unknown>;
    summary: Record<string, string>;
  }): Promise<void> {
    if (this.runId === undefined || !this.metadata) return;
    await this.metadata.finishExecution(this.runId, {
      status: finish.status,
      metrics: finish.metrics,
      properties: { outcome: finish.summary },
    });
  }

  async close(): Promise<void> {
    const metadata = await this.opening?.catch(() => undefined);
    this.opening = undefined;
    this.metadata = undefined;
    await metadata?.close();
  }
}
