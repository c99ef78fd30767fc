/**
 * Workspace configuration: `.ledge/config.yaml` (committed) merged with
 * `.ledge/config.local.yaml` (git-ignored: credentials, machine-specific paths), then
 * `LEDGE_*` environment overrides.
 */
import fs from 'node:fs';
import os from 'node:os';
import { stringify } from 'yaml';
import { z } from 'zod';
import { writeFileAtomicSync } from '../core/atomic-fs.js';
import { isErrno, LedgeError } from '../core/errors.js';
import { parseYamlWith } from '../core/yaml-schema.js';

export const LINK_TYPES = ['reflink', 'copy', 'hardlink', 'symlink'] as const;
export type LinkType = (typeof LINK_TYPES)[number];

const remoteSchema = z
  .object({
    url: z.string().min(1),
    endpoint: z.string().optional(),
    region: z.string().optional(),
    access_key_id: z.string().optional(),
    secret_access_key: z.string().optional(),
    session_token: z.string().optional(),
    force_path_style: z.boolean().optional(),
  })
  .strict();

export const configSchema = z
  .object({
    core: z
      .object({
        /** Name of the default remote for push, fetch, pull and status. */
        remote: z.string().optional(),
        /** Ways to place cache objects in the workspace, tried in order. */
        link: z.array(z.enum(LINK_TYPES)).min(1).optional(),
        /** Where the object cache lives; default `.ledge/cache`. May be shared by workspaces. */
        cache_dir: z.string().optional(),
        /** Parallel hashing / transfer jobs; default: number of cores (hashing), 16 (transfer). */
        jobs: z.number().int().positive().optional(),
        /** Seconds to wait for another ledge process holding the workspace lock. */
        lock_timeout: z.number().nonnegative().optional(),
        /** Metadata database: a postgres:// URL; default the SQLite file .ledge/state/metadata.db. */
        db_url: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    remotes: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), remoteSchema).optional(),
  })
  .strict();

export type LedgeConfig = z.infer<typeof configSchema>;
export type RemoteSettings = z.infer<typeof remoteSchema>;

/** The effective settings after defaults and environment overrides. */
export interface ResolvedConfig {
  remote: string | undefined;
  link: LinkType[];
  cacheDir: string | undefined;
  hashJobs: number;
  transferJobs: number;
  lockTimeoutSeconds: number;
  /** A postgres:// URL, or undefined for the embedded SQLite database. */
  dbUrl: string | undefined;
  remotes: Record<string, RemoteSettings>;
}

export function readConfigFile(path: string, shownAs: string): LedgeConfig {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return {};
    throw error;
  }
  return parseYamlWith({ text, file: shownAs }, configSchema, {
    hint: `fix ${shownAs} (see docs/config.md)`,
  });
}

export function writeConfigFile(path: string, config: LedgeConfig): void {
  const header = path.endsWith('.local.yaml')
    ? '# ledge local configuration: not committed (credentials, machine-specific settings)\n'
    : '# ledge configuration: commit this file. Credentials go in config.local.yaml.\n';
  writeFileAtomicSync(path, header + stringify(config));
}

function mergeConfigs(base: LedgeConfig, local: LedgeConfig): LedgeConfig {
  const remotes: Record<string, RemoteSettings> = { ...base.remotes };
  for (const [name, settings] of Object.entries(local.remotes ?? {})) {
    remotes[name] = { ...remotes[name], ...settings };
  }
  return { core: { ...base.core, ...local.core }, remotes };
}

function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new LedgeError('config', `environment variable ${name}='${raw}' is not a non-negative number`);
  }
  return value;
}

function envLinks(): LinkType[] | undefined {
  const raw = process.env.LEDGE_LINK;
  if (!raw) return undefined;
  const links = raw.split(',').map((s) => s.trim());
  for (const link of links) {
    if (!(LINK_TYPES as readonly string[]).includes(link)) {
      throw new LedgeError('config', `LEDGE_LINK: unknown link type '${link}'`, {
        hint: `use a comma-separated list of ${LINK_TYPES.join(', ')}`,
      });
    }
  }
  return links as LinkType[];
}

export function resolveConfig(base: LedgeConfig, local: LedgeConfig): ResolvedConfig {
  const merged = mergeConfigs(base, local);
  const core = merged.core ?? {};
  const jobs = envNumber('LEDGE_JOBS') ?? core.jobs;
  return {
    remote: process.env.LEDGE_REMOTE || core.remote,
    link: envLinks() ?? core.link ?? ['reflink', 'copy'],
    cacheDir: process.env.LEDGE_CACHE_DIR || core.cache_dir,
    hashJobs: jobs ?? Math.max(1, os.availableParallelism()),
    transferJobs: jobs ?? 16,
    lockTimeoutSeconds: envNumber('LEDGE_LOCK_TIMEOUT') ?? core.lock_timeout ?? 120,
    dbUrl: process.env.LEDGE_DB_URL || core.db_url,
    remotes: merged.remotes ?? {},
  };
}
