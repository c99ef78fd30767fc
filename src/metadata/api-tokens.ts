/**
 * API tokens of the control plane (migration 0007): only each token's sha256 is stored, with a
 * name, a short prefix to tell tokens apart, and whether it may only read. Revoked tokens stay
 * listed (with when) but no longer authenticate.
 */
import type { Selectable } from 'kysely';
import { LedgeError } from '../core/errors.js';
import { type ApiTokenTable, type ControlDb, controlDb } from './control-plane-schema.js';
import type { MetadataStore } from './metadata-store.js';

export interface ApiToken {
  id: number;
  name: string;
  prefix: string;
  readOnly: boolean;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function tokenOf(row: Selectable<ApiTokenTable>): ApiToken {
  return {
    id: Number(row.id),
    name: row.name,
    prefix: row.prefix,
    readOnly: Number(row.read_only) === 1,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export class ApiTokenRecords {
  private readonly db: ControlDb;

  constructor(metadata: MetadataStore) {
    this.db = controlDb(metadata.db);
  }

  async add(token: { name: string; hash: string; prefix: string; readOnly: boolean }): Promise<ApiToken> {
    const existing = await this.db
      .selectFrom('api_tokens')
      .select('id')
      .where('name', '=', token.name)
      .executeTakeFirst();
    if (existing) {
      throw new LedgeError('usage', `a token named '${token.name}' exists already`, {
        hint: 'choose another --name, or `ledge token revoke` it first',
      });
    }
    const row = await this.db
      .insertInto('api_tokens')
      .values({
        name: token.name,
        token_hash: token.hash,
        prefix: token.prefix,
        read_only: token.readOnly ? 1 : 0,
        created_at: new Date().toISOString(),
        last_used_at: null,
        revoked_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return tokenOf(row);
  }

  async list(): Promise<ApiToken[]> {
    const rows = await this.db.selectFrom('api_tokens').selectAll().orderBy('id').execute();
    return rows.map(tokenOf);
  }

  /** The live (not revoked) token with this hash; marks it used. */
  async authenticate(hash: string): Promise<ApiToken | undefined> {
    const row = await this.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('token_hash', '=', hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    await this.db
      .updateTable('api_tokens')
      .set({ last_used_at: new Date().toISOString() })
      .where('id', '=', row.id)
      .execute();
    return tokenOf(row);
  }

  /** Revokes the token with this name (or numeric id); returns it. */
  async revoke(nameOrId: string): Promise<ApiToken> {
    const row = await this.db
      .selectFrom('api_tokens')
      .selectAll()
      .where((eb) =>
        /^\d+$/.test(nameOrId)
          ? eb.or([eb('name', '=', nameOrId), eb('id', '=', Number(nameOrId))])
          : eb('name', '=', nameOrId),
      )
      .executeTakeFirst();
    if (!row)
      throw new LedgeError('usage', `no token named '${nameOrId}'`, { hint: 'see `ledge token list`' });
    if (row.revoked_at === null) {
      await this.db
        .updateTable('api_tokens')
        .set({ revoked_at: new Date().toISOString() })
        .where('id', '=', row.id)
        .execute();
    }
    return tokenOf(
      (await this.db.selectFrom('api_tokens').selectAll().where('id', '=', row.id).executeTakeFirst())!,
    );
  }
}
