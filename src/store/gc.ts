/**
 * `ledge gc`: removes cache objects nothing references. Roots are the pointer files in the
 * workspace, and with `allCommits` every pointer file in any git commit. Also clears temp
 * files left by killed processes.
 */
import fs from 'node:fs';
import type { Digest } from '../core/digest.js';
import { LedgeError } from '../core/errors.js';
import { blobsInHistory, isGitRepo, readBlobs } from '../core/git.js';
import { type Pointer, parsePointer } from './pointer-file.js';
import type { Store } from './store.js';
import { findPointerFiles, loadTracked } from './tracked-paths.js';
import { POINTER_SUFFIX } from './workspace.js';

export interface GcOptions {
  allCommits?: boolean;
  dryRun?: boolean;
  /** More versions to keep, e.g. the stage outputs recorded in pipeline lock files. */
  extraRoots?: Pointer[];
}

export interface GcResult {
  removed: number;
  removedBytes: number;
  kept: number;
  tempsRemoved: number;
  /** Directory manifests referenced but absent, whose files could not be protected. */
  unknownManifests: Digest[];
}

async function rootPointers(store: Store, allCommits: boolean): Promise<Pointer[]> {
  const pointers = findPointerFiles(store.ws).map((p) => loadTracked(store.ws, p).pointer);
  if (!allCommits) return pointers;
  if (!isGitRepo(store.ws.root)) {
    throw new LedgeError(
      'usage',
      `--all-commits needs a git repository, and ${store.ws.root} is not in one`,
      {
        hint: 'run plain `ledge gc` to keep what the workspace references',
      },
    );
  }
  const blobs = await readBlobs(store.ws.root, blobsInHistory(store.ws.root, POINTER_SUFFIX));
  for (const [id, text] of blobs) {
    try {
      pointers.push(parsePointer(text, `git blob ${id}`));
    } catch {
      // A file that merely ends in .ledge, or a damaged old commit: it protects nothing.
    }
  }
  return pointers;
}

export async function gc(store: Store, options: GcOptions = {}): Promise<GcResult> {
  const pointers = [
    ...(await rootPointers(store, options.allCommits ?? false)),
    ...(options.extraRoots ?? []),
  ];
  const keep = new Set<Digest>();
  const unknownManifests: Digest[] = [];
  for (const pointer of pointers) {
    keep.add(pointer.digest);
    if (pointer.type !== 'dir') continue;
    if (!store.cache.has(pointer.digest)) {
      unknownManifests.push(pointer.digest);
      continue;
    }
    for (const entry of store.readManifest(pointer.digest)) keep.add(entry.digest);
  }
  const result: GcResult = { removed: 0, removedBytes: 0, kept: 0, tempsRemoved: 0, unknownManifests };
  const doomed: Digest[] = [];
  for (const digest of store.cache.listAll()) {
    if (keep.has(digest)) {
      result.kept++;
      continue;
    }
    result.removed++;
    result.removedBytes += store.cache.sizeOf(digest) ?? 0;
    doomed.push(digest);
  }
  if (!options.dryRun) store.cache.remove(doomed);
  for (const temp of store.cache.staleTemps()) {
    result.tempsRemoved++;
    if (!options.dryRun) fs.rmSync(temp, { force: true });
  }
  return result;
}
