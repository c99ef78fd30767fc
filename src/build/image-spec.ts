/**
 * What a model image says about itself and how it runs, as pure values: the execution config
 * (entrypoint, port, health check, non-root user, environment) and the labels
 * (`org.opencontainers.image.*`, the model's name, version and digest, the git commit). The
 * Dockerfile writer uses the same values, so both ways of building give the same container.
 */
import type { Digest } from '../core/digest.js';
import type { ConfigChanges, HealthcheckSpec } from '../image/index.js';
import { APP_DIR, SERVER_ENTRY } from './app-files.js';

export const MODEL_DIR = '/model';
export const CONTAINER_PORT = 8080;
/** A non-root numeric user (node images call uid 1000 `node`). */
export const CONTAINER_USER = '1000:1000';

export const Label = {
  title: 'org.opencontainers.image.title',
  version: 'org.opencontainers.image.version',
  revision: 'org.opencontainers.image.revision',
  created: 'org.opencontainers.image.created',
  source: 'org.opencontainers.image.source',
  description: 'org.opencontainers.image.description',
  modelName: 'ai.ledge.model.name',
  modelVersion: 'ai.ledge.model.version',
  modelDigest: 'ai.ledge.model.digest',
  gitCommit: 'ai.ledge.git.commit',
  gitDirty: 'ai.ledge.git.dirty',
} as const;

export interface ModelIdentity {
  /** The name the model is served under (URLs: /v1/models/<name>:predict). */
  name: string;
  /** Its registry version, or another version string. */
  version: string;
  digest: Digest;
}

export interface SourceInfo {
  /** The git commit the build ran at. */
  commit?: string | undefined;
  /** Whether tracked files differed from it. */
  dirty?: boolean | undefined;
  /** Where the source lives (a repository URL, without credentials). */
  url?: string | undefined;
}

export const SERVER_COMMAND = ['node', `${APP_DIR}/${SERVER_ENTRY}`];

export const HEALTHCHECK: Required<Omit<HealthcheckSpec, 'test'>> & { test: string[] } = {
  test: [...SERVER_COMMAND, '--health'],
  intervalMs: 10_000,
  timeoutMs: 3_000,
  startPeriodMs: 15_000,
  retries: 3,
};

/** The labels of a model image (also its manifest annotations). */
export function imageLabels(
  model: ModelIdentity,
  source: SourceInfo,
  created: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const labels: Record<string, string> = {
    [Label.title]: model.name,
    [Label.version]: model.version,
    [Label.created]: created,
    [Label.description]: `ledge model server for ${model.name} version ${model.version} (Open Inference Protocol on port ${CONTAINER_PORT})`,
    [Label.modelName]: model.name,
    [Label.modelVersion]: model.version,
    [Label.modelDigest]: model.digest,
  };
  if (source.commit) {
    labels[Label.revision] = source.commit;
    labels[Label.gitCommit] = source.commit;
  }
  if (source.dirty) labels[Label.gitDirty] = 'true';
  if (source.url) labels[Label.source] = source.url;
  return { ...labels, ...extra };
}

/** Environment of the server in the container (serve-main.ts reads it). */
export function containerEnv(model: ModelIdentity): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LEDGE_MODEL: MODEL_DIR,
    LEDGE_MODEL_NAME: model.name,
    LEDGE_MODEL_VERSION: model.version,
    LEDGE_HOST: '0.0.0.0',
    LEDGE_PORT: String(CONTAINER_PORT),
  };
}

/** The execution config of a model image. */
export function imageConfig(model: ModelIdentity, labels: Record<string, string>): ConfigChanges {
  return {
    entrypoint: [...SERVER_COMMAND],
    cmd: null,
    env: containerEnv(model),
    workingDir: APP_DIR,
    user: CONTAINER_USER,
    exposedPorts: [CONTAINER_PORT],
    healthcheck: HEALTHCHECK,
    labels,
    stopSignal: 'SIGTERM',
  };
}

/** Strips credentials from a repository URL (`https://user:token@host/x.git`). */
export function publicSourceUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    // scp-like git URLs (git@host:org/repo.git) carry no secret beyond the user name.
    return /^[\w.-]+@[\w.-]+:[\w./-]+$/.test(url) ? url : undefined;
  }
}
