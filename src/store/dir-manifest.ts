/**
 * A directory version, stored as one object: the sorted list of its files with digest, size
 * and executable bit. Canonical JSON, so the same tree always yields the same digest.
 */
import { type Digest, isDigest, sha256 } from '../core/digest.js';
import { LedgeError } from '../core/errors.js';

export const DIR_MEDIA_TYPE = 'application/vnd.ledge.directory.v1+json';

export interface DirEntry {
  /** Relative path inside the directory, `/`-separated, never `..` or absolute. */
  path: string;
  digest: Digest;
  size: number;
  executable: boolean;
}

export interface DirManifest {
  entries: DirEntry[];
}

function compare(a: DirEntry, b: DirEntry): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

export function serializeManifest(entries: DirEntry[]): string {
  const sorted = [...entries].sort(compare);
  const lines = sorted.map((e) => {
    const base = `{"path":${JSON.stringify(e.path)},"digest":"${e.digest}","size":${e.size}`;
    return e.executable ? `${base},"executable":true}` : `${base}}`;
  });
  return `{"mediaType":"${DIR_MEDIA_TYPE}","entries":[\n${lines.join(',\n')}\n]}\n`;
}

function isSafeRelative(p: string): boolean {
  if (p === '' || p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false;
  return p.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

export function parseManifest(data: Buffer | string, digest: Digest): DirManifest {
  const bad = (why: string) =>
    new LedgeError('corrupt-object', `directory manifest ${digest} is invalid: ${why}`, {
      hint: 'run `ledge fsck --repair` to fetch a good copy from the remote',
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
  const doc = parsed as { mediaType?: unknown; entries?: unknown };
  if (doc.mediaType !== DIR_MEDIA_TYPE || !Array.isArray(doc.entries))
    throw bad('not a ledge directory manifest');
  const entries: DirEntry[] = [];
  for (const raw of doc.entries as Record<string, unknown>[]) {
    const { path, digest: d, size, executable } = raw ?? {};
    if (typeof path !== 'string' || !isSafeRelative(path)) throw bad(`unsafe path ${JSON.stringify(path)}`);
    if (!isDigest(d) || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw bad(`bad entry for '${path}'`);
    }
    entries.push({ path, digest: d, size, executable: executable === true });
  }
  return { entries };
}

/** The digest a manifest of these entries has, without storing it. */
export function manifestDigest(entries: DirEntry[]): Digest {
  return sha256(serializeManifest(entries));
}
