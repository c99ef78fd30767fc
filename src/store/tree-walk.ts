/**
 * Lists the files below a directory with the stat data the stat cache needs. Symlinks are
 * followed (their target's content is tracked); a symlink that leads back into one of its
 * own ancestors is reported as a loop instead of walked forever.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isLeftoverTemp } from '../core/atomic-fs.js';
import { fsError, LedgeError } from '../core/errors.js';

export interface WalkedFile {
  /** Path relative to the walked directory, with `/` separators. */
  rel: string;
  size: number;
  mtimeMs: number;
  ino: number;
  executable: boolean;
}

export interface WalkOptions {
  /** Shown in messages as the walked directory's name (workspace-relative). */
  displayRoot: string;
}

export function walkTree(root: string, options: WalkOptions): WalkedFile[] {
  const files: WalkedFile[] = [];
  const ancestors = new Set<string>();
  const show = (rel: string) => (rel ? `${options.displayRoot}/${rel}` : options.displayRoot);

  const visit = (dir: string, relDir: string, dirStat: fs.Stats) => {
    const key = `${dirStat.dev}:${dirStat.ino}`;
    if (ancestors.has(key)) {
      throw new LedgeError(
        'symlink-loop',
        `symlink loop at '${show(relDir)}': it leads back to one of its parents`,
        {
          hint: 'remove the symlink or point it outside the tracked directory',
        },
      );
    }
    ancestors.add(key);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      throw fsError(error, show(relDir), 'cannot list');
    }
    for (const entry of entries) {
      const abs = path.join(dir, entry.name);
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      if (isLeftoverTemp(entry.name)) {
        // Left by a ledge process killed while placing a file here (checkout, pull): not data.
        fs.rmSync(abs, { recursive: true, force: true });
        continue;
      }
      let st: fs.Stats;
      try {
        st = entry.isSymbolicLink() ? fs.statSync(abs) : fs.lstatSync(abs);
      } catch (error) {
        if (entry.isSymbolicLink()) {
          throw new LedgeError(
            'path-not-found',
            `'${show(rel)}' is a symlink to a missing or looping target`,
            {
              hint: 'fix or remove the symlink',
              cause: error,
            },
          );
        }
        throw fsError(error, show(rel), 'cannot read');
      }
      if (st.isDirectory()) {
        visit(abs, rel, st);
      } else if (st.isFile()) {
        files.push({
          rel,
          size: st.size,
          mtimeMs: st.mtimeMs,
          ino: st.ino,
          executable: (st.mode & 0o111) !== 0,
        });
      } else {
        throw new LedgeError('unsupported-file-type', `'${show(rel)}' is not a regular file or directory`, {
          hint: 'ledge tracks regular files; move sockets, pipes and devices out of the tracked directory',
        });
      }
    }
    ancestors.delete(key);
  };

  let rootStat: fs.Stats;
  try {
    rootStat = fs.statSync(root);
  } catch (error) {
    throw fsError(error, options.displayRoot, 'cannot read');
  }
  visit(root, '', rootStat);
  files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return files;
}
