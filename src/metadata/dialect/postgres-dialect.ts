/** PostgreSQL for teams and scale, through node-postgres. */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DdlCapabilities } from '../migrations.js';
import type { MetadataDatabase } from '../schema.js';

export const postgresCapabilities: DdlCapabilities = { json: 'jsonb', serial: 'serial' };

// bigint (COUNT, sizes) as numbers: ledge's sizes stay far below 2^53.
pg.types.setTypeParser(20, (value) => Number(value));
// jsonb as its text, the same as SQLite gives back.
pg.types.setTypeParser(3802, (value) => value);

export function openPostgres(url: string): Kysely<MetadataDatabase> {
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => {}); // idle-client errors surface on the next query instead
  return new Kysely<MetadataDatabase>({ dialect: new PostgresDialect({ pool }) });
}
