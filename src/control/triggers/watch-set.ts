/**
 * Which paths a pipeline change consists of, as a pure decision: `ledge.yaml`, parameter files,
 * pointer files (`*.ledge`) and stage dependencies count; what runs write (outputs, metrics
 * files, `ledge.lock`, `.ledge/`, `.git/`) does not, so a run never triggers itself.
 */
import path from 'node:path';
import type { Pipeline } from '../../pipeline/pipeline-file.js';

export interface WatchSet {
  /** Workspace-relative files and directories whose changes count (a directory: anything inside). */
  include: string[];
  /** Workspace-relative paths whose changes never count, even inside an included directory. */
  exclude: string[];
}

const ALWAYS_EXCLUDED = ['.ledge', '.git', 'ledge.lock', 'node_modules'];

export function watchSetOf(pipeline: Pipeline | undefined, extra: string[] = []): WatchSet {
  const include = new Set<string>([pipeline?.file ?? 'ledge.yaml', ...extra]);
  const exclude = new Set<string>(ALWAYS_EXCLUDED);
  for (const stage of pipeline?.stages ?? []) {
    for (const dep of stage.deps) include.add(dep);
    for (const file of stage.params.keys()) include.add(file);
    for (const out of [...stage.outs, ...stage.metrics]) exclude.add(out);
  }
  if ((pipeline?.stages ?? []).every((s) => s.params.size === 0)) include.add('params.yaml');
  return { include: [...include].filter((p) => p !== ''), exclude: [...exclude] };
}

const within = (rel: string, base: string) => rel === base || rel.startsWith(`${base}/`);

/** Whether a change of `rel` (workspace-relative, POSIX) should start a run. */
export function isWatchedChange(rel: string, set: WatchSet): boolean {
  const normal = path.posix.normalize(rel.replace(/\\/g, '/'));
  if (set.exclude.some((e) => within(normal, e))) return false;
  if (normal.endsWith('.ledge')) return true;
  return set.include.some((i) => within(normal, i));
}

/**
 * The directories to watch (non-recursively) to see every change in the set: the workspace
 * root, the folder of each included path (where its pointer file lives too), and each included
 * directory (its subdirectories are added by the watcher as it finds them).
 */
export function directoriesToWatch(set: WatchSet, isDirectory: (rel: string) => boolean): string[] {
  const dirs = new Set<string>(['']);
  for (const rel of set.include) {
    if (isDirectory(rel)) dirs.add(rel);
    // The folder holding it also holds its pointer file (`data/reviews.ledge` for data/reviews).
    dirs.add(path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel));
  }
  return [...dirs];
}
