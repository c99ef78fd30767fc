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
  /** What is known of the default remote: whole versions pushed, and single objects. */
  remote?: RemoteKnowledge | undefined;
}

export interface RemoteKnowledge {
  /** Whether this pointer digest and everything it references is known to be on the remote. */
  isComplete(digest: Digest): boolean;
  /** Every object known to be on the remote. */
  objects(): Set<Digest>;
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
  // Per-object listings are loaded only when a completeness marker cannot answer.
  let cached: Set<Digest> | undefined;
  const cachedObjects = () => {
    cached ??= store.cache.listAll();
    return cached;
  };
  const remote = options.remote;
  let remoteObjects: Set<Digest> | undefined;
  const results: StatusEntry[] = [];
  for (const item of tracked) {
    const { pointer } = item;
    const isDir = pointer.type === 'dir';
    const scan = await store.scan(item.path, {
      store: false,
      progress: options.progress,
      completeManifest: isDir ? pointer.digest : undefined,
    });
    const entry: StatusEntry = {
      path: item.path,
      pointerPath: item.pointerPath,
      type: pointer.type,
      digest: pointer.digest,
      workspace: 'up-to-date',
      missingFromCache: 0,
    };
    const complete = isDir ? store.cache.isComplete(pointer.digest) : store.cache.has(pointer.digest);
    let manifest: DirEntry[] | undefined;
    const loadManifest = () => {
      if (manifest === undefined && isDir && store.cache.has(pointer.digest))
        manifest = store.readManifest(pointer.digest);
      return manifest;
    };
    if (scan.type === 'missing') {
      entry.workspace = 'missing';
    } else if (scan.type === 'file') {
      if (isDir || scan.entry.digest !== pointer.digest) entry.workspace = 'modified';
    } else if (!isDir) {
      entry.workspace = 'modified';
    } else if (scan.unchanged !== pointer.digest && manifestDigest(scan.entries) !== pointer.digest) {
      entry.workspace = 'modified';
      const before = loadManifest();
      if (before) entry.changes = diffEntries(before, scan.entries);
    }
    // What the pointer needs: the manifest and its files, or (manifest unknown) the manifest.
    const needed = () => {
      if (!isDir) return [pointer.digest];
      const files = loadManifest();
      return files ? [pointer.digest, ...files.map((e) => e.digest)] : [pointer.digest];
    };
    entry.missingFromCache = complete ? 0 : countMissing(needed(), cachedObjects());
    if (remote) {
      if (remote.isComplete(pointer.digest)) entry.notPushed = 0;
      else {
        remoteObjects ??= remote.objects();
        entry.notPushed = countMissing(needed(), remoteObjects);
      }
    }
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
