/**
 * Per-workspace local state in SQLite (`.ledge/state/state.db`, never committed):
 * - the stat cache: (path, size, mtime, inode) → digest, so unchanged files are not re-read;
 * - the remote index: which objects each remote is known to hold, so `status` can say what
 *   is not pushed without a network round trip.
 * WAL mode lets concurrent ledge processes read and write it safely.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Digest } from '../core/digest.js';

export interface StatEntry {
  size: number;
  mtimeMs: number;
  ino: number;
  digest: Digest;
}

export interface StatRecord extends StatEntry {
  path: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS stat_cache (
  path TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  mtime REAL NOT NULL,
  ino INTEGER NOT NULL,
  digest TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS remote_objects (
  remote TEXT NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (remote, digest)
) WITHOUT ROWID;
`;

export class StateDb {
  private readonly db: Database.Database;

  constructor(stateDir: string) {
    fs.mkdirSync(stateDir, { recursive: true });
    this.db = new Database(path.join(stateDir, 'state.db'), { timeout: 30_000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /** Stat entries for one path, or for every path below a directory prefix. */
  statEntries(relPath: string, isDir: boolean): Map<string, StatEntry> {
    const rows = isDir
      ? (this.db
          .prepare('SELECT path, size, mtime, ino, digest FROM stat_cache WHERE path >= ? AND path < ?')
          .raw()
          .all(`${relPath}/`, `${relPath}0`) as [string, number, number, number, Digest][])
      : (this.db
          .prepare('SELECT path, size, mtime, ino, digest FROM stat_cache WHERE path = ?')
          .raw()
          .all(relPath) as [string, number, number, number, Digest][]);
    const entries = new Map<string, StatEntry>();
    for (const [p, size, mtimeMs, ino, digest] of rows) entries.set(p, { size, mtimeMs, ino, digest });
    return entries;
  }

  /** Records fresh hashes (paths workspace-relative). */
  putStatEntries(records: Iterable<StatRecord>): void {
    const insert = this.db.prepare(
      'INSERT OR REPLACE INTO stat_cache (path, size, mtime, ino, digest) VALUES (?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const r of records) insert.run(r.path, r.size, r.mtimeMs, r.ino, r.digest);
    })();
  }

  /** Drops entries of files that no longer exist below a directory. */
  deleteStatEntries(paths: Iterable<string>): void {
    const remove = this.db.prepare('DELETE FROM stat_cache WHERE path = ?');
    this.db.transaction(() => {
      for (const p of paths) remove.run(p);
    })();
  }

  remoteObjects(remote: string): Set<Digest> {
    const rows = this.db
      .prepare('SELECT digest FROM remote_objects WHERE remote = ?')
      .pluck()
      .all(remote) as Digest[];
    return new Set(rows);
  }

  addRemoteObjects(remote: string, digests: Iterable<Digest>): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO remote_objects (remote, digest) VALUES (?, ?)');
    this.db.transaction(() => {
      for (const d of digests) insert.run(remote, d);
    })();
  }

  /** Replaces what is known about a remote with a full listing. */
  replaceRemoteObjects(remote: string, digests: Iterable<Digest>): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM remote_objects WHERE remote = ?').run(remote);
      this.addRemoteObjects(remote, digests);
    })();
  }

  forgetRemote(remote: string): void {
    this.db.prepare('DELETE FROM remote_objects WHERE remote = ?').run(remote);
  }
}
