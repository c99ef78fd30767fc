/**
 * Deploy targets: `.ledge/deploy.yaml` (committed next to config.yaml), validated with zod;
 * every problem is one line naming the file, the line and the key. Without the file there is
 * one target, the built-in `local` (a supervised server on 127.0.0.1:8080).
 *
 *     default_target: local
 *     targets:
 *       local:
 *         kind: local            # the default kind
 *         port: 8080
 *         gate: { metric: accuracy, min: 0.9 }
 *       staging:
 *         port: 8081
 *       edge:
 *         kind: engine           # containers through the Docker Engine API (Docker, balenaEngine, Podman)
 *         socket: /run/podman/podman.sock
 *         image: registry.local:5000/ledge/imdb
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isErrno, LedgeError } from '../core/errors.js';
import { parseYamlWith } from '../core/yaml-schema.js';
import { DeployError } from './deploy-errors.js';

export const DEPLOY_FILE = 'deploy.yaml';
/** The target that exists without any configuration, and the default of `--target`. */
export const BUILT_IN_TARGET = 'local';

const TARGET_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const seconds = () => z.number().positive().max(3600);

const gateSchema = z
  .object({
    /** A key of the model's recorded metrics: `validation.accuracy`, or its last part `accuracy`. */
    metric: z.string().min(1),
    /** Refuse models whose metric is below this (for `direction: higher`). */
    min: z.number().optional(),
    /** Refuse models whose metric is above this (for `direction: lower`, e.g. a loss). */
    max: z.number().optional(),
    /** Which way is better. */
    direction: z.enum(['higher', 'lower']).default('higher'),
    /** Also refuse models worse than the one deployed on the target now. */
    against_deployed: z.boolean().default(true),
  })
  .strict();

const localTargetSchema = z
  .object({
    kind: z.literal('local'),
    /** Where the stable endpoint listens. */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(8080),
    gate: gateSchema.optional(),
    /** The text of the smoke inference a new version must answer before it gets traffic. */
    smoke_text: z.string().min(1).default('A wonderful, moving film.'),
    /** Seconds a new version has to start and report ready. */
    health_timeout: seconds().default(30),
    /** Seconds an old version has to finish its requests before it is killed. */
    drain_timeout: seconds().default(15),
    /** Crash restarts: the first wait, doubled on each failure up to the cap (seconds). */
    restart: z
      .object({ initial_delay: seconds().default(0.5), max_delay: seconds().default(30) })
      .strict()
      .prefault({}),
    /** Extra `ledge serve` flags, e.g. [--max-batch, "32"]. */
    serve_args: z.array(z.string()).default([]),
  })
  .strict();

/** An environment variable's name (registry passwords are read from the environment, never the file). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const healthcheckSchema = z
  .object({
    /** A shell command (`CMD-SHELL`), or an exec form `[CMD, exe, arg…]` / `[CMD-SHELL, command]`. */
    test: z.union([z.string().min(1), z.array(z.string()).min(1)]),
    interval: seconds().default(2),
    timeout: seconds().default(3),
    retries: z.number().int().min(1).max(100).default(3),
    /** Failures in the first seconds do not count (the server loading its model). */
    start_period: z.number().min(0).max(3600).default(0),
  })
  .strict();

const engineTargetSchema = z
  .object({
    kind: z.literal('engine'),
    /** The engine's unix socket (default: DOCKER_HOST=unix://…, else /var/run/docker.sock). */
    socket: z.string().min(1).optional(),
    /** The repository a model reference deploys from: `<image>:<tag>` (e.g. registry.local:5000/ledge/imdb). */
    image: z.string().min(1).optional(),
    /** The tag a model version maps to: `{version}` (default), `{name}-{version}`. */
    tag: z
      .string()
      .regex(
        /^(?:[A-Za-z0-9_.-]|\{name\}|\{version\})+$/,
        'a tag template of letters, digits, "_", ".", "-", {name} and {version}',
      )
      .default('{version}'),
    /** Where the stable endpoint is published (bridge networks) and probed. */
    host: z.string().min(1).default('127.0.0.1'),
    /** The stable port on the engine's host. */
    port: z.number().int().min(1).max(65535).default(8080),
    /** The port the server listens on inside the container on a bridge network (LEDGE_PORT tells it). */
    container_port: z.number().int().min(1).max(65535).default(8080),
    /** `bridge` (publish the port), `host` (the container binds the host's port itself), or a network name. */
    network: z.string().min(1).default('bridge'),
    /** Extra environment variables for the container. */
    env: z.record(z.string().regex(ENV_NAME), z.string()).default({}),
    gate: gateSchema.optional(),
    smoke_text: z.string().min(1).default('A wonderful, moving film.'),
    /** Seconds a new container has to start, report healthy and answer the smoke inference. */
    health_timeout: seconds().default(60),
    /** Seconds an old container has to stop (SIGTERM) before it is killed. */
    drain_timeout: seconds().default(15),
    /** The container's health check (default: the image's); `none` disables it (ledge polls /v2/health/ready). */
    healthcheck: z.union([z.literal('none'), healthcheckSchema]).optional(),
    /** What the engine does when the serving container exits. */
    restart_policy: z.enum(['unless-stopped', 'always', 'on-failure', 'no']).default('unless-stopped'),
    /** always: pull every deploy (only missing blobs move); missing: only when the engine lacks it; never: it must be there. */
    pull: z.enum(['always', 'missing', 'never']).default('always'),
    /** Credentials for the registry, given to the engine and to ledge's registry client. */
    registry_auth: z
      .object({ username: z.string().min(1), password_env: z.string().regex(ENV_NAME) })
      .strict()
      .optional(),
  })
  .strict();

/** `kind` defaults to local. */
const targetSchema = z.preprocess(
  (value) =>
    value && typeof value === 'object' && !Array.isArray(value) && !('kind' in value)
      ? { kind: 'local', ...value }
      : (value ?? { kind: 'local' }),
  z.discriminatedUnion('kind', [localTargetSchema, engineTargetSchema]),
);

const deployFileSchema = z
  .object({
    default_target: z.string().optional(),
    targets: z
      .record(z.string().regex(TARGET_NAME), targetSchema, {
        error: (issue) =>
          issue.code === 'invalid_key'
            ? 'a target name has lowercase letters, digits, "_" and "-", starting with a letter or digit'
            : undefined,
      })
      .default({}),
  })
  .strict();

export type GateConfig = z.infer<typeof gateSchema>;
export type LocalTargetConfig = z.infer<typeof localTargetSchema>;
export type EngineTargetConfig = z.infer<typeof engineTargetSchema>;
export type EngineHealthcheckConfig = z.infer<typeof healthcheckSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;

export interface DeployConfig {
  /** The file it came from (workspace-relative), or undefined for the built-in default. */
  file: string | undefined;
  defaultTarget: string;
  targets: Record<string, TargetConfig>;
}

/** The gate when a target configures none: accuracy, no minimum, never worse than what serves. */
export const DEFAULT_GATE: GateConfig = {
  metric: 'accuracy',
  direction: 'higher',
  against_deployed: true,
};

/** The built-in `local` target's settings. */
export function defaultLocalTarget(): LocalTargetConfig {
  return localTargetSchema.parse({ kind: 'local' });
}

/** Parses deploy.yaml text (`file` is how messages name it). */
export function parseDeployConfig(text: string, file: string): DeployConfig {
  const parsed = parseYamlWith({ text, file }, deployFileSchema, {
    hint: 'see docs/deploy.md for the keys of .ledge/deploy.yaml',
  });
  const targets: Record<string, TargetConfig> = { ...parsed.targets };
  if (!targets[BUILT_IN_TARGET]) targets[BUILT_IN_TARGET] = defaultLocalTarget();
  const defaultTarget = parsed.default_target ?? BUILT_IN_TARGET;
  if (!targets[defaultTarget]) {
    throw new LedgeError('config', `${file}: default_target: no target named '${defaultTarget}'`, {
      hint: `define it under targets:, or name one of ${knownTargets(targets)}`,
    });
  }
  return { file, defaultTarget, targets };
}

/** Reads `<ledgeDir>/deploy.yaml`; the built-in default when it does not exist. */
export function readDeployConfig(ledgeDir: string, workspaceRoot: string): DeployConfig {
  const file = path.join(ledgeDir, DEPLOY_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) {
      return {
        file: undefined,
        defaultTarget: BUILT_IN_TARGET,
        targets: { [BUILT_IN_TARGET]: defaultLocalTarget() },
      };
    }
    throw new LedgeError('config', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseDeployConfig(text, path.relative(workspaceRoot, file) || file);
}

function knownTargets(targets: Record<string, unknown>): string {
  return Object.keys(targets)
    .sort()
    .map((name) => `'${name}'`)
    .join(', ');
}

/** The configuration of target `name` (default: the default target). */
export function targetConfig(
  config: DeployConfig,
  name: string | undefined,
): { name: string; config: TargetConfig } {
  const chosen = name ?? config.defaultTarget;
  const found = Object.hasOwn(config.targets, chosen) ? config.targets[chosen] : undefined;
  if (!found) {
    throw new DeployError(
      'unknown-target',
      `no deploy target '${chosen}' (known: ${knownTargets(config.targets)})`,
      { hint: `targets are defined in ${config.file ?? '.ledge/deploy.yaml'} (docs/deploy.md)` },
    );
  }
  return { name: chosen, config: found };
}
