/**
 * What goes into a layer, described as files at paths in the image, and how that description
 * becomes a reproducible entry list: paths normalised, parent directories added, duplicates
 * refused, entries sorted by path, owners 0:0, modes normalised, one fixed mtime.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fsError } from '../../core/errors.js';
import { badEntry, unsafePath } from '../image-errors.js';
import { safeEntryPath, type TarHeader } from './tar-format.js';
import type { TarWriteEntry } from './tar-writer.js';

export interface LayerFile {
  /** Where the file lives in the image: `app/server.js` or `/app/server.js`. */
  path: string;
  /** `file` (default), `directory` or `symlink`. */
  type?: 'file' | 'directory' | 'symlink';
  /** A regular file's content… */
  content?: string | Uint8Array;
  /** …or a file on disk to copy it from. */
  source?: string;
  /** Symlink target (as it should resolve inside the container). */
  target?: string;
  /** Default: 0o755 for directories and executable sources, 0o644 otherwise. */
  mode?: number;
  /** Default 0 (root). */
  uid?: number;
  gid?: number;
}

/** Normalises a path in the image; a leading `/` is allowed here (it means the image root). */
export function imagePath(raw: string, where = 'layer'): string {
  if (/^\/+$/.test(raw)) throw unsafePath(raw, where);
  return safeEntryPath(raw.replace(/^\/+/, ''), where);
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The tar entries of a layer, in the order they are written. */
export function layerEntries(files: readonly LayerFile[], mtime: number): TarWriteEntry[] {
  const byPath = new Map<string, TarWriteEntry>();
  for (const file of files) {
    const rel = imagePath(file.path);
    if (byPath.has(rel)) throw badEntry(rel, 'listed twice');
    byPath.set(rel, entryOf(file, rel, mtime));
  }
  for (const rel of [...byPath.keys()]) {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const existing = byPath.get(parent);
      if (existing && existing.header.type !== 'directory') {
        throw badEntry(rel, `its parent '${parent}' is not a directory`);
      }
      if (!existing) {
        byPath.set(parent, { header: header(parent, 'directory', 0o755, 0, 0, 0, mtime) });
      }
    }
  }
  return [...byPath.entries()].sort(([a], [b]) => compareBytes(a, b)).map(([, entry]) => entry);
}

function header(
  rel: string,
  type: TarHeader['type'],
  mode: number,
  size: number,
  uid: number,
  gid: number,
  mtime: number,
): TarHeader {
  return { path: rel, type, mode, uid, gid, size, mtime };
}

function entryOf(file: LayerFile, rel: string, mtime: number): TarWriteEntry {
  const uid = file.uid ?? 0;
  const gid = file.gid ?? 0;
  const type = file.type ?? 'file';
  if (type === 'directory') {
    return { header: header(rel, 'directory', file.mode ?? 0o755, 0, uid, gid, mtime) };
  }
  if (type === 'symlink') {
    if (!file.target) throw badEntry(rel, 'a symlink needs a target');
    return {
      header: { ...header(rel, 'symlink', file.mode ?? 0o777, 0, uid, gid, mtime), linkpath: file.target },
    };
  }
  if (file.content !== undefined && file.source !== undefined)
    throw badEntry(rel, 'give content or source, not both');
  if (file.content !== undefined) {
    const content = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
    return { header: header(rel, 'file', file.mode ?? 0o644, content.length, uid, gid, mtime), content };
  }
  if (file.source === undefined) throw badEntry(rel, 'a file needs content or a source');
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file.source);
  } catch (error) {
    throw fsError(error, file.source, `layer entry '${rel}'`);
  }
  if (!stat.isFile()) throw badEntry(rel, `source ${file.source} is not a regular file`);
  const mode = file.mode ?? ((stat.mode & 0o111) !== 0 ? 0o755 : 0o644);
  return { header: header(rel, 'file', mode, stat.size, uid, gid, mtime), source: file.source };
}

export interface DirectoryOptions {
  /** Where the directory's contents go in the image (default: the root). */
  to?: string;
  /** Leaves out entries (paths relative to the directory, `/`-separated) for which this is true. */
  exclude?: (relative: string) => boolean;
}

/**
 * The files under `dir` as layer files: regular files, symlinks (kept as links) and
 * directories; modes normalised to 0o755/0o644 by the executable bit, so a checkout's umask
 * does not change the digest. Other file types are refused.
 */
export function filesFromDirectory(dir: string, options: DirectoryOptions = {}): LayerFile[] {
  const to = options.to ? imagePath(options.to) : '';
  const files: LayerFile[] = [];
  const walk = (abs: string, rel: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch (error) {
      throw fsError(error, abs, 'reading the layer directory');
    }
    for (const entry of entries) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (options.exclude?.(childRel)) continue;
      const childAbs = path.join(abs, entry.name);
      const inImage = to ? `${to}/${childRel}` : childRel;
      if (entry.isDirectory()) {
        files.push({ path: inImage, type: 'directory' });
        walk(childAbs, childRel);
      } else if (entry.isSymbolicLink()) {
        files.push({ path: inImage, type: 'symlink', target: fs.readlinkSync(childAbs) });
      } else if (entry.isFile()) {
        files.push({ path: inImage, source: childAbs });
      } else {
        throw badEntry(inImage, `${childAbs} is not a file, directory or symlink`);
      }
    }
  };
  walk(path.resolve(dir), '');
  return files;
}
