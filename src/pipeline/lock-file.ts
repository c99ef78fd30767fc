/**
 * `ledge.lock`: what each stage last ran with and produced, written by `ledge run` next to
 * `ledge.yaml` and committed with it. A stage is up to date when its command, dependency
 * digests and parameter values match its entry here and its outputs still hold the recorded
 * versions.
 *
 *     schema: '1'
 *     stages:
 *       train:
 *         cmd: [node train.js]
 *         deps:
 *           - {path: data/prepared, type: dir, digest: sha256:…, size: 1234, files: 2}
 *         params:
 *           params.yaml: {train.epochs: 5}
 *         outs:
 *           - {path: model, type: dir, digest: sha256:…, size: 99, files: 3}
 *         metrics:
 *           - {path: metrics/train.json, type: file, digest: sha256:…, size: 40}
 */
import fs from 'node:fs';
import { stringify } from 'yaml';
import { z } from 'zod';
import { writeFileAtomicSync } from '../core/atomic-fs.js';
import type { Digest } from '../core/digest.js';
import { isErrno, LedgeError } from '../core/errors.js';
import { parseYamlWith } from '../core/yaml-schema.js';

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 lowercase hex digits>');

const pathVersionSchema = z
  .object({
    path: z.string().min(1),
    type: z.enum(['file', 'dir']),
    digest,
    size: z.number().int().nonnegative(),
    files: z.number().int().nonnegative().optional(),
  })
  .strict();

const lockedStageSchema = z
  .object({
    cmd: z.array(z.string()),
    wdir: z.string().optional(),
    env: z.record(z.string(), z.string()).optional(),
    deps: z.array(pathVersionSchema).default([]),
    params: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
    outs: z.array(pathVersionSchema).default([]),
    metrics: z.array(pathVersionSchema).default([]),
  })
  .strict();

const lockSchema = z
  .object({
    schema: z.literal('1'),
    stages: z.record(z.string(), lockedStageSchema).default({}),
  })
  .strict();

/** A file or directory version: a file's content digest, or a directory's manifest digest. */
export interface PathVersion {
  path: string;
  type: 'file' | 'dir';
  digest: Digest;
  size: number;
  files?: number | undefined;
}

export interface LockedStage {
  cmd: string[];
  wdir?: string | undefined;
  env?: Record<string, string> | undefined;
  deps: PathVersion[];
  /** Values by parameters file, then by key. */
  params: Record<string, Record<string, unknown>>;
  outs: PathVersion[];
  metrics: PathVersion[];
}

export interface LockFile {
  stages: Record<string, LockedStage>;
}

const HEADER = '# Written by `ledge run`: what each stage last ran with and produced. Commit it.\n';

/** The lock file that belongs to a pipeline file (`ledge.yaml` → `ledge.lock`). */
export function lockPathFor(pipelineFile: string): string {
  return `${pipelineFile.replace(/\.ya?ml$/, '')}.lock`;
}

/** The lock file of the workspace's pipeline. */
export const LOCK_FILE = 'ledge.lock';

export function parseLockFile(text: string, shownAs: string): LockFile {
  const parsed = parseYamlWith({ text, file: shownAs }, lockSchema, {
    code: 'corrupt-lock',
    hint: `restore it from git (git checkout -- ${shownAs}), or delete it to rerun every stage`,
  });
  return parsed as LockFile;
}

/** Reads a lock file; a missing one is an empty lock. */
export function readLockFile(absPath: string, shownAs: string): LockFile {
  let text: string;
  try {
    text = fs.readFileSync(absPath, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return { stages: {} };
    throw new LedgeError('io', `cannot read ${shownAs}: ${(error as Error).message}`);
  }
  return parseLockFile(text, shownAs);
}

function compactVersion(v: PathVersion): Record<string, unknown> {
  const out: Record<string, unknown> = { path: v.path, type: v.type, digest: v.digest, size: v.size };
  if (v.files !== undefined) out.files = v.files;
  return out;
}

/** Stable text: stages and keys in a fixed order, so the file diffs well in git. */
export function serializeLockFile(lock: LockFile): string {
  const stages: Record<string, unknown> = {};
  for (const name of Object.keys(lock.stages).sort()) {
    const s = lock.stages[name]!;
    const entry: Record<string, unknown> = { cmd: s.cmd };
    if (s.wdir) entry.wdir = s.wdir;
    if (s.env && Object.keys(s.env).length > 0) entry.env = sortKeys(s.env);
    if (s.deps.length > 0) entry.deps = s.deps.map(compactVersion);
    if (Object.keys(s.params).length > 0) {
      const params: Record<string, unknown> = {};
      for (const file of Object.keys(s.params).sort()) params[file] = sortKeys(s.params[file]!);
      entry.params = params;
    }
    if (s.outs.length > 0) entry.outs = s.outs.map(compactVersion);
    if (s.metrics.length > 0) entry.metrics = s.metrics.map(compactVersion);
    stages[name] = entry;
  }
  return HEADER + stringify({ schema: '1', stages }, { lineWidth: 0, flowCollectionPadding: false });
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function writeLockFile(absPath: string, lock: LockFile): void {
  writeFileAtomicSync(absPath, serializeLockFile(lock));
}
