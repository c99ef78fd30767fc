/**
 * `ledge status`: how each tracked path compares with its pointer file, the cache and the
 * default remote. Read-only apart from refreshing the stat cache.
 */
import type { Digest } from '../core/digest.js';
import type { Progress } from '../core/progress.js';
import { type DirEntry, manifestDigest } from './dir-manifest.js';
import type { Store } from './store.js';
import type { Tracked } from './tracked-paths.js';

export type WorkspaceState = 'up-to-date' | 'modified' | 'missing';

export interface FileChanges {
  added: string[];
  modified: string[];
  deleted: string[];
}

export interface StatusEntry {
  path: string;
  pointerPath: string;
  type: 'file' | 'dir';
  digest: Digest;
  workspace: WorkspaceState;
  /** For modified directories whose old manifest is available: which files changed. */
  changes?: FileChanges;
  /** Objects the pointer needs that the cache lacks (fetch or pull them). */
  missingFromCache: number;
  /** Objects not known to be on the default remote; undefined without a default remote. */
  notPushed?: number;
}

export interface StatusOptions {
  progress?: Progress | undefined;
  /** Known objects of the default remote (from the remote index or a fresh listing). */
  remoteObjects?: Set<Digest> | undefined;
}

export function diffEntries(before: DirEntry[], after: DirEntry[]): FileChanges {
  const old = new Map(before.map((e) => [e.path, e]));
  const changes: FileChanges = { added: [], modified: [], deleted: [] };
  for (const entry of after) {
    const previous = old.get(entry.path);
    if (!previous) changes.added.push(entry.path);
    else if (previous.digest !== entry.digest || previous.executable !== entry.executable) {
      changes.modified.push(entry.path);
    }
    old.delete(entry.path);
  }
  changes.deleted.push(...old.keys());
  return changes;
}

/** All objects a pointer needs, or undefined for a directory whose manifest is not cached. */
export function neededObjects(store: Store, tracked: Tracked): Digest[] | undefined {
  const { pointer } = tracked;
  if (pointer.type === 'file') return [pointer.digest];
  if (!store.cache.has(pointer.digest)) return undefined;
  return [pointer.digest, ...store.readManifest(pointer.digest).map((e) => e.digest)];
}

export async function status(
  store: Store,
  tracked: Tracked[],
  options: StatusOptions = {},
): Promise<StatusEntry[]> {
  const cached = store.cache.listAll();
  const results: StatusEntry[] = [];
  for (const item of tracked) {
    const { pointer } = item;
    const scan = await store.scan(item.path, { store: false, progress: options.progress });
    const expected =
      pointer.type === 'dir' && cached.has(pointer.digest) ? store.readManifest(pointer.digest) : undefined;
    const entry: StatusEntry = {
      path: item.path,
      pointerPath: item.pointerPath,
      type: pointer.type,
      digest: pointer.digest,
      workspace: 'up-to-date',
      missingFromCache: 0,
    };
    if (scan.type === 'missing') {
      entry.workspace = 'missing';
    } else if (scan.type === 'file') {
      if (pointer.type !== 'file' || scan.entry.digest !== pointer.digest) entry.workspace = 'modified';
    } else if (pointer.type !== 'dir') {
      entry.workspace = 'modified';
    } else {
      const digest = manifestDigest(scan.entries);
      if (digest !== pointer.digest) {
        entry.workspace = 'modified';
        if (expected) entry.changes = diffEntries(expected, scan.entries);
      }
    }
    const needed =
      pointer.type === 'file'
        ? [pointer.digest]
        : expected
          ? [pointer.digest, ...expected.map((e) => e.digest)]
          : undefined;
    // Without the manifest, only the manifest itself is known to be needed.
    const known = needed ?? [pointer.digest];
    entry.missingFromCache = countMissing(known, cached);
    if (options.remoteObjects) entry.notPushed = countMissing(known, options.remoteObjects);
    results.push(entry);
  }
  return results;
}

function countMissing(digests: Digest[], present: Set<Digest>): number {
  let missing = 0;
  const seen = new Set<Digest>();
  for (const d of digests) {
    if (seen.has(d)) continue;
    seen.add(d);
    if (!present.has(d)) missing++;
  }
  return missing;
}
