/** PostgreSQL for teams and scale, through node-postgres. */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { DdlCapabilities } from '../migrations.js';
import type { MetadataDatabase } from '../schema.js';

const pathArray = (path: string[]) => `{${path.join(',')}}`;

export const postgresCapabilities: DdlCapabilities = {
  json: 'jsonb',
  serial: 'serial',
  jsonNumber: (column, path) =>
    sql<
      number | null
    >`(case when jsonb_typeof(${sql.ref(column)} #> ${pathArray(path)}::text[]) = 'number' then (${sql.ref(column)} #>> ${pathArray(path)}::text[])::double precision end)`,
  jsonText: (column, path) =>
    sql<
      string | null
    >`(case when jsonb_typeof(${sql.ref(column)} #> ${pathArray(path)}::text[]) in ('number', 'string', 'boolean') then ${sql.ref(column)} #>> ${pathArray(path)}::text[] end)`,
};

// bigint (COUNT, sizes) as numbers: ledge's sizes stay far below 2^53.
pg.types.setTypeParser(20, (value) => Number(value));
// jsonb as its text, the same as SQLite gives back.
pg.types.setTypeParser(3802, (value) => value);

export function openPostgres(url: string): Kysely<MetadataDatabase> {
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => {}); // idle-client errors surface on the next query instead
  return new Kysely<MetadataDatabase>({ dialect: new PostgresDialect({ pool }) });
}
