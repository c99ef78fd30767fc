/**
 * Hashes one workspace file and, when asked, copies it into the object cache in the same pass,
 * so the stored object is always exactly the bytes that were hashed. Runs inside hash workers
 * and, for small jobs, on the main thread. Synchronous by design: a worker does one file at a
 * time and sync syscalls are the cheapest way to do that.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tempPathIn } from '../core/atomic-fs.js';
import { type Digest, digestFromHex } from '../core/digest.js';
import { type ErrorCode, fsError, isErrno, LedgeError } from '../core/errors.js';
import { PACK_MAX_OBJECT, type PackWriter } from './pack-file.js';

export interface HashJob {
  /** Absolute path to read. */
  abs: string;
  /** Workspace-relative path, for messages and the stat cache. */
  rel: string;
}

export interface HashResult {
  rel: string;
  digest: Digest;
  size: number;
  mtimeMs: number;
  ino: number;
  executable: boolean;
  /** A complete temp file holding the object, to be flushed and renamed by the caller. */
  temp?: string;
  /** Whether `temp` was already fsynced (large files are flushed one by one). */
  tempDurable?: boolean;
  /** Whether the object was appended to the batch's pack. */
  packed?: boolean;
}

export interface HashFailure {
  rel: string;
  code: ErrorCode;
  message: string;
  hint?: string | undefined;
}

export interface HashOptions {
  /** Copy content into the cache (add) or only hash it (status, fsck). */
  store: boolean;
  /** The cache's `sha256/` directory and its temp directory. */
  objectsDir: string;
  tempDir: string;
  /** With `store`: append small objects to packs in this directory instead of loose files. */
  packDir?: string | undefined;
  /** With `store`: the objects already in the cache (a `DigestSet` buffer), to skip them. */
  existing?: SharedArrayBuffer | undefined;
}

/** Where a hashing thread puts new objects and how it knows which exist already. */
export interface ObjectSink {
  exists(hex: string): boolean;
  /** Marks an object as stored by this thread (dedupes within a run). */
  remember(hex: string): void;
  pack?: PackWriter | undefined;
}

/** Files up to this size are read in one call; larger ones are streamed in chunks. */
export const WHOLE_READ_LIMIT = 8 << 20;
const CHUNK = 1 << 20;

function objectPath(objectsDir: string, hex: string): string {
  return path.join(objectsDir, hex.slice(0, 2), hex.slice(2));
}

function changedWhileReading(job: HashJob): LedgeError {
  return new LedgeError('file-changed', `'${job.rel}' changed while it was being hashed`, {
    hint: 'wait until whatever writes it has finished, then run the command again',
  });
}

function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/** Reads until EOF or until `buffer` is full; returns the byte count. */
function readAll(fd: number, buffer: Buffer, limit: number): number {
  let total = 0;
  while (total < limit) {
    const n = fs.readSync(fd, buffer, total, limit - total, total);
    if (n === 0) break;
    total += n;
  }
  return total;
}

/** The sink for a thread without a shared digest set: one stat per object. */
export function statSink(options: HashOptions, pack?: PackWriter): ObjectSink {
  const seen = new Set<string>();
  return {
    exists: (hex) => seen.has(hex) || fs.existsSync(objectPath(options.objectsDir, hex)),
    remember: (hex) => seen.add(hex),
    pack,
  };
}

export function hashFile(
  job: HashJob,
  options: HashOptions,
  buffer: Buffer,
  sink: ObjectSink = statSink(options),
): HashResult {
  let fd: number;
  try {
    fd = fs.openSync(job.abs, 'r');
  } catch (error) {
    throw fsError(error, job.rel, 'cannot read');
  }
  let temp: string | undefined;
  let tempFd: number | undefined;
  try {
    const before = fs.fstatSync(fd);
    if (!before.isFile()) {
      throw new LedgeError('unsupported-file-type', `'${job.rel}' is not a regular file`, {
        hint: 'ledge tracks regular files and directories; move sockets, pipes and devices out of the way',
      });
    }
    const hash = createHash('sha256');
    let size: number;
    if (before.size <= WHOLE_READ_LIMIT && before.size < buffer.length) {
      // +1 byte of room reveals a file that grew since fstat.
      size = readAll(fd, buffer, Math.min(buffer.length, before.size + 1));
      if (size !== before.size) throw changedWhileReading(job);
      hash.update(buffer.subarray(0, size));
      const hex = hash.digest('hex');
      if (!sameFile(before, fs.fstatSync(fd))) throw changedWhileReading(job);
      if (options.store && !sink.exists(hex)) {
        sink.remember(hex);
        if (sink.pack && size <= PACK_MAX_OBJECT) {
          sink.pack.append(buffer.subarray(0, size), digestFromHex(hex));
          const result = finish(job, before, digestFromHex(hex), undefined, false);
          result.packed = true;
          return result;
        }
        // The temp goes next to its final name: renames stay within one small directory.
        const shardDir = path.dirname(objectPath(options.objectsDir, hex));
        temp = tempPathIn(shardDir);
        tempFd = openTemp(temp, shardDir);
        fs.writeSync(tempFd, buffer, 0, size);
      }
      return finish(job, before, digestFromHex(hex), temp, false);
    }
    // Large file: constant memory, one chunk at a time, written to the temp file as hashed.
    if (options.store) {
      temp = tempPathIn(options.tempDir);
      tempFd = openTemp(temp, options.tempDir);
    }
    size = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, Math.min(CHUNK, buffer.length), size);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      if (tempFd !== undefined) fs.writeSync(tempFd, buffer, 0, n);
      size += n;
    }
    if (size !== before.size || !sameFile(before, fs.fstatSync(fd))) throw changedWhileReading(job);
    const hex = hash.digest('hex');
    if (tempFd !== undefined) {
      if (sink.exists(hex)) {
        fs.closeSync(tempFd);
        tempFd = undefined;
        fs.rmSync(temp!, { force: true });
        temp = undefined;
      } else {
        sink.remember(hex);
        fs.fsyncSync(tempFd);
      }
    }
    return finish(job, before, digestFromHex(hex), temp, true);
  } catch (error) {
    if (tempFd !== undefined) {
      fs.closeSync(tempFd);
      tempFd = undefined;
    }
    if (temp) fs.rmSync(temp, { force: true });
    throw fsError(error, job.rel, 'cannot read');
  } finally {
    if (tempFd !== undefined) fs.closeSync(tempFd);
    fs.closeSync(fd);
  }
}

function openTemp(temp: string, tempDir: string): number {
  try {
    return fs.openSync(temp, 'wx', 0o444);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
    fs.mkdirSync(tempDir, { recursive: true });
    return fs.openSync(temp, 'wx', 0o444);
  }
}

function finish(
  job: HashJob,
  st: fs.Stats,
  digest: Digest,
  temp: string | undefined,
  durable: boolean,
): HashResult {
  const result: HashResult = {
    rel: job.rel,
    digest,
    size: st.size,
    mtimeMs: st.mtimeMs,
    ino: st.ino,
    executable: (st.mode & 0o111) !== 0,
  };
  if (temp) {
    result.temp = temp;
    result.tempDurable = durable;
  }
  return result;
}

/** Turns any thrown value into a transferable failure record. */
export function toFailure(rel: string, error: unknown): HashFailure {
  if (error instanceof LedgeError) return { rel, code: error.code, message: error.message, hint: error.hint };
  const message = error instanceof Error ? error.message : String(error);
  return { rel, code: 'io', message: `cannot read '${rel}': ${message}` };
}
