/**
 * The stat cache of one tracked path: for every file, (size, mtime, inode) → digest as last
 * seen, stored as one compact binary blob sorted by path. Loading 100,000 entries is one read
 * and a linear decode, and matching them against a (sorted) directory walk is a merge-join:
 * no per-file database row or map lookup.
 *
 * Layout (little-endian): magic `LSC1`, count u32, then per entry: path length u16, path
 * (UTF-8), size f64, mtimeMs f64, inode f64, sha256 (32 bytes).
 */
import { type Digest, digestFromHex } from '../core/digest.js';

export interface StatRow {
  /** Path relative to the tracked path ('' for a tracked file). */
  rel: string;
  size: number;
  mtimeMs: number;
  ino: number;
  digest: Digest;
}

const MAGIC = 0x3143534c; // 'LSC1'

export function encodeSnapshot(rows: StatRow[]): Buffer {
  const paths = rows.map((row) => Buffer.from(row.rel, 'utf8'));
  const total = 8 + paths.reduce((sum, p) => sum + 2 + p.length + 24 + 32, 0);
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(rows.length, 4);
  let at = 8;
  rows.forEach((row, i) => {
    const p = paths[i]!;
    out.writeUInt16LE(p.length, at);
    p.copy(out, at + 2);
    at += 2 + p.length;
    out.writeDoubleLE(row.size, at);
    out.writeDoubleLE(row.mtimeMs, at + 8);
    out.writeDoubleLE(row.ino, at + 16);
    out.write(row.digest.slice(7), at + 24, 32, 'hex');
    at += 56;
  });
  return out;
}

/** Decodes a snapshot; a damaged or foreign blob decodes as empty (everything is rehashed). */
export function decodeSnapshot(data: Buffer | undefined): StatRow[] {
  if (!data || data.length < 8 || data.readUInt32LE(0) !== MAGIC) return [];
  const count = data.readUInt32LE(4);
  const rows: StatRow[] = new Array(count);
  let at = 8;
  for (let i = 0; i < count; i++) {
    if (at + 2 > data.length) return [];
    const length = data.readUInt16LE(at);
    const end = at + 2 + length;
    if (end + 56 > data.length) return [];
    rows[i] = {
      rel: data.toString('utf8', at + 2, end),
      size: data.readDoubleLE(end),
      mtimeMs: data.readDoubleLE(end + 8),
      ino: data.readDoubleLE(end + 16),
      digest: digestFromHex(data.toString('hex', end + 24, end + 56)),
    };
    at = end + 56;
  }
  return rows;
}
