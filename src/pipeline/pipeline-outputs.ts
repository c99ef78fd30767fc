/**
 * Stage outputs recorded in `ledge.lock` are versioned data like `ledge add`ed paths: `gc`
 * keeps them, `push`, `fetch` and `pull` move them, `checkout` restores them. This turns the
 * lock file's outputs into the tracked-path form those commands work on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { blobsInHistory, readBlobs } from '../core/git.js';
import type { Pointer } from '../store/pointer-file.js';
import { resolveTracked, type Tracked } from '../store/tracked-paths.js';
import type { Workspace } from '../store/workspace.js';
import { LOCK_FILE, type LockFile, type PathVersion, parseLockFile, readLockFile } from './lock-file.js';

function toPointer(version: PathVersion): Pointer {
  return {
    version: 1,
    path: path.posix.basename(version.path),
    type: version.type,
    digest: version.digest,
    size: version.size,
    files: version.files,
  };
}

function outputsOf(lock: LockFile): PathVersion[] {
  return Object.values(lock.stages).flatMap((stage) => [...stage.outs, ...stage.metrics]);
}

/** The outputs the workspace's `ledge.lock` records, as tracked paths. */
export function lockedOutputs(ws: Workspace): Tracked[] {
  const abs = ws.absolutePath(LOCK_FILE);
  if (!fs.existsSync(abs)) return [];
  return outputsOf(readLockFile(abs, LOCK_FILE)).map((version) => ({
    path: version.path,
    pointerPath: LOCK_FILE,
    pointer: toPointer(version),
  }));
}

/** Every output recorded by any `ledge.lock` in any git commit (for `gc --all-commits`). */
export async function lockedOutputsInHistory(ws: Workspace): Promise<Pointer[]> {
  const blobs = await readBlobs(ws.root, blobsInHistory(ws.root, LOCK_FILE));
  const pointers: Pointer[] = [];
  for (const [id, text] of blobs) {
    try {
      pointers.push(...outputsOf(parseLockFile(text, `git blob ${id}`)).map(toPointer));
    } catch {
      // A damaged lock file in an old commit protects nothing.
    }
  }
  return pointers;
}

/**
 * What the user's arguments name among tracked paths and pipeline outputs; no arguments
 * means all of both.
 */
export function resolveTrackedAndOutputs(ws: Workspace, args: string[], cwd: string): Tracked[] {
  const outputs = lockedOutputs(ws);
  if (args.length === 0) return [...resolveTracked(ws, [], cwd), ...outputs];
  const result: Tracked[] = [];
  const rest: string[] = [];
  for (const arg of args) {
    const rel = ws.relativePath(arg.replace(/[\\/]+$/, ''), cwd);
    const output = outputs.find((o) => o.path === rel);
    if (output) result.push(output);
    else rest.push(arg);
  }
  return rest.length > 0 ? [...result, ...resolveTracked(ws, rest, cwd)] : result;
}
