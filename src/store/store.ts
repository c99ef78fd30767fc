/**
 * The store: a workspace, its object cache and its local state, opened together. Also the
 * shared step every command builds on: scanning a tracked path into (file → digest) entries,
 * using the stat cache and hashing only what changed.
 */
import fs from 'node:fs';
import type { Digest } from '../core/digest.js';
import { fsError, LedgeError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import { type DirEntry, manifestDigest, parseManifest, serializeManifest } from './dir-manifest.js';
import type { HashFailure, HashResult } from './file-hasher.js';
import { hashFiles } from './hash-pool.js';
import { ObjectCache } from './object-cache.js';
import { DigestSet, type StagedPack } from './pack-file.js';
import type { StatRow } from './stat-snapshot.js';
import { StateDb } from './state-db.js';
import { type WalkedFile, walkTree } from './tree-walk.js';
import type { Workspace } from './workspace.js';

export interface ScanOptions {
  /** Copy new content into the cache while hashing (add) or only hash (status, checkout). */
  store: boolean;
  progress?: Progress | undefined;
  /** Every object in the cache, when the caller already listed it. */
  cached?: Set<Digest> | undefined;
  /**
   * A directory version the caller expects (the pointer's). When it is marked complete in the
   * cache and the stat cache reproduces it exactly, the scan returns at once with `unchanged`.
   */
  completeManifest?: Digest | undefined;
}

/** A file as scanned: its manifest entry plus the stat data the stat cache keys on. */
export interface ScannedEntry extends DirEntry {
  mtimeMs: number;
  ino: number;
}

export type Scan =
  | { type: 'missing' }
  | { type: 'file'; entry: ScannedEntry }
  | {
      type: 'dir';
      entries: ScannedEntry[];
      /** Set when the scan found exactly the complete version `completeManifest`. */
      unchanged?: Digest;
    };

export class Store {
  readonly ws: Workspace;
  readonly cache: ObjectCache;
  private stateDb: StateDb | undefined;

  constructor(ws: Workspace) {
    this.ws = ws;
    this.cache = new ObjectCache(ws.cacheDir);
  }

  get state(): StateDb {
    this.stateDb ??= new StateDb(this.ws.stateDir);
    return this.stateDb;
  }

  close(): void {
    this.cache.close();
    this.stateDb?.close();
    this.stateDb = undefined;
  }

  /** The entries of a directory version, read from its manifest object. */
  readManifest(digest: Digest): DirEntry[] {
    return parseManifest(this.cache.readBuffer(digest), digest).entries;
  }

  /** Stores a directory manifest object; returns its digest. */
  writeManifest(entries: DirEntry[]): Digest {
    return this.cache.putBuffer(serializeManifest(entries));
  }

  /**
   * Reads the current workspace state of a tracked path. Files whose (size, mtime, inode)
   * match the stat cache are not read; the rest are hashed in parallel (and stored, with
   * `store`). Throws the first hashing failure, after keeping whatever was stored intact.
   */
  async scan(relPath: string, options: ScanOptions): Promise<Scan> {
    const abs = this.ws.absolutePath(relPath);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        // A dangling symlink is "missing" too; anything else is a real problem.
        return { type: 'missing' };
      }
      throw fsError(error, relPath, 'cannot read');
    }
    if (st.isDirectory()) {
      const files = walkTree(abs, { displayRoot: relPath });
      const complete = options.completeManifest;
      if (complete && this.cache.isComplete(complete)) {
        // If the stat cache reproduces the complete version exactly, every object is known to
        // be present: no per-object checks, nothing to store.
        const quick = entriesFromSnapshot(files, this.state.statSnapshot(relPath));
        if (quick && manifestDigest(quick) === complete)
          return { type: 'dir', entries: quick, unchanged: complete };
      }
      const entries = await this.digestFiles(relPath, files, options);
      return { type: 'dir', entries };
    }
    if (!st.isFile()) {
      throw new LedgeError('unsupported-file-type', `'${relPath}' is not a regular file or directory`, {
        hint: 'ledge tracks regular files and directories',
      });
    }
    const file: WalkedFile = {
      rel: '',
      size: st.size,
      mtimeMs: st.mtimeMs,
      ino: st.ino,
      executable: (st.mode & 0o111) !== 0,
    };
    const [entry] = await this.digestFiles(relPath, [file], options);
    return { type: 'file', entry: entry! };
  }

  private async digestFiles(
    relPath: string,
    files: WalkedFile[],
    options: ScanOptions,
  ): Promise<ScannedEntry[]> {
    // Both lists are sorted by path: match them with a merge-join.
    const snapshot = this.state.statSnapshot(relPath);
    const cached = options.cached;
    const inCache = (digest: Digest) => (cached ? cached.has(digest) : this.cache.has(digest));
    const entries: ScannedEntry[] = new Array(files.length);
    const toHash: { index: number; file: WalkedFile }[] = [];
    let j = 0;
    for (let index = 0; index < files.length; index++) {
      const file = files[index]!;
      while (j < snapshot.length && snapshot[j]!.rel < file.rel) j++;
      const hit = snapshot[j]?.rel === file.rel ? snapshot[j] : undefined;
      if (
        hit &&
        hit.size === file.size &&
        hit.mtimeMs === file.mtimeMs &&
        hit.ino === file.ino &&
        (!options.store || inCache(hit.digest))
      ) {
        entries[index] = scanned(file, hit.digest);
      } else {
        toHash.push({ index, file });
      }
    }
    const keyOf = (file: WalkedFile) => (file.rel === '' ? relPath : `${relPath}/${file.rel}`);

    if (toHash.length > 0) {
      const progress = options.progress;
      const totalBytes = toHash.reduce((sum, { file }) => sum + file.size, 0);
      progress?.start(options.store ? 'adding' : 'hashing', toHash.length, 'files');
      const outcome = await hashFiles(
        toHash.map(({ file }) => ({
          abs: this.ws.absolutePath(keyOf(file)),
          rel: keyOf(file),
          size: file.size,
        })),
        {
          store: options.store,
          objectsDir: this.cache.objectsDir,
          tempDir: this.cache.tempDir,
          packDir: this.cache.packDir,
          existing:
            options.store && toHash.length > 256 ? DigestSet.from(this.cache.listAll()).buffer : undefined,
          workers: totalBytes > 0 || toHash.length > 64 ? this.ws.config.hashJobs : 1,
          progress,
          failFast: true,
        },
      );
      progress?.stop();
      if (options.store) this.commitHashed(outcome.results, outcome.packs);
      const byRel = new Map<string, HashResult>();
      for (const result of outcome.results) byRel.set(result.rel, result);
      for (const { index, file } of toHash) {
        const result = byRel.get(keyOf(file));
        if (!result) continue;
        entries[index] = {
          path: file.rel,
          digest: result.digest,
          size: result.size,
          executable: file.executable,
          mtimeMs: result.mtimeMs,
          ino: result.ino,
        };
      }
      this.saveStatSnapshot(relPath, entries);
      if (outcome.failures.length > 0) throw failureError(outcome.failures);
    } else if (snapshot.length !== files.length) {
      this.saveStatSnapshot(relPath, entries);
    }
    return entries;
  }

  /**
   * Copies objects from readable files (a directory remote) into the cache on the parallel
   * hashing workers, each verified against its expected digest before it becomes visible.
   * Returns the digests that arrived intact and the failures (missing or corrupt sources).
   */
  async importVerified(
    items: { abs: string; digest: Digest; size?: number }[],
    progress?: Progress,
  ): Promise<{ imported: HashResult[]; failures: HashFailure[] }> {
    const outcome = await hashFiles(
      items.map((item) => ({ abs: item.abs, rel: item.digest, size: item.size })),
      {
        store: true,
        objectsDir: this.cache.objectsDir,
        tempDir: this.cache.tempDir,
        packDir: this.cache.packDir,
        existing: DigestSet.from(this.cache.listAll()).buffer,
        workers: this.ws.config.hashJobs,
        progress,
      },
    );
    const imported: HashResult[] = [];
    const failures = outcome.failures.map((f) =>
      f.code === 'path-not-found'
        ? { ...f, code: 'missing-object' as const, message: `object ${f.rel} is missing on the remote` }
        : f,
    );
    for (const result of outcome.results) {
      if (result.digest === result.rel) {
        imported.push(result);
        continue;
      }
      if (result.temp) fs.rmSync(result.temp, { force: true });
      failures.push({
        rel: result.rel,
        code: 'corrupt-object',
        message: `object ${result.rel} on the remote is corrupt: its bytes hash to ${result.digest}`,
        hint: 'the local cache was not touched; repair the remote by pushing from a workspace with a good copy',
      });
    }
    this.commitHashed(imported, outcome.packs);
    return { imported, failures };
  }

  /** Makes freshly written objects visible (large ones were flushed already; the rest once). */
  private commitHashed(results: HashResult[], packs: StagedPack[]): void {
    const pending = results.filter((r) => r.temp !== undefined);
    const flushed = pending.filter((r) => r.tempDurable);
    for (const r of flushed) this.cache.commitTemp(r.temp!, r.digest);
    if (flushed.length > 0) this.cache.syncShards(flushed.map((r) => r.digest));
    this.cache.commitBatch(
      pending.filter((r) => !r.tempDurable).map((r) => ({ temp: r.temp!, digest: r.digest })),
      packs,
    );
  }

  /** Remembers the stat data of scanned files (holes, from failed hashes, are left out). */
  saveStatSnapshot(relPath: string, entries: (ScannedEntry | undefined)[]): void {
    const rows: StatRow[] = [];
    for (const e of entries) {
      if (e) rows.push({ rel: e.path, size: e.size, mtimeMs: e.mtimeMs, ino: e.ino, digest: e.digest });
    }
    this.state.saveStatSnapshot(relPath, rows);
  }
}

function scanned(file: WalkedFile, digest: Digest): ScannedEntry {
  const { rel, size, executable, mtimeMs, ino } = file;
  return { path: rel, digest, size, executable, mtimeMs, ino };
}

/** Entries for `files` straight from the stat cache, or undefined if any file is not a hit. */
function entriesFromSnapshot(files: WalkedFile[], snapshot: StatRow[]): ScannedEntry[] | undefined {
  const entries: ScannedEntry[] = new Array(files.length);
  let j = 0;
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    while (j < snapshot.length && snapshot[j]!.rel < file.rel) j++;
    const hit = snapshot[j];
    if (
      !hit ||
      hit.rel !== file.rel ||
      hit.size !== file.size ||
      hit.mtimeMs !== file.mtimeMs ||
      hit.ino !== file.ino
    ) {
      return undefined;
    }
    entries[i] = scanned(file, hit.digest);
  }
  return entries;
}

function failureError(failures: HashFailure[]): LedgeError {
  const first = failures[0]!;
  const more = failures.length > 1 ? ` (and ${failures.length - 1} more)` : '';
  return new LedgeError(first.code, first.message + more, { hint: first.hint });
}

/** Sums sizes and counts files of a scan, for pointers and summaries. */
export function totals(entries: DirEntry[]): { size: number; files: number } {
  let size = 0;
  for (const e of entries) size += e.size;
  return { size, files: entries.length };
}
