/** The embedded default: SQLite through better-sqlite3 (WAL, so readers never block writers). */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { DdlCapabilities } from '../migrations.js';
import type { MetadataDatabase } from '../schema.js';

const jsonPath = (path: string[]) => `$${path.map((part) => `."${part}"`).join('')}`;

export const sqliteCapabilities: DdlCapabilities = {
  json: 'text',
  serial: 'integer',
  jsonNumber: (column, path) =>
    sql<
      number | null
    >`(case when json_type(${sql.ref(column)}, ${jsonPath(path)}) in ('integer', 'real') then json_extract(${sql.ref(column)}, ${jsonPath(path)}) end)`,
  jsonText: (column, path) =>
    sql<
      string | null
    >`(case when json_type(${sql.ref(column)}, ${jsonPath(path)}) in ('integer', 'real', 'text', 'true', 'false') then cast(json_extract(${sql.ref(column)}, ${jsonPath(path)}) as text) end)`,
};

export function openSqlite(file: string): Kysely<MetadataDatabase> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const database = new Database(file, { timeout: 30_000 });
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  return new Kysely<MetadataDatabase>({ dialect: new SqliteDialect({ database }) });
}
