/**
 * Crash-safe file writes. A file written here is either absent or complete under its final
 * name: data goes to a temporary file in the same directory, is flushed to disk, and is then
 * renamed over the target. A process killed at any moment leaves at most a `.tmp-*` file,
 * which `ledge gc` removes.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { isErrno } from './errors.js';

export const TEMP_PREFIX = '.tmp-';

const tempTag = randomBytes(4).toString('hex');
let tempCounter = 0;

/**
 * A unique temporary name in `dir`, recognisable by its prefix and carrying the writer's PID
 * (so stale ones can be told from live ones). A counter, not fresh randomness, per name: this
 * runs once per file when adding hundreds of thousands of files.
 */
export function tempPathIn(dir: string): string {
  tempCounter++;
  return path.join(dir, `${TEMP_PREFIX}${process.pid}-t${threadId}-${tempTag}-${tempCounter}`);
}

/** The PID encoded in a temp name, if it is one of ours. */
export function tempWriterPid(name: string): number | undefined {
  const match = /^\.tmp-(\d+)-/.exec(name);
  return match ? Number(match[1]) : undefined;
}

export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

/** Exactly the names `tempPathIn` makes, so no user file is mistaken for one. */
const TEMP_NAME = /^\.tmp-(\d+)-t\d+-[0-9a-f]{8}-\d+$/;

/**
 * Whether `name` is a temp file of a ledge process that no longer runs (killed mid-write):
 * garbage that nothing will ever rename into place, safe to skip and delete.
 */
export function isLeftoverTemp(name: string): boolean {
  const match = TEMP_NAME.exec(name);
  if (!match) return false;
  try {
    process.kill(Number(match[1]), 0);
    return false;
  } catch (error) {
    return isErrno(error, 'ESRCH');
  }
}

export interface AtomicWriteOptions {
  mode?: number;
  /** fsync the data before the rename (default true). */
  durable?: boolean;
}

export function writeFileAtomicSync(
  target: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): void {
  const dir = path.dirname(target);
  const temp = tempPathIn(dir);
  const fd = fs.openSync(temp, 'wx', options.mode ?? 0o644);
  try {
    fs.writeFileSync(fd, data);
    if (options.durable !== false) fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(temp, target);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
  if (options.durable !== false) fsyncDirectory(dir);
}

/** Flushes one file's data to disk. */
export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Makes a rename or create in `dir` durable. Not every platform can open directories. */
export function fsyncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fs.fsyncSync(fd);
  } catch (error) {
    if (!isErrno(error, 'EINVAL', 'EISDIR', 'EPERM', 'EBADF')) throw error;
  } finally {
    fs.closeSync(fd);
  }
}

let syncfsAvailable: boolean | undefined;

/**
 * Flushes every dirty page of the filesystem holding `anyPath` with one syncfs(2) (GNU
 * `sync --file-system`). Writing thousands of small objects and flushing once is ~50x faster
 * than one fsync per file, and as durable. Returns false when syncfs is unavailable, in which
 * case the caller must fsync each file.
 */
export function syncFilesystem(anyPath: string): boolean {
  if (syncfsAvailable === false) return false;
  const result = spawnSync('sync', ['--file-system', anyPath], { stdio: 'ignore' });
  syncfsAvailable = result.status === 0;
  return syncfsAvailable;
}
