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

/** `kind` defaults to local; the next kinds (engine) join the union. */
const targetSchema = z.preprocess(
  (value) =>
    value && typeof value === 'object' && !Array.isArray(value) && !('kind' in value)
      ? { kind: 'local', ...value }
      : (value ?? { kind: 'local' }),
  z.discriminatedUnion('kind', [localTargetSchema]),
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
