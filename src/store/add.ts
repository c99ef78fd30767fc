/**
 * `ledge add`: puts files and directories into the cache and writes their pointer files.
 */
import fs from 'node:fs';
import type { Digest } from '../core/digest.js';
import { fsError, LedgeError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import { ensureIgnored } from './gitignore.js';
import { materializeObject } from './link.js';
import { type Pointer, pointerPathFor, readPointer, serializePointer, writePointer } from './pointer-file.js';
import { type Store, totals } from './store.js';
import { enclosingTracked } from './tracked-paths.js';
import { POINTER_SUFFIX } from './workspace.js';

export interface AddOptions {
  cwd?: string;
  progress?: Progress | undefined;
}

export interface AddResult {
  path: string;
  pointerPath: string;
  type: 'file' | 'dir';
  digest: Digest;
  size: number;
  files: number;
  /** Whether the pointer changed (false: the data was already tracked as is). */
  changed: boolean;
}

/** Validates every argument before anything is written, so a typo costs nothing. */
function resolveTargets(store: Store, paths: string[], cwd: string): string[] {
  const targets: string[] = [];
  for (const userPath of paths) {
    const rel = store.ws.relativePath(userPath.replace(/[\\/]+$/, ''), cwd);
    if (rel.endsWith(POINTER_SUFFIX)) {
      throw new LedgeError('usage', `'${userPath}' is a pointer file`, {
        hint: `add the data itself: ledge add ${userPath.slice(0, -POINTER_SUFFIX.length)}`,
      });
    }
    try {
      fs.statSync(store.ws.absolutePath(rel));
    } catch (error) {
      throw fsError(error, userPath, 'cannot add');
    }
    const parent = enclosingTracked(store.ws, rel);
    if (parent) {
      throw new LedgeError('usage', `'${userPath}' is inside '${parent}', which is already tracked`, {
        hint: `run \`ledge add ${parent}\` to record changes inside it`,
      });
    }
    if (!targets.includes(rel)) targets.push(rel);
  }
  return targets;
}

export async function addPaths(
  store: Store,
  paths: string[],
  options: AddOptions = {},
): Promise<AddResult[]> {
  const targets = resolveTargets(store, paths, options.cwd ?? process.cwd());
  const results: AddResult[] = [];
  for (const rel of targets) {
    const previous = previousPointer(store, rel);
    const scan = await store.scan(rel, {
      store: true,
      progress: options.progress,
      completeManifest: previous?.type === 'dir' ? previous.digest : undefined,
    });
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    let pointer: Pointer;
    if (scan.type === 'dir') {
      const nested = scan.entries.find((e) => e.path.endsWith(POINTER_SUFFIX));
      if (nested) {
        throw new LedgeError('usage', `'${rel}' contains the pointer file '${rel}/${nested.path}'`, {
          hint: 'track either the directory or the paths inside it, not both',
        });
      }
      const digest = scan.unchanged ?? store.writeManifest(scan.entries);
      store.cache.markComplete(digest); // every file object was stored or found by the scan
      const { size, files } = totals(scan.entries);
      pointer = { version: 1, path: name, type: 'dir', digest, size, files };
    } else if (scan.type === 'file') {
      pointer = { version: 1, path: name, type: 'file', digest: scan.entry.digest, size: scan.entry.size };
    } else {
      throw new LedgeError('path-not-found', `'${rel}' disappeared while it was being added`);
    }
    const pointerPath = pointerPathFor(rel);
    const absPointer = store.ws.absolutePath(pointerPath);
    const before = fs.existsSync(absPointer) ? fs.readFileSync(absPointer, 'utf8') : undefined;
    const changed = before !== serializePointer(pointer);
    if (changed) writePointer(absPointer, pointer);
    ensureIgnored(store.ws.absolutePath(rel));
    if (changed || scan.type !== 'dir' || !scan.unchanged) linkIntoWorkspace(store, rel, scan);
    results.push({
      path: rel,
      pointerPath,
      type: pointer.type,
      digest: pointer.digest,
      size: pointer.size,
      files: pointer.files ?? 1,
      changed,
    });
  }
  return results;
}

/** The pointer `rel` has now, if it has a valid one (a broken one is simply replaced). */
function previousPointer(store: Store, rel: string): Pointer | undefined {
  const pointerPath = pointerPathFor(rel);
  try {
    return readPointer(store.ws.absolutePath(pointerPath), pointerPath);
  } catch {
    return undefined;
  }
}

/**
 * With `link: [hardlink]` or `[symlink]` configured, workspace files are replaced by links
 * into the cache after adding, so the data is stored once on disk.
 */
function linkIntoWorkspace(store: Store, rel: string, scan: Awaited<ReturnType<Store['scan']>>): void {
  const preference = store.ws.config.link;
  if (preference[0] !== 'hardlink' && preference[0] !== 'symlink') return;
  const entries = scan.type === 'dir' ? scan.entries : scan.type === 'file' ? [scan.entry] : [];
  const now = entries.map((entry) => {
    const abs = store.ws.absolutePath(scan.type === 'dir' ? `${rel}/${entry.path}` : rel);
    materializeObject(store.cache, entry.digest, abs, entry.executable, preference);
    const st = fs.statSync(abs);
    return { ...entry, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  });
  store.saveStatSnapshot(rel, now);
}
