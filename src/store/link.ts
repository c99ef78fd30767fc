/**
 * Places a cache object in the workspace: reflink (copy-on-write clone) where the filesystem
 * supports it, else a copy; hardlinks or symlinks when configured. The result always appears
 * atomically (temp name, then rename over the target), and a workspace edit can never reach
 * the cache: copies and clones are independent, hardlinked and symlinked objects read-only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempPathIn } from '../core/atomic-fs.js';
import { isErrno } from '../core/errors.js';
import type { LinkType } from './config.js';

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
 * Materialises `object` at `target`, replacing whatever is there. Returns the link type used.
 * Executable files are never hardlinked: the shared inode's mode is the cache's read-only one.
 */
export function materialize(
  object: string,
  target: string,
  executable: boolean,
  preference: LinkType[],
): LinkType {
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  const candidates = preference.filter(
    (kind) => !unsupported.has(kind) && !(executable && kind === 'hardlink'),
  );
  if (!candidates.includes('copy')) candidates.push('copy');
  for (const kind of candidates) {
    const temp = tempPathIn(dir);
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
