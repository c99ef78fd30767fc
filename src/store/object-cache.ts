/**
 * The local content-addressed object cache. An object lives either loose, as its own
 * read-only file `<cache>/sha256/ab/<62 hex>` (the same key remotes use), or in a pack
 * `<cache>/packs/<id>.pack` with its index (small objects written by `add`; see
 * `pack-file.ts`). Nothing becomes visible before it is complete and flushed.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  fsyncDirectory,
  fsyncFile,
  isTempName,
  syncFilesystem,
  tempPathIn,
  tempWriterPid,
  writeFileAtomicSync,
} from '../core/atomic-fs.js';
import { type Digest, digestFromHex, digestHex, sha256 } from '../core/digest.js';
import { isErrno, LedgeError } from '../core/errors.js';
import {
  commitPack,
  decodeIndex,
  encodeIndex,
  type PackEntry,
  type PackedLocation,
  PackIndex,
  type StagedPack,
} from './pack-file.js';
import type { ObjectSource } from './remote/remote.js';

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
  readonly packDir: string;
  private packed: PackIndex | undefined;
  private readonly openPacks = new Map<string, number>();

  constructor(dir: string) {
    this.dir = dir;
    this.objectsDir = path.join(dir, 'sha256');
    this.tempDir = path.join(dir, 'tmp');
    this.packDir = path.join(dir, 'packs');
  }

  /** Where the object lives (or would live) as a loose file. */
  pathOf(digest: Digest): string {
    const hex = digestHex(digest);
    return path.join(this.objectsDir, hex.slice(0, 2), hex.slice(2));
  }

  private packPath(id: string): string {
    return path.join(this.packDir, `${id}.pack`);
  }

  /** The pack index, loaded on first use from every `*.idx`. */
  private packIndex(): PackIndex {
    if (this.packed) return this.packed;
    const index = new PackIndex();
    for (const name of this.packIndexNames()) {
      const file = path.join(this.packDir, name);
      let data: Buffer;
      try {
        data = fs.readFileSync(file);
      } catch (error) {
        if (isErrno(error, 'ENOENT')) continue; // removed by a concurrent gc
        throw error;
      }
      index.addIndexFile(name.slice(0, -'.idx'.length), data, file);
    }
    this.packed = index;
    return index;
  }

  private packIndexNames(): string[] {
    try {
      return fs.readdirSync(this.packDir).filter((name) => name.endsWith('.idx') && !isTempName(name));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
  }

  isLoose(digest: Digest): boolean {
    return fs.existsSync(this.pathOf(digest));
  }

  has(digest: Digest): boolean {
    return this.packIndex().has(digest) || this.isLoose(digest);
  }

  /** Size of an object, or undefined when absent. */
  sizeOf(digest: Digest): number | undefined {
    const packed = this.packIndex().get(digest);
    if (packed) return packed.size;
    try {
      return fs.statSync(this.pathOf(digest)).size;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  /** Every object present: one readdir per shard plus the pack indexes, no stat per object. */
  listAll(): Set<Digest> {
    return this.scan().objects;
  }

  /** Objects that have a file of their own. */
  looseObjects(): Set<Digest> {
    return this.scan(false).objects;
  }

  /** Objects (with or without packed ones) and leftover temp files (shards, `tmp/`, `packs/`). */
  scan(withPacked = true): { objects: Set<Digest>; temps: string[] } {
    const objects = new Set<Digest>(withPacked ? this.packIndex().keys() : []);
    const temps: string[] = [];
    let shards: string[] = [];
    try {
      shards = fs.readdirSync(this.objectsDir);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
    for (const shard of shards) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      const shardDir = path.join(this.objectsDir, shard);
      for (const name of fs.readdirSync(shardDir)) {
        if (isTempName(name)) temps.push(path.join(shardDir, name));
        else if (name.length === 62) objects.add(digestFromHex(shard + name));
      }
    }
    for (const dir of [this.tempDir, this.packDir]) {
      let names: string[] = [];
      try {
        names = fs.readdirSync(dir);
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
      const indexed = new Set(names.filter((n) => n.endsWith('.idx')).map((n) => n.slice(0, -4)));
      for (const name of names) {
        const orphanPack = name.endsWith('.pack') && !indexed.has(name.slice(0, -5));
        if (dir === this.tempDir || isTempName(name) || orphanPack) temps.push(path.join(dir, name));
      }
    }
    return { objects, temps };
  }

  /** The bytes of an object. */
  readBuffer(digest: Digest): Buffer {
    const packed = this.packIndex().get(digest);
    if (packed) return this.readPacked(digest, packed);
    try {
      return fs.readFileSync(this.pathOf(digest));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw this.missing(digest);
      throw error;
    }
  }

  /** An open descriptor per pack, kept until `close()`: checkout reads thousands of objects. */
  private packFd(pack: string): number {
    let fd = this.openPacks.get(pack);
    if (fd === undefined) {
      if (this.openPacks.size >= 64) this.close();
      fd = fs.openSync(this.packPath(pack), 'r');
      this.openPacks.set(pack, fd);
    }
    return fd;
  }

  /** Closes pack descriptors. The cache stays usable (they reopen on demand). */
  close(): void {
    for (const fd of this.openPacks.values()) fs.closeSync(fd);
    this.openPacks.clear();
  }

  private readPacked(digest: Digest, at: PackedLocation): Buffer {
    let fd: number;
    try {
      fd = this.packFd(at.pack);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
      // A concurrent gc rewrote the pack: look again.
      this.packed = undefined;
      const moved = this.packIndex().get(digest);
      if (!moved || moved.pack === at.pack) throw this.missing(digest);
      return this.readPacked(digest, moved);
    }
    try {
      const out = Buffer.allocUnsafe(at.size);
      let done = 0;
      while (done < at.size) {
        const n = fs.readSync(fd, out, done, at.size - done, at.offset + done);
        if (n === 0) throw new LedgeError('corrupt-object', `pack ${at.pack} is truncated at ${digest}`);
        done += n;
      }
      return out;
    } catch (error) {
      this.close();
      throw error;
    }
  }

  private missing(digest: Digest): LedgeError {
    return new LedgeError('missing-object', `object ${digest} is not in the cache`, {
      hint: 'run `ledge pull` to fetch it from a remote',
    });
  }

  /** An object as an upload source for remotes. */
  source(digest: Digest): ObjectSource {
    const packed = this.packIndex().get(digest);
    if (packed) {
      return {
        digest,
        size: packed.size,
        read: () => this.readBuffer(digest),
        open: () => Readable.from([this.readBuffer(digest)]),
      };
    }
    const file = this.pathOf(digest);
    const size = this.sizeOf(digest);
    if (size === undefined) throw this.missing(digest);
    return {
      digest,
      size,
      path: file,
      read: () => fs.readFileSync(file),
      open: () => fs.createReadStream(file, { highWaterMark: 1 << 20 }),
    };
  }

  /** Makes sure an object exists as a loose file (for hardlinks and symlinks); returns its path. */
  ensureLoose(digest: Digest): string {
    const file = this.pathOf(digest);
    if (fs.existsSync(file)) return file;
    const data = this.readBuffer(digest);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomicSync(file, data, { mode: OBJECT_MODE });
    return file;
  }

  /** Stores a small in-memory object (manifests, logs) as a loose file. Returns its digest. */
  putBuffer(data: string | Uint8Array): Digest {
    const digest = sha256(data);
    if (this.isLoose(digest)) return digest;
    const target = this.pathOf(digest);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    writeFileAtomicSync(target, data, { mode: OBJECT_MODE });
    return digest;
  }

  /** Stores a stream as one durable object, verified against `expected` when given. */
  async putStream(stream: Readable, expected?: Digest, where = 'object'): Promise<Digest> {
    const staged = await this.stageStream(stream, expected, where);
    this.commitBatch([staged], []);
    return staged.digest;
  }

  /**
   * Writes a stream to a temp file next to its final name, hashing on the way, and checks it
   * against `expected` (when given). The object is not visible until committed.
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
        // Opened here, synchronously: a stream that fails at once must not leave the temp file
        // to be created after the clean-up below has run.
        fs.createWriteStream(temp, { fd: fs.openSync(temp, 'wx', OBJECT_MODE) }),
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
   * Makes staged loose objects and packs visible: one filesystem flush for the whole batch
   * (instead of one fsync per object), the renames and pack indexes, then a flush of those.
   */
  commitBatch(loose: StagedObject[], packs: StagedPack[]): void {
    if (loose.length === 0 && packs.length === 0) return;
    const flushed = syncFilesystem(this.dir);
    if (!flushed) for (const { temp } of [...loose, ...packs]) fsyncFile(temp);
    for (const { temp, digest } of loose) this.commitTemp(temp, digest);
    const index = this.packIndex();
    for (const staged of packs) {
      const id = `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}`;
      commitPack(this.packDir, staged, id);
      index.add(id, staged.entries);
    }
    if (!syncFilesystem(this.dir)) {
      this.syncShards(loose.map((s) => s.digest));
      fsyncDirectory(this.packDir);
    }
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

  /**
   * Re-hashes every packed object, reading each pack once. Returns the digests whose bytes
   * do not match (or whose pack is unreadable).
   */
  verifyPacked(onProgress?: (objects: number, bytes: number) => void): {
    checked: number;
    corrupt: Digest[];
  } {
    const byPack = new Map<string, { digest: Digest; offset: number; size: number }[]>();
    for (const entry of this.packedObjects()) {
      const list = byPack.get(entry.pack) ?? [];
      list.push(entry);
      byPack.set(entry.pack, list);
    }
    const corrupt: Digest[] = [];
    let checked = 0;
    for (const [pack, entries] of byPack) {
      let data: Buffer | undefined;
      try {
        data = fs.readFileSync(this.packPath(pack));
      } catch {
        data = undefined;
      }
      for (const entry of entries) {
        checked++;
        const slice = data?.subarray(entry.offset, entry.offset + entry.size);
        if (!slice || slice.length !== entry.size || sha256(slice) !== entry.digest)
          corrupt.push(entry.digest);
        onProgress?.(1, entry.size);
      }
    }
    return { checked, corrupt };
  }

  /**
   * Completeness markers: `complete/<hex>` says directory manifest `<hex>` and every object it
   * lists are in this cache, so `status` and a no-op `add` need not check 100,000 objects one
   * by one. Any removal of objects clears all markers; the cache is the only place they live,
   * so workspaces sharing a cache stay correct.
   */
  isComplete(manifest: Digest): boolean {
    return fs.existsSync(path.join(this.dir, 'complete', digestHex(manifest)));
  }

  markComplete(manifest: Digest): void {
    const dir = path.join(this.dir, 'complete');
    const marker = path.join(dir, digestHex(manifest));
    try {
      fs.writeFileSync(marker, '');
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(marker, '');
    }
  }

  clearComplete(): void {
    fs.rmSync(path.join(this.dir, 'complete'), { recursive: true, force: true });
  }

  /** Every packed object with its location (fsck, gc). */
  packedObjects(): { digest: Digest; pack: string; offset: number; size: number }[] {
    return [...this.packIndex().entries()];
  }

  /**
   * Removes objects: loose files are unlinked; packs holding any of them are rewritten with
   * only the objects that stay (the new pack is committed before the old one is deleted).
   */
  remove(digests: Iterable<Digest>): void {
    const doomed = new Set(digests);
    if (doomed.size === 0) return;
    this.close();
    this.clearComplete();
    for (const digest of doomed) fs.rmSync(this.pathOf(digest), { force: true });
    const byPack = new Map<string, PackEntry[]>();
    for (const name of this.packIndexNames()) {
      const id = name.slice(0, -'.idx'.length);
      const file = path.join(this.packDir, name);
      const entries = decodeIndex(fs.readFileSync(file), file);
      if (entries.some((e) => doomed.has(e.digest))) byPack.set(id, entries);
    }
    for (const [id, entries] of byPack) {
      const keep = entries.filter((e) => !doomed.has(e.digest));
      if (keep.length > 0) this.rewritePack(id, keep);
      fs.rmSync(path.join(this.packDir, `${id}.idx`), { force: true });
      fs.rmSync(this.packPath(id), { force: true });
    }
    this.packed = undefined;
  }

  private rewritePack(id: string, keep: PackEntry[]): void {
    const source = fs.openSync(this.packPath(id), 'r');
    const temp = tempPathIn(this.packDir);
    const out = fs.openSync(temp, 'wx', OBJECT_MODE);
    const entries: PackEntry[] = [];
    let offset = 0;
    try {
      for (const entry of keep) {
        const data = Buffer.allocUnsafe(entry.size);
        fs.readSync(source, data, 0, entry.size, entry.offset);
        fs.writeSync(out, data);
        entries.push({ digest: entry.digest, offset, size: entry.size });
        offset += entry.size;
      }
      fs.fsyncSync(out);
    } finally {
      fs.closeSync(out);
      fs.closeSync(source);
    }
    const newId = `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}`;
    fs.renameSync(temp, this.packPath(newId));
    writeFileAtomicSync(path.join(this.packDir, `${newId}.idx`), encodeIndex(entries), { mode: OBJECT_MODE });
  }

  /** Temp files left by killed processes: their writer PID is gone, or they are old. */
  staleTemps(maxAgeMs = 24 * 3600 * 1000): string[] {
    const stale: string[] = [];
    for (const full of this.scan().temps) {
      const name = path.basename(full);
      const pid = tempWriterPid(name) ?? Number(/^[0-9a-z]+-(\d+)-/.exec(name)?.[1]);
      let dead = false;
      if (Number.isInteger(pid) && pid > 0) {
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
