/**
 * Places a cache object in the workspace: reflink (copy-on-write clone) where the filesystem
 * supports it, else a copy; hardlinks or symlinks when configured. The result always appears
 * atomically (temp name, then rename over the target), and a workspace edit can never reach
 * the cache: copies and clones are independent, hardlinked and symlinked objects read-only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempPathIn } from '../core/atomic-fs.js';
import type { Digest } from '../core/digest.js';
import { isErrno } from '../core/errors.js';
import type { LinkType } from './config.js';
import type { ObjectCache } from './object-cache.js';

/** Link types that failed on this filesystem, so we stop retrying them per file. */
const unsupported = new Set<LinkType>();

function place(kind: LinkType, object: string, temp: string): void {
  switch (kind) {
    case 'reflink':
      fs.copyFileSync(object, temp, fs.constants.COPYFILE_FICLONE_FORCE | fs.constants.COPYFILE_EXCL);
      return;
    case 'copy':
      fs.copyFileSync(object, temp, fs.constants.COPYFILE_EXCL);
      return;
    case 'hardlink':
      fs.linkSync(object, temp);
      return;
    case 'symlink':
      fs.symlinkSync(object, temp);
      return;
  }
}

/** Errors meaning "this link type does not work here", as opposed to real failures. */
function isUnsupported(error: unknown): boolean {
  return isErrno(error, 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'EPERM', 'EMLINK');
}

/**
 * Materialises cache object `digest` at `target`, replacing whatever is there; returns the
 * link type used. Packed objects are written out (copy) unless a link type that needs a file
 * of their own comes first, in which case they are unpacked into a loose object.
 */
export function materializeObject(
  cache: ObjectCache,
  digest: Digest,
  target: string,
  executable: boolean,
  preference: LinkType[],
  direct = false,
): LinkType {
  const first = preference.find((kind) => !unsupported.has(kind) && !(executable && kind === 'hardlink'));
  const needsFile = first === 'hardlink' || first === 'symlink';
  if (needsFile || cache.isLoose(digest)) {
    const object = needsFile ? cache.ensureLoose(digest) : cache.pathOf(digest);
    return materialize(object, target, executable, preference, direct);
  }
  writeBytes(cache.readBuffer(digest), target, executable, direct);
  return 'copy';
}

/**
 * Writes `data` at `target` through a temp file and a rename, or straight to `target` when
 * `direct` (the caller builds a private staging directory that appears with one rename).
 */
function writeBytes(data: Buffer, target: string, executable: boolean, direct: boolean): void {
  const dir = path.dirname(target);
  const mode = executable ? 0o755 : 0o644;
  let temp = direct ? target : tempPathIn(dir);
  let fd: number;
  try {
    fd = fs.openSync(temp, 'wx', mode);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
    fs.mkdirSync(dir, { recursive: true });
    temp = direct ? target : tempPathIn(dir);
    fd = fs.openSync(temp, 'wx', mode);
  }
  try {
    let written = 0;
    while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written);
    fs.closeSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw error;
  }
  if (direct) return;
  try {
    fs.renameSync(temp, target);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    if (!isErrno(error, 'EISDIR', 'ENOTEMPTY', 'EEXIST')) throw error;
    // A directory stands where the file must go (the tracked path changed type).
    fs.rmSync(target, { recursive: true, force: true });
    writeBytes(data, target, executable, false);
  }
}

/**
 * Materialises the file `object` at `target`, replacing whatever is there. Returns the link
 * type used. Executable files are never hardlinked: the shared inode's mode is the cache's
 * read-only one.
 */
export function materialize(
  object: string,
  target: string,
  executable: boolean,
  preference: LinkType[],
  direct = false,
): LinkType {
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  const candidates = preference.filter(
    (kind) => !unsupported.has(kind) && !(executable && kind === 'hardlink'),
  );
  if (!candidates.includes('copy')) candidates.push('copy');
  for (const kind of candidates) {
    const temp = direct ? target : tempPathIn(dir);
    try {
      place(kind, object, temp);
    } catch (error) {
      fs.rmSync(temp, { force: true });
      if (kind !== 'copy' && isUnsupported(error)) {
        unsupported.add(kind);
        continue;
      }
      throw error;
    }
    try {
      if (kind === 'copy' || kind === 'reflink') fs.chmodSync(temp, executable ? 0o755 : 0o644);
      if (direct) return kind;
      fs.renameSync(temp, target);
    } catch (error) {
      fs.rmSync(temp, { force: true });
      if (isErrno(error, 'EISDIR', 'ENOTEMPTY', 'EEXIST')) {
        // A directory stands where a file must go (the tracked path changed type).
        fs.rmSync(target, { recursive: true, force: true });
        return materialize(object, target, executable, preference);
      }
      throw error;
    }
    return kind;
  }
  throw new Error('unreachable: copy always succeeds or throws');
}
