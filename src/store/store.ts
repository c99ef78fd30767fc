/**
 * The store: a workspace, its object cache and its local state, opened together. Also the
 * shared step every command builds on: scanning a tracked path into (file → digest) entries,
 * using the stat cache and hashing only what changed.
 */
import fs from 'node:fs';
import type { Digest } from '../core/digest.js';
import { fsError, LedgeError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import { type DirEntry, parseManifest, serializeManifest } from './dir-manifest.js';
import type { HashFailure, HashResult } from './file-hasher.js';
import { hashFiles } from './hash-pool.js';
import { ObjectCache } from './object-cache.js';
import { StateDb, type StatRecord } from './state-db.js';
import { type WalkedFile, walkTree } from './tree-walk.js';
import type { Workspace } from './workspace.js';

export interface ScanOptions {
  /** Copy new content into the cache while hashing (add) or only hash (status, checkout). */
  store: boolean;
  progress?: Progress | undefined;
  /** Every object in the cache, when the caller already listed it. */
  cached?: Set<Digest> | undefined;
}

export type Scan =
  | { type: 'missing' }
  | { type: 'file'; entry: DirEntry; ino: number }
  | { type: 'dir'; entries: DirEntry[] };

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
      const entries = await this.digestFiles(relPath, files, true, options);
      return { type: 'dir', entries };
    }
    if (!st.isFile()) {
      throw new LedgeError('unsupported-file-type', `'${relPath}' is not a regular file or directory`, {
        hint: 'ledge tracks regular files and directories',
      });
    }
    const file: WalkedFile = {
      rel: '',
      abs,
      size: st.size,
      mtimeMs: st.mtimeMs,
      ino: st.ino,
      executable: (st.mode & 0o111) !== 0,
    };
    const [entry] = await this.digestFiles(relPath, [file], false, options);
    return { type: 'file', entry: entry!, ino: st.ino };
  }

  private async digestFiles(
    relPath: string,
    files: WalkedFile[],
    isDir: boolean,
    options: ScanOptions,
  ): Promise<DirEntry[]> {
    const known = this.state.statEntries(relPath, isDir);
    const keyOf = (file: WalkedFile) => (isDir ? `${relPath}/${file.rel}` : relPath);
    let cached = options.cached;
    if (options.store && cached === undefined && files.length > 256) cached = this.cache.listAll();
    const inCache = (digest: Digest) => (cached ? cached.has(digest) : this.cache.has(digest));

    const entries: DirEntry[] = new Array(files.length);
    const toHash: { index: number; file: WalkedFile }[] = [];
    files.forEach((file, index) => {
      const hit = known.get(keyOf(file));
      if (
        hit &&
        hit.size === file.size &&
        hit.mtimeMs === file.mtimeMs &&
        hit.ino === file.ino &&
        (!options.store || inCache(hit.digest))
      ) {
        entries[index] = { path: file.rel, digest: hit.digest, size: file.size, executable: file.executable };
      } else {
        toHash.push({ index, file });
      }
    });

    if (toHash.length > 0) {
      const progress = options.progress;
      const totalBytes = toHash.reduce((sum, { file }) => sum + file.size, 0);
      progress?.start(options.store ? 'adding' : 'hashing', toHash.length, 'files');
      const outcome = await hashFiles(
        toHash.map(({ file }) => ({
          abs: file.abs,
          rel: isDir ? `${relPath}/${file.rel}` : relPath,
          size: file.size,
        })),
        {
          store: options.store,
          objectsDir: this.cache.objectsDir,
          tempDir: this.cache.tempDir,
          workers: totalBytes > 0 || toHash.length > 64 ? this.ws.config.hashJobs : 1,
          progress,
          failFast: true,
        },
      );
      progress?.stop();
      if (options.store) this.commitHashed(outcome.results);
      this.recordStats(outcome.results);
      if (outcome.failures.length > 0) throw failureError(outcome.failures);
      const byRel = new Map<string, HashResult>();
      for (const result of outcome.results) byRel.set(result.rel, result);
      for (const { index, file } of toHash) {
        const result = byRel.get(keyOf(file))!;
        entries[index] = {
          path: file.rel,
          digest: result.digest,
          size: result.size,
          executable: file.executable,
        };
      }
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
    this.commitHashed(imported);
    return { imported, failures };
  }

  /** Makes freshly written objects visible (large ones were flushed already; the rest once). */
  private commitHashed(results: HashResult[]): void {
    const pending = results.filter((r) => r.temp !== undefined);
    const flushed = pending.filter((r) => r.tempDurable);
    for (const r of flushed) this.cache.commitTemp(r.temp!, r.digest);
    if (flushed.length > 0) this.cache.syncShards(flushed.map((r) => r.digest));
    this.cache.commitStaged(
      pending.filter((r) => !r.tempDurable).map((r) => ({ temp: r.temp!, digest: r.digest })),
    );
  }

  private recordStats(results: HashResult[]): void {
    if (results.length === 0) return;
    const records: StatRecord[] = results.map((r) => ({
      path: r.rel,
      size: r.size,
      mtimeMs: r.mtimeMs,
      ino: r.ino,
      digest: r.digest,
    }));
    this.state.putStatEntries(records);
  }
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
