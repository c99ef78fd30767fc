/**
 * Per-workspace local state in SQLite (`.ledge/state/state.db`, never committed):
 * - the stat cache: per tracked path, (size, mtime, inode) → digest of every file, so
 *   unchanged files are not re-read;
 * - the remote index: which objects each remote is known to hold, so `status` can say what
 *   is not pushed without a network round trip.
 * WAL mode lets concurrent ledge processes read and write it safely.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Digest } from '../core/digest.js';
import { decodeSnapshot, encodeSnapshot, type StatRow } from './stat-snapshot.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS stat_snapshots (
  path TEXT PRIMARY KEY,
  data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS remote_complete (
  remote TEXT NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (remote, digest)
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

  /** The stat cache of one tracked path (see stat-snapshot.ts), sorted by path. */
  statSnapshot(trackedPath: string): StatRow[] {
    const row = this.db.prepare('SELECT data FROM stat_snapshots WHERE path = ?').pluck().get(trackedPath) as
      | Buffer
      | undefined;
    return decodeSnapshot(row);
  }

  /** Replaces the stat cache of one tracked path; `rows` must be sorted by path. */
  saveStatSnapshot(trackedPath: string, rows: StatRow[]): void {
    this.db
      .prepare('INSERT OR REPLACE INTO stat_snapshots (path, data) VALUES (?, ?)')
      .run(trackedPath, encodeSnapshot(rows));
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

  /** Whether a pointer digest and all it references are known to be on the remote. */
  isRemoteComplete(remote: string, digest: Digest): boolean {
    return (
      this.db.prepare('SELECT 1 FROM remote_complete WHERE remote = ? AND digest = ?').get(remote, digest) !==
      undefined
    );
  }

  markRemoteComplete(remote: string, digests: Iterable<Digest>): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO remote_complete (remote, digest) VALUES (?, ?)');
    this.db.transaction(() => {
      for (const d of digests) insert.run(remote, d);
    })();
  }

  forgetRemote(remote: string): void {
    this.db.prepare('DELETE FROM remote_objects WHERE remote = ?').run(remote);
    this.db.prepare('DELETE FROM remote_complete WHERE remote = ?').run(remote);
  }
}
