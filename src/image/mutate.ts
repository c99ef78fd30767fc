/**
 * Pure transforms over images (go-containerregistry's `mutate`): each returns a new `Image`
 * and touches no transport. Times come in as arguments, never from the clock, so the same
 * inputs give the same manifest digest.
 */
import { LedgeError } from '../core/errors.js';
import { type Image, type ImageFormat, imageFromConfig, type Layer } from './image.js';
import type { ContainerConfig, HealthConfig, HistoryEntry, ImageConfig, Platform } from './oci-spec.js';

export interface LayerAddition {
  layer: Layer;
  /** The history line shown by `docker history` / `podman history`. */
  createdBy?: string;
  comment?: string;
}

export interface MutateOptions {
  /** The creation time written into the config and new history entries (ISO 8601; history default: the epoch). */
  created?: string;
  format?: ImageFormat;
}

/** 1970-01-01T00:00:00Z, or another fixed time given in seconds since the epoch. */
export function isoTime(secondsSinceEpoch = 0): string {
  return new Date(secondsSinceEpoch * 1000).toISOString().replace('.000Z', 'Z');
}

/** An empty image for `platform` (`FROM scratch`). */
export function scratchImage(platform: Platform, options: MutateOptions = {}): Image {
  const config: ImageConfig = {
    created: options.created ?? isoTime(0),
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
  return imageFromConfig(config, [], options);
}

/** `base` with `additions` stacked on top (rootfs.diff_ids and history extended). */
export function appendLayers(
  base: Image,
  additions: readonly (Layer | LayerAddition)[],
  options: MutateOptions = {},
): Image {
  const added = additions.map((item) => ('layer' in item ? item : { layer: item }));
  const history: HistoryEntry[] = [...(base.config.history ?? [])];
  for (const { createdBy, comment } of added) {
    // Always dated: some readers (umoci stat) require `created` on every history entry.
    const entry: HistoryEntry = { created: options.created ?? isoTime(0) };
    entry.created_by = createdBy ?? 'ledge';
    if (comment !== undefined) entry.comment = comment;
    history.push(entry);
  }
  const config: ImageConfig = {
    ...base.config,
    ...(options.created !== undefined ? { created: options.created } : {}),
    rootfs: {
      type: 'layers',
      diff_ids: [...base.config.rootfs.diff_ids, ...added.map(({ layer }) => layer.diffId)],
    },
    history,
  };
  return imageFromConfig(config, [...base.layers, ...added.map(({ layer }) => layer)], options);
}

export interface HealthcheckSpec {
  /** An exec form (`['CMD', 'node', 'health.js']` or without the CMD) or a shell command. */
  test: string[] | string;
  intervalMs?: number;
  timeoutMs?: number;
  startPeriodMs?: number;
  retries?: number;
}

export interface ConfigChanges {
  entrypoint?: string[] | null;
  cmd?: string[] | null;
  /** Merged into the base's environment: same names replaced in place, new ones appended. */
  env?: Record<string, string>;
  workingDir?: string;
  /** `uid[:gid]` or a name; for edge images a non-root numeric user such as `1000:1000`. */
  user?: string;
  /** Added to the base's ports: 8080 means 8080/tcp. */
  exposedPorts?: (number | string)[];
  /** Docker's HEALTHCHECK; `'none'` disables one inherited from the base. */
  healthcheck?: HealthcheckSpec | 'none';
  /** Merged into the base's labels. */
  labels?: Record<string, string>;
  stopSignal?: string;
  author?: string;
}

/** `image` with its execution config changed (and `created` set, when given). */
export function withConfig(image: Image, changes: ConfigChanges, options: MutateOptions = {}): Image {
  const base: ContainerConfig = { ...(image.config.config ?? {}) };
  if (changes.entrypoint !== undefined) base.Entrypoint = changes.entrypoint;
  if (changes.cmd !== undefined) base.Cmd = changes.cmd;
  if (changes.env) base.Env = mergeEnv(base.Env ?? [], changes.env);
  if (changes.workingDir !== undefined) base.WorkingDir = changes.workingDir;
  if (changes.user !== undefined) base.User = changes.user;
  if (changes.exposedPorts && changes.exposedPorts.length > 0) {
    const ports: Record<string, Record<string, never>> = { ...(base.ExposedPorts ?? {}) };
    for (const port of changes.exposedPorts) ports[portKey(port)] = {};
    base.ExposedPorts = ports;
  }
  if (changes.healthcheck !== undefined) base.Healthcheck = healthConfig(changes.healthcheck);
  if (changes.labels) base.Labels = { ...(base.Labels ?? {}), ...changes.labels };
  if (changes.stopSignal !== undefined) base.StopSignal = changes.stopSignal;
  const config: ImageConfig = {
    ...image.config,
    ...(options.created !== undefined ? { created: options.created } : {}),
    ...(changes.author !== undefined ? { author: changes.author } : {}),
    config: base,
  };
  return imageFromConfig(config, image.layers, {
    ...options,
    ...(image.manifest.annotations ? { annotations: image.manifest.annotations } : {}),
  });
}

/** `image` with manifest annotations added (e.g. org.opencontainers.image.base.digest). */
export function withAnnotations(
  image: Image,
  annotations: Record<string, string>,
  options: Pick<MutateOptions, 'format'> = {},
): Image {
  return imageFromConfig(image.config, image.layers, {
    ...options,
    annotations: { ...(image.manifest.annotations ?? {}), ...annotations },
  });
}

function mergeEnv(current: string[], changes: Record<string, string>): string[] {
  const result = [...current];
  for (const [name, value] of Object.entries(changes)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new LedgeError('usage', `'${name}' is not an environment variable name`);
    }
    const index = result.findIndex((line) => line.split('=', 1)[0] === name);
    if (index === -1) result.push(`${name}=${value}`);
    else result[index] = `${name}=${value}`;
  }
  return result;
}

function portKey(port: number | string): string {
  const text = String(port);
  const match = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(text);
  if (!match || Number(match[1]) < 1 || Number(match[1]) > 65535) {
    throw new LedgeError('usage', `'${text}' is not a port`, { hint: 'write it as 8080 or 8080/tcp' });
  }
  return `${Number(match[1])}/${match[2] ?? 'tcp'}`;
}

const NS_PER_MS = 1_000_000;

function healthConfig(spec: HealthcheckSpec | 'none'): HealthConfig {
  if (spec === 'none') return { Test: ['NONE'] };
  let test: string[];
  if (typeof spec.test === 'string') test = ['CMD-SHELL', spec.test];
  else if (spec.test[0] === 'CMD' || spec.test[0] === 'CMD-SHELL') test = [...spec.test];
  else test = ['CMD', ...spec.test];
  if (test.length < 2) throw new LedgeError('usage', 'a healthcheck needs a command');
  const health: HealthConfig = { Test: test };
  const duration = (name: string, ms: number | undefined): number | undefined => {
    if (ms === undefined) return undefined;
    if (!Number.isFinite(ms) || ms <= 0)
      throw new LedgeError('usage', `healthcheck ${name} must be positive`);
    return Math.round(ms * NS_PER_MS);
  };
  const interval = duration('interval', spec.intervalMs);
  const timeout = duration('timeout', spec.timeoutMs);
  const startPeriod = duration('start period', spec.startPeriodMs);
  if (interval !== undefined) health.Interval = interval;
  if (timeout !== undefined) health.Timeout = timeout;
  if (startPeriod !== undefined) health.StartPeriod = startPeriod;
  if (spec.retries !== undefined) {
    if (!Number.isInteger(spec.retries) || spec.retries < 0) {
      throw new LedgeError('usage', 'healthcheck retries must be a non-negative integer');
    }
    health.Retries = spec.retries;
  }
  return health;
}
