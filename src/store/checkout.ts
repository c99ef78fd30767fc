/**
 * `ledge checkout`: makes the workspace match the pointer files, writing missing or changed
 * files and deleting files a directory version no longer has. Content that exists nowhere
 * but in the workspace (not in the cache) is never overwritten without `force`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isLeftoverTemp, tempPathIn } from '../core/atomic-fs.js';
import type { Digest } from '../core/digest.js';
import { LedgeError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import type { DirEntry } from './dir-manifest.js';
import { materializeObject } from './link.js';
import type { Scan, ScannedEntry, Store } from './store.js';
import type { Tracked } from './tracked-paths.js';

export interface CheckoutOptions {
  force?: boolean;
  progress?: Progress | undefined;
}

export interface CheckoutResult {
  path: string;
  written: number;
  deleted: number;
  unchanged: number;
}

interface Plan {
  tracked: Tracked;
  /** Workspace-relative paths to write, with the entry to write there. */
  writes: { rel: string; entry: DirEntry }[];
  /** Workspace-relative paths to remove (files, or a whole directory replaced by a file). */
  deletes: string[];
  unchanged: number;
  /** The unchanged files as scanned, for the stat cache. */
  kept: ScannedEntry[];
  /** Paths whose current content is not in the cache and would be lost. */
  conflicts: string[];
}

function targetEntries(store: Store, tracked: Tracked): DirEntry[] {
  const { pointer } = tracked;
  if (pointer.type === 'file') {
    return [{ path: '', digest: pointer.digest, size: pointer.size, executable: false }];
  }
  if (!store.cache.has(pointer.digest)) {
    throw new LedgeError('missing-object', `'${tracked.path}': its directory manifest is not in the cache`, {
      hint: `run \`ledge pull ${tracked.path}\` to fetch it from a remote`,
    });
  }
  return store.readManifest(pointer.digest);
}

function join(base: string, rel: string): string {
  return rel === '' ? base : `${base}/${rel}`;
}

function plan(tracked: Tracked, target: DirEntry[], current: Scan, cached: Set<Digest>): Plan {
  const result: Plan = { tracked, writes: [], deletes: [], unchanged: 0, kept: [], conflicts: [] };
  const base = tracked.path;
  const isDir = tracked.pointer.type === 'dir';
  const currentEntries: ScannedEntry[] =
    current.type === 'missing'
      ? []
      : current.type === 'file'
        ? [{ ...current.entry, path: '' }]
        : current.entries;
  const shapeChanged = current.type !== 'missing' && (current.type === 'dir') !== isDir;
  if (shapeChanged) {
    // A file where a directory belongs, or the reverse: the whole thing is replaced.
    for (const entry of currentEntries) {
      if (!cached.has(entry.digest)) result.conflicts.push(join(base, entry.path));
    }
    result.deletes.push(base);
    for (const entry of target) result.writes.push({ rel: join(base, entry.path), entry });
    return result;
  }
  const now = new Map(currentEntries.map((e) => [e.path, e]));
  for (const entry of target) {
    const existing = now.get(entry.path);
    now.delete(entry.path);
    const executableMatches = !isDir || existing?.executable === entry.executable;
    if (existing && existing.digest === entry.digest && executableMatches) {
      result.unchanged++;
      result.kept.push(existing);
      continue;
    }
    if (existing && existing.digest !== entry.digest && !cached.has(existing.digest)) {
      result.conflicts.push(join(base, entry.path));
    }
    result.writes.push({ rel: join(base, entry.path), entry });
  }
  for (const extra of now.values()) {
    if (!cached.has(extra.digest)) result.conflicts.push(join(base, extra.path));
    result.deletes.push(join(base, extra.path));
  }
  return result;
}

/** Removes the temp files and staging directories that dead ledge processes left in `dir`. */
function removeLeftoverTemps(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (isLeftoverTemp(name)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** Removes now-empty directories from `dir` up to (not including) `stop`. */
function pruneEmptyDirs(dir: string, stop: string): void {
  let current = dir;
  while (current.length > stop.length && current.startsWith(stop)) {
    try {
      fs.rmdirSync(current);
    } catch {
      return;
    }
    current = path.dirname(current);
  }
}

export async function checkout(
  store: Store,
  tracked: Tracked[],
  options: CheckoutOptions = {},
): Promise<CheckoutResult[]> {
  const cached = store.cache.listAll();
  const plans: Plan[] = [];
  for (const item of tracked) {
    const target = targetEntries(store, item);
    const missing = target.filter((e) => !cached.has(e.digest));
    if (missing.length > 0) {
      throw new LedgeError(
        'missing-object',
        `'${item.path}': ${missing.length} of ${target.length} objects are not in the cache`,
        { hint: `run \`ledge pull ${item.path}\` to fetch them from a remote` },
      );
    }
    const current = await store.scan(item.path, { store: false, progress: options.progress });
    plans.push(plan(item, target, current, cached));
  }
  const conflicts = plans.flatMap((p) => p.conflicts);
  if (conflicts.length > 0 && !options.force) {
    const shown =
      conflicts.slice(0, 3).join(', ') + (conflicts.length > 3 ? ` and ${conflicts.length - 3} more` : '');
    throw new LedgeError(
      'uncommitted-changes',
      `checkout would overwrite changes that are not in the cache: ${shown}`,
      {
        hint: 'run `ledge add` on them to keep them, or `ledge checkout --force` to discard them',
      },
    );
  }

  // Staging directories and temp files of killed checkouts sit next to the tracked paths;
  // nothing else would ever remove them (and `git add -A` would commit them).
  for (const dir of new Set(plans.map((p) => path.dirname(store.ws.absolutePath(p.tracked.path))))) {
    removeLeftoverTemps(dir);
  }
  const results: CheckoutResult[] = [];
  const total = plans.reduce((n, p) => n + p.writes.length, 0);
  if (total > 0) options.progress?.start('checking out', total, 'files');
  for (const p of plans) {
    const rootAbs = store.ws.absolutePath(p.tracked.path);
    for (const rel of p.deletes) {
      const abs = store.ws.absolutePath(rel);
      fs.rmSync(abs, { recursive: true, force: true });
      if (abs !== rootAbs) pruneEmptyDirs(path.dirname(abs), rootAbs);
    }
    const now: ScannedEntry[] = [...p.kept];
    // A directory that does not exist yet is built in a private staging directory and
    // appears with one rename: no temp file and rename per file, and never half there.
    const fresh = p.tracked.pointer.type === 'dir' && !fs.existsSync(rootAbs);
    const staging = fresh ? tempPathIn(path.dirname(rootAbs)) : undefined;
    if (staging) fs.mkdirSync(staging, { recursive: true });
    for (const { rel, entry } of p.writes) {
      const abs = staging ? path.join(staging, ...entry.path.split('/')) : store.ws.absolutePath(rel);
      materializeObject(
        store.cache,
        entry.digest,
        abs,
        entry.executable,
        store.ws.config.link,
        staging !== undefined,
      );
      const st = fs.statSync(abs);
      now.push({ ...entry, mtimeMs: st.mtimeMs, ino: st.ino, size: st.size });
      options.progress?.advance(1, entry.size);
    }
    if (staging) fs.renameSync(staging, rootAbs);
    if (p.tracked.pointer.type === 'dir') fs.mkdirSync(rootAbs, { recursive: true }); // an empty directory version
    now.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    store.saveStatSnapshot(p.tracked.path, now);
    results.push({
      path: p.tracked.path,
      written: p.writes.length,
      deleted: p.deletes.length,
      unchanged: p.unchanged,
    });
  }
  if (total > 0) options.progress?.stop();
  return results;
}
