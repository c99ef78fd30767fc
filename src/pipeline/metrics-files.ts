/**
 * Where metric values come from: the metrics files in the workspace, or a git revision. At a
 * revision, `ledge.lock` names each metrics file's digest, read from the cache; a metrics file
 * committed to git is the fallback.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Digest } from '../core/digest.js';
import { fsError, isErrno, isLedgeError, LedgeError } from '../core/errors.js';
import { resolveCommit, showFile } from '../core/git.js';
import type { Store } from '../store/store.js';
import { lockPathFor, parseLockFile } from './lock-file.js';
import { type MetricsOfFile, parseMetrics } from './metrics.js';
import { PIPELINE_FILE, parsePipeline } from './pipeline-file.js';

/** Where an old metrics file was read from (`undefined`: found in neither place). */
export type MetricsSource = 'cache' | 'git' | undefined;

export interface MetricsAtRevision {
  rev: string;
  commit: string;
  files: (MetricsOfFile & { source: MetricsSource })[];
}

function unique(paths: string[]): string[] {
  return [...new Set(paths)];
}

/**
 * The metrics files the workspace's ledge.yaml declares (workspace-relative, in stage order),
 * or undefined when there is no ledge.yaml.
 */
export function declaredMetricsFiles(root: string): string[] | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(root, PIPELINE_FILE), 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw fsError(error, PIPELINE_FILE, 'cannot read the pipeline');
  }
  return unique(parsePipeline(text, PIPELINE_FILE).stages.flatMap((stage) => stage.metrics));
}

/** Reads metrics files (workspace-relative paths) from the workspace; a missing file has no values. */
export function readWorkspaceMetrics(root: string, paths: string[]): MetricsOfFile[] {
  return paths.map((rel) => {
    let text: string;
    try {
      text = fs.readFileSync(path.join(root, ...rel.split('/')), 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return { path: rel, values: undefined };
      if (isErrno(error, 'EISDIR')) {
        throw new LedgeError('unreadable', `${rel} is a directory, not a metrics file`, {
          hint: 'metrics files are JSON files',
        });
      }
      throw fsError(error, rel, 'cannot read metrics');
    }
    return { path: rel, values: parseMetrics(text, rel) };
  });
}

/** A committed lock file; when it is invalid, the error says where without suggesting a fix in git. */
function parseLockAt(text: string, shownAs: string) {
  try {
    return parseLockFile(text, shownAs);
  } catch (error) {
    if (!isLedgeError(error)) throw error;
    throw new LedgeError(error.code, error.message, {
      hint: 'compare with another revision (the lock file committed there is invalid)',
      cause: error,
    });
  }
}

/**
 * The metrics at a git revision: of `paths`, or (when none are given) of the files ledge.yaml
 * declares now and those the revision's ledge.lock lists. Each file's content comes from the
 * cache (by the digest in the revision's ledge.lock), else from the file committed to git.
 */
export function readMetricsAtRevision(store: Store, rev: string, paths?: string[]): MetricsAtRevision {
  const root = store.ws.root;
  const commit = resolveCommit(root, rev);
  const lockFile = lockPathFor(PIPELINE_FILE);
  const lockText = showFile(root, commit, lockFile);
  const lock = lockText === undefined ? undefined : parseLockAt(lockText, `${lockFile} at ${rev}`);
  const digests = new Map<string, Digest>();
  for (const stage of Object.values(lock?.stages ?? {})) {
    for (const entry of stage.metrics) digests.set(entry.path, entry.digest);
  }
  const wanted =
    paths && paths.length > 0 ? paths : unique([...(declaredMetricsFiles(root) ?? []), ...digests.keys()]);
  const files = wanted.map((rel) => {
    const shownAs = `${rel} at ${rev}`;
    const digest = digests.get(rel);
    if (digest && store.cache.has(digest)) {
      return {
        path: rel,
        values: parseMetrics(store.cache.readBuffer(digest).toString('utf8'), shownAs),
        source: 'cache' as const,
      };
    }
    const committed = showFile(root, commit, rel);
    if (committed !== undefined)
      return { path: rel, values: parseMetrics(committed, shownAs), source: 'git' as const };
    return { path: rel, values: undefined, source: undefined };
  });
  return { rev, commit, files };
}
