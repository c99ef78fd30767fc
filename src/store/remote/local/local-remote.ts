/**
 * A remote in a local (or mounted network) directory. Objects live under the same keys as in
 * the cache (`sha256/ab/cdef…`); uploads are staged in `<root>/tmp/` and renamed into place
 * only once complete, flushed and verified, so readers never see a partial or corrupt object.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fsyncDirectory, fsyncFile, syncFilesystem, tempPathIn } from '../../../core/atomic-fs.js';
import { type Digest, digestFromHex, sha256 } from '../../../core/digest.js';
import { fsError, isErrno, LedgeError } from '../../../core/errors.js';
import { WHOLE_READ_LIMIT } from '../../file-hasher.js';
import { digestOfKey, type ObjectSource, objectKey, type Remote } from '../remote.js';
import { verifyDigest } from '../verify.js';

const SHARD_PATTERN = /^[0-9a-f]{2}$/;
const OBJECT_MODE = 0o444;

/** A `Remote` backed by a directory; see the module comment for the layout. */
export class LocalRemote implements Remote {
  constructor(
    readonly name: string,
    readonly url: string,
    /** Absolute path of the remote's root directory. */
    readonly root: string,
  ) {}

  async *list(): AsyncGenerator<Digest> {
    if (!(await this.rootExists())) return;
    const objectsDir = path.join(this.root, 'sha256');
    const shards = (await this.readdirOrEmpty(objectsDir)).filter((name) => SHARD_PATTERN.test(name)).sort();
    for (const shard of shards) {
      for (const name of (await this.readdirOrEmpty(path.join(objectsDir, shard))).sort()) {
        const digest = digestOfKey(`sha256/${shard}/${name}`);
        if (digest) yield digest;
      }
    }
  }

  async has(digest: Digest): Promise<boolean> {
    try {
      return (await fs.promises.stat(this.objectPath(digest))).isFile();
    } catch (error) {
      if (!isErrno(error, 'ENOENT', 'ENOTDIR')) throw this.ioError(error, 'checking', digest);
      await this.rootExists();
      return false;
    }
  }

  async get(digest: Digest): Promise<Readable> {
    let handle: FileHandle;
    try {
      handle = await fs.promises.open(this.objectPath(digest), 'r');
    } catch (error) {
      if (!isErrno(error, 'ENOENT', 'ENOTDIR')) throw this.ioError(error, 'reading', digest);
      await this.rootExists();
      throw new LedgeError('missing-object', `${this.label}: object ${digest} is missing`, {
        hint: 'push it from a workspace that has it',
      });
    }
    return handle.createReadStream({ highWaterMark: 1 << 20 });
  }

  async put(source: ObjectSource): Promise<void> {
    await this.rootExists();
    const tmpDir = path.join(this.root, 'tmp');
    const target = this.objectPath(source.digest);
    let temp: string | undefined;
    try {
      await fs.promises.mkdir(tmpDir, { recursive: true });
      temp = tempPathIn(tmpDir);
      const actual = await copyHashing(source.open(), temp);
      verifyDigest(source.digest, actual, `${this.label}: upload of ${source.digest}`);
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      await fs.promises.rename(temp, target);
      temp = undefined;
      fsyncDirectory(path.dirname(target));
    } catch (error) {
      throw this.ioError(error, 'writing', source.digest);
    } finally {
      if (temp) await fs.promises.rm(temp, { force: true });
    }
  }

  /**
   * Copies many objects with one flush: each is written and verified under a temp name next
   * to its final name, then one syncfs makes them all durable, then they are renamed into
   * place. Per-file fsync would cost ~50x more for thousands of small objects.
   */
  async putBatch(sources: ObjectSource[], onStored: (source: ObjectSource) => void): Promise<void> {
    await this.rootExists();
    const staged: { source: ObjectSource; temp: string; target: string }[] = [];
    const failures: unknown[] = [];
    for (const source of sources) {
      const target = this.objectPath(source.digest);
      const dir = path.dirname(target);
      const temp = tempPathIn(dir);
      try {
        if (source.size > WHOLE_READ_LIMIT) {
          fs.mkdirSync(dir, { recursive: true });
          verifyDigest(
            source.digest,
            await copyHashing(source.open(), temp),
            `${this.label}: upload of ${source.digest}`,
          );
        } else {
          const bytes = source.read();
          verifyDigest(source.digest, sha256(bytes), `${this.label}: upload of ${source.digest}`);
          writeNew(temp, bytes);
        }
        staged.push({ source, temp, target });
      } catch (error) {
        fs.rmSync(temp, { force: true });
        failures.push(this.ioError(error, 'writing', source.digest));
      }
    }
    if (staged.length > 0 && !syncFilesystem(this.root)) {
      for (const { temp } of staged) fsyncFile(temp);
    }
    for (const { source, temp, target } of staged) {
      fs.renameSync(temp, target);
      onStored(source);
    }
    if (staged.length > 0 && !syncFilesystem(this.root)) {
      for (const dir of new Set(staged.map((s) => path.dirname(s.target)))) fsyncDirectory(dir);
    }
    if (failures.length > 0) throw failures[0];
  }

  async close(): Promise<void> {}

  private get label(): string {
    return `remote '${this.name}' (${this.url})`;
  }

  localPath(digest: Digest): string {
    return this.objectPath(digest);
  }

  private objectPath(digest: Digest): string {
    return path.join(this.root, ...objectKey(digest).split('/'));
  }

  /** False when the root does not exist yet; throws when it is not a directory. */
  private async rootExists(): Promise<boolean> {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(this.root);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false;
      if (isErrno(error, 'ENOTDIR')) throw this.notADirectory(error);
      throw this.ioError(error, 'opening', undefined);
    }
    if (!stat.isDirectory()) throw this.notADirectory(undefined);
    return true;
  }

  private notADirectory(cause: unknown): LedgeError {
    return new LedgeError('remote-unreachable', `${this.label}: '${this.root}' is not a directory`, {
      hint: 'point the remote URL at a directory (it is created on the first push)',
      cause,
    });
  }

  private async readdirOrEmpty(dir: string): Promise<string[]> {
    try {
      return await fs.promises.readdir(dir);
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return [];
      throw this.ioError(error, 'listing', undefined);
    }
  }

  /** Leaves LedgeErrors alone and turns fs errors into ones that name this remote. */
  private ioError(error: unknown, action: string, digest: Digest | undefined): unknown {
    if (error instanceof LedgeError) return error;
    const what = digest ? `${action} ${digest}` : action;
    return fsError(error, (error as NodeJS.ErrnoException).path ?? this.root, `${this.label}: ${what}`);
  }
}

/** Copies `from` into a new file `to` (read-only, flushed) and returns the digest of the bytes copied. */
async function copyHashing(from: Readable, to: string): Promise<Digest> {
  const hash = createHash('sha256');
  const out = await fs.promises.open(to, 'wx', OBJECT_MODE);
  try {
    for await (const chunk of from) {
      hash.update(chunk as Buffer);
      await writeAll(out, chunk as Buffer);
    }
    await out.chmod(OBJECT_MODE);
    await out.sync();
  } finally {
    await out.close();
  }
  return digestFromHex(hash.digest('hex'));
}

/** Creates `file` (read-only) with `bytes`, creating its directory if needed. Not flushed. */
function writeNew(file: string, bytes: Uint8Array): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', OBJECT_MODE);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fd = fs.openSync(file, 'wx', OBJECT_MODE);
  }
  try {
    fs.writeSync(fd, bytes);
  } finally {
    fs.closeSync(fd);
  }
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; ) {
    offset += (await handle.write(data, offset)).bytesWritten;
  }
}
