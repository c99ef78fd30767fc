/**
 * `.ledge/server.yaml` (committed next to config.yaml): where `ledge server` listens, who may
 * read, and its triggers. Validated with zod; every problem is one line naming the file, the
 * line and the key. Secrets are never in the file: it names the environment variables that
 * hold them.
 *
 *     host: 127.0.0.1
 *     port: 8787
 *     public_read: false
 *     on_shutdown: cancel          # or finish: let the running run end first
 *     run_args: [-j, "2"]
 *     git_remote: origin           # where pushed commits are fetched from
 *     triggers:
 *       watch: { debounce: 1 }     # ledge.yaml, params files, pointer files, stage dependencies
 *       git: { branch: main, interval: 5, fetch: true }
 *       schedule:
 *         - { name: nightly, cron: "0 3 * * *", stages: [train], catch_up: true }
 *       github: { secret_env: LEDGE_GITHUB_SECRET, branch: main }
 *       gitlab: { token_env: LEDGE_GITLAB_TOKEN, branch: main }
 */
import fs from 'node:fs';
import path from 'node:path';
import { Cron } from 'croner';
import { z } from 'zod';
import { isErrno, LedgeError } from '../core/errors.js';
import { parseYamlWith } from '../core/yaml-schema.js';

export const SERVER_FILE = 'server.yaml';
export const DEFAULT_SERVER_PORT = 8787;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const seconds = (max: number) => z.number().positive().max(max);
const stageList = z.array(z.string().min(1)).default([]);

const cronExpression = z.string().superRefine((text, ctx) => {
  try {
    new Cron(text, { paused: true });
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `not a cron expression: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
});

const webhookFields = {
  /** Pushes to this branch start a run (others are acknowledged and ignored). */
  branch: z.string().min(1).default('main'),
  stages: stageList,
};
const envName = z.string().regex(ENV_NAME, 'an environment variable name');
/** GitHub: the environment variable holding the webhook secret (HMAC key). */
const githubSchema = z.object({ secret_env: envName, ...webhookFields }).strict();
/** GitLab: the environment variable holding the secret token it sends. */
const gitlabSchema = z.object({ token_env: envName, ...webhookFields }).strict();

const serverFileSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(DEFAULT_SERVER_PORT),
    /** Let anyone who reaches the server read the dashboard and the API without a token. */
    public_read: z.boolean().default(false),
    /** What SIGTERM does to the running run: stop it (recorded interrupted), or let it finish. */
    on_shutdown: z.enum(['cancel', 'finish']).default('cancel'),
    /** Seconds a cancelled run has after SIGTERM before SIGKILL. */
    cancel_grace: seconds(3600).default(10),
    /** Extra `ledge run` flags for every run. */
    run_args: z.array(z.string()).default([]),
    /** The git remote that pushed commits are fetched from (webhook and git-trigger runs). */
    git_remote: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'a git remote name')
      .default('origin'),
    triggers: z
      .object({
        watch: z
          .union([
            z.literal(false),
            z
              .object({
                debounce: seconds(600).default(1),
                /** More paths to watch, besides what the pipeline reads. */
                paths: z.array(z.string().min(1)).default([]),
                stages: stageList,
              })
              .strict(),
          ])
          .optional(),
        git: z
          .object({
            branch: z.string().min(1),
            interval: seconds(86_400).default(5),
            /** Watch `git_remote`'s branch (fetched every interval) instead of the local branch. */
            fetch: z.boolean().default(false),
            stages: stageList,
          })
          .strict()
          .optional(),
        schedule: z
          .array(
            z
              .object({
                name: z.string().min(1).optional(),
                cron: cronExpression,
                /** An IANA time zone for the expression (default: UTC). */
                timezone: z.string().min(1).default('UTC'),
                stages: stageList,
                /** Times missed while the server was down become one run at its start. */
                catch_up: z.boolean().default(true),
                /** …only when the newest missed time is at most this many seconds old. */
                catch_up_within: seconds(366 * 86_400).optional(),
              })
              .strict(),
          )
          .default([]),
        github: githubSchema.optional(),
        gitlab: gitlabSchema.optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ServerConfig = z.infer<typeof serverFileSchema> & {
  /** The file it came from (workspace-relative), or undefined for the defaults. */
  file: string | undefined;
};
export type ScheduleConfig = ServerConfig['triggers']['schedule'][number];

export function parseServerConfig(text: string, file: string): ServerConfig {
  const parsed = parseYamlWith({ text, file }, serverFileSchema, {
    hint: 'see docs/control-plane.md for the keys of .ledge/server.yaml',
  });
  return { ...parsed, file };
}

/** Reads `<ledgeDir>/server.yaml`; the defaults (no triggers but manual ones) without it. */
export function readServerConfig(ledgeDir: string, workspaceRoot: string): ServerConfig {
  const file = path.join(ledgeDir, SERVER_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return { ...serverFileSchema.parse({}), file: undefined };
    throw new LedgeError('config', `cannot read ${file}: ${error instanceof Error ? error.message : error}`);
  }
  return parseServerConfig(text, path.relative(workspaceRoot, file) || file);
}

/** A secret named by `*_env`, or a one-line error saying which variable to set. */
export function secretFromEnv(name: string, what: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (!value) {
    throw new LedgeError('config', `${what}: the environment variable ${name} is not set`, {
      hint: `set ${name} to the shared secret before starting ledge server`,
    });
  }
  return value;
}
