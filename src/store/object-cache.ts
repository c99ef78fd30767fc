/**
 * The local content-addressed object cache: `<cache>/sha256/ab/<62 hex>`, one read-only file
 * per distinct content, the same keys remotes use. New objects are written to
 * `<cache>/tmp/` and renamed into place only when complete and flushed.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  fsyncDirectory,
  isTempName,
  syncFilesystem,
  tempPathIn,
  tempWriterPid,
  writeFileAtomicSync,
} from '../core/atomic-fs.js';
import { type Digest, digestFromHex, digestHex, sha256 } from '../core/digest.js';
import { isErrno, LedgeError } from '../core/errors.js';

export const OBJECT_MODE = 0o444;

/** A complete, verified object under a temp name, waiting for `commitStaged`. */
export interface StagedObject {
  temp: string;
  digest: Digest;
}

export class ObjectCache {
  readonly dir: string;
  readonly objectsDir: string;
  readonly tempDir: string;

  constructor(dir: string) {
    this.dir = dir;
    this.objectsDir = path.join(dir, 'sha256');
    this.tempDir = path.join(dir, 'tmp');
  }

  pathOf(digest: Digest): string {
    const hex = digestHex(digest);
    return path.join(this.objectsDir, hex.slice(0, 2), hex.slice(2));
  }

  has(digest: Digest): boolean {
    return fs.existsSync(this.pathOf(digest));
  }

  /** Size of an object, or undefined when absent. */
  sizeOf(digest: Digest): number | undefined {
    try {
      return fs.statSync(this.pathOf(digest)).size;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  /** Every object present: one readdir per shard, far cheaper than a stat per object. */
  listAll(): Set<Digest> {
    return this.scan().objects;
  }

  /** Objects and leftover temp files (in shard directories and in `tmp/`). */
  scan(): { objects: Set<Digest>; temps: string[] } {
    const objects = new Set<Digest>();
    const temps: string[] = [];
    let shards: string[];
    try {
      shards = fs.readdirSync(this.objectsDir);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return { objects, temps };
      throw error;
    }
    for (const shard of shards) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      const shardDir = path.join(this.objectsDir, shard);
      for (const name of fs.readdirSync(shardDir)) {
        if (isTempName(name)) temps.push(path.join(shardDir, name));
        else if (name.length === 62) objects.add(digestFromHex(shard + name));
      }
    }
    try {
      for (const name of fs.readdirSync(this.tempDir)) temps.push(path.join(this.tempDir, name));
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
    return { objects, temps };
  }

  /** A fresh temp path for a new object; create it with `wx` and finish with `commitTemp`. */
  newTempPath(): string {
    fs.mkdirSync(this.tempDir, { recursive: true });
    return tempPathIn(this.tempDir);
  }

  /** Moves a complete, flushed temp file into place as `digest`. */
  commitTemp(tempPath: string, digest: Digest): void {
    const target = this.pathOf(digest);
    try {
      fs.renameSync(tempPath, target);
    } catch (error) {
      if (!isErrno(error, 'ENOENT') || !fs.existsSync(tempPath)) throw error;
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.renameSync(tempPath, target);
    }
  }

  /** Flushes the directories that received renames, so new names survive a power cut. */
  syncShards(digests: Iterable<Digest>): void {
    const dirs = new Set<string>();
    for (const digest of digests) dirs.add(path.dirname(this.pathOf(digest)));
    for (const dir of dirs) fsyncDirectory(dir);
  }

  /** Stores a small in-memory object (manifests, logs). Returns its digest. */
  putBuffer(data: string | Uint8Array): Digest {
    const digest = sha256(data);
    if (this.has(digest)) return digest;
    const target = this.pathOf(digest);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    writeFileAtomicSync(target, data, { mode: OBJECT_MODE });
    return digest;
  }

  /** Stores a stream as one durable object, verified against `expected` when given. */
  async putStream(stream: Readable, expected?: Digest, where = 'object'): Promise<Digest> {
    const staged = await this.stageStream(stream, expected, where);
    this.commitStaged([staged]);
    return staged.digest;
  }

  /**
   * Writes a stream to a temp file next to its final name, hashing on the way, and checks it
   * against `expected` (when given). The object is not visible until `commitStaged`.
   */
  async stageStream(stream: Readable, expected?: Digest, where = 'object'): Promise<StagedObject> {
    const dir = expected ? path.dirname(this.pathOf(expected)) : this.tempDir;
    fs.mkdirSync(dir, { recursive: true });
    const temp = tempPathIn(dir);
    const hash = createHash('sha256');
    try {
      await pipeline(
        stream,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            yield chunk;
          }
        },
        fs.createWriteStream(temp, { flags: 'wx', mode: OBJECT_MODE }),
      );
      const actual = digestFromHex(hash.digest('hex'));
      if (expected !== undefined && actual !== expected) {
        throw new LedgeError(
          'corrupt-object',
          `${where}: received bytes hash to ${actual}, expected ${expected}`,
          {
            hint: 'the remote copy is corrupt or was changed; the local cache was not touched',
          },
        );
      }
      return { temp, digest: actual };
    } catch (error) {
      fs.rmSync(temp, { force: true });
      throw error;
    }
  }

  /**
   * Makes staged objects visible: one filesystem flush for the whole batch (instead of one
   * fsync per object), the renames, then a flush of the renames.
   */
  commitStaged(staged: StagedObject[]): void {
    if (staged.length === 0) return;
    if (!syncFilesystem(this.dir)) {
      for (const { temp } of staged) {
        const fd = fs.openSync(temp, 'r');
        try {
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      }
    }
    for (const { temp, digest } of staged) this.commitTemp(temp, digest);
    if (!syncFilesystem(this.dir)) this.syncShards(staged.map((s) => s.digest));
  }

  readBuffer(digest: Digest): Buffer {
    try {
      return fs.readFileSync(this.pathOf(digest));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) {
        throw new LedgeError('missing-object', `object ${digest} is not in the cache`, {
          hint: 'run `ledge pull` to fetch it from a remote',
        });
      }
      throw error;
    }
  }

  /** Deletes an object (gc, repair). Read-only mode does not prevent unlinking. */
  remove(digest: Digest): void {
    fs.rmSync(this.pathOf(digest), { force: true });
  }

  /** Temp files left by killed processes: their writer PID is gone, or they are old. */
  staleTemps(maxAgeMs = 24 * 3600 * 1000): string[] {
    const stale: string[] = [];
    for (const full of this.scan().temps) {
      const pid = tempWriterPid(path.basename(full));
      let dead = false;
      if (pid !== undefined && pid > 0) {
        try {
          process.kill(pid, 0);
        } catch (error) {
          dead = isErrno(error, 'ESRCH');
        }
      }
      let old = false;
      try {
        old = Date.now() - fs.statSync(full).mtimeMs > maxAgeMs;
      } catch {
        continue;
      }
      if (dead || old) stale.push(full);
    }
    return stale;
  }
}
