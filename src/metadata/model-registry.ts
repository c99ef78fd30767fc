/**
 * The model registry: named models with auto-numbered versions, each one a content-store
 * digest (a bundle directory's manifest or an .onnx file), and movable aliases
 * (`imdb-sentiment@production` → 3). A model reference is `name` (its latest version),
 * `name@3`, `name@production`, `name@latest`, or a digest `sha256:…` (the newest version with
 * it). Kysely only: the same queries on SQLite and PostgreSQL.
 */
import type { Kysely, Selectable } from 'kysely';
import { type Digest, isDigest } from '../core/digest.js';
import { LedgeError } from '../core/errors.js';
import { parseObject } from './metadata-store.js';
import type { MetadataDatabase, ModelVersionTable } from './schema.js';

export type ModelKind = 'bundle' | 'onnx';

export const MODEL_KINDS: readonly ModelKind[] = ['bundle', 'onnx'];

/** The alias every model has implicitly: its highest version. It cannot be set. */
export const LATEST_ALIAS = 'latest';

export interface ModelVersion {
  id: number;
  name: string;
  version: number;
  digest: Digest;
  kind: ModelKind;
  size: number;
  createdAt: string;
  /** The stage execution that produced it, when a pipeline did. */
  executionId: number | null;
  metrics: Record<string, unknown>;
  properties: Record<string, unknown>;
  /** The aliases pointing at this version, sorted. */
  aliases: string[];
}

export interface ModelRegistration {
  name: string;
  digest: Digest;
  kind: ModelKind;
  size: number;
  metrics?: Record<string, unknown> | undefined;
  properties?: Record<string, unknown> | undefined;
  executionId?: number | undefined;
  /** Register a new version even when this digest already is a version of this name. */
  force?: boolean | undefined;
}

export interface Registered {
  model: ModelVersion;
  /** False when the digest already was a version of the name, which is returned instead. */
  created: boolean;
}

export interface ModelSummary {
  name: string;
  /** How many versions it has. */
  versions: number;
  latest: ModelVersion;
  /** alias → version */
  aliases: Record<string, number>;
}

/** A parsed model reference. */
export type ModelRef =
  | { kind: 'digest'; digest: Digest }
  | { kind: 'latest'; name: string }
  | { kind: 'version'; name: string; version: number }
  | { kind: 'alias'; name: string; alias: string };

type Db = Kysely<MetadataDatabase>;
type VersionRow = Selectable<ModelVersionTable>;

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;
const ALIAS_PATTERN = /^[a-z][a-z0-9_-]*$/;
const REF_FORMS = 'NAME, NAME@VERSION, NAME@ALIAS or sha256:<64 hex>';

/** Checks a model name: lowercase letters, digits, `.`, `_`, `-`; never a path (`x.onnx`). */
export function checkModelName(name: string): string {
  if (!NAME_PATTERN.test(name) || name.length > 128 || name.endsWith('.onnx')) {
    throw new LedgeError('usage', `'${name}' is not a valid model name`, {
      hint: 'use lowercase letters, digits, ".", "_" and "-", starting with a letter or digit (e.g. imdb-sentiment)',
    });
  }
  return name;
}

/** Checks an alias name to set: `[a-z][a-z0-9_-]*` (never a number), and not `latest`. */
export function checkAlias(alias: string): string {
  if (!ALIAS_PATTERN.test(alias) || alias.length > 64) {
    throw new LedgeError('usage', `'${alias}' is not a valid alias`, {
      hint: 'an alias starts with a lowercase letter and holds lowercase letters, digits, "_" and "-" (e.g. production)',
    });
  }
  if (alias === LATEST_ALIAS) {
    throw new LedgeError('usage', `'${LATEST_ALIAS}' is reserved: it always means the highest version`, {
      hint: 'choose another alias name, e.g. production or staging',
    });
  }
  return alias;
}

function checkVersion(text: string, shownAs: string): number {
  const version = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(version) || version < 1) {
    throw new LedgeError('usage', `${shownAs}: version must be a positive integer, not '${text}'`, {
      hint: `write a model reference as ${REF_FORMS}`,
    });
  }
  return version;
}

/** Parses `name`, `name@3`, `name@alias`, `name@latest` or `sha256:…`. */
export function parseModelRef(ref: string): ModelRef {
  if (ref.startsWith('sha256:')) {
    if (!isDigest(ref)) {
      throw new LedgeError('usage', `model reference '${ref}' is not a digest`, {
        hint: 'write a digest as sha256:<64 lowercase hex digits> (`ledge model show NAME` prints it)',
      });
    }
    return { kind: 'digest', digest: ref };
  }
  const at = ref.indexOf('@');
  const name = at < 0 ? ref : ref.slice(0, at);
  const suffix = at < 0 ? undefined : ref.slice(at + 1);
  if (name === '' || suffix === '') {
    throw new LedgeError('usage', `'${ref}' is not a model reference`, {
      hint: `write it as ${REF_FORMS}`,
    });
  }
  checkModelName(name);
  if (suffix === undefined || suffix === LATEST_ALIAS) return { kind: 'latest', name };
  if (/^\d+$/.test(suffix)) return { kind: 'version', name, version: checkVersion(suffix, `'${ref}'`) };
  if (!ALIAS_PATTERN.test(suffix)) {
    throw new LedgeError('usage', `'${ref}': '${suffix}' is neither a version number nor an alias`, {
      hint: `write a model reference as ${REF_FORMS}`,
    });
  }
  return { kind: 'alias', name, alias: suffix };
}

/** The reference in its canonical text form. */
export function formatModelRef(ref: ModelRef): string {
  switch (ref.kind) {
    case 'digest':
      return ref.digest;
    case 'latest':
      return ref.name;
    case 'version':
      return `${ref.name}@${ref.version}`;
    case 'alias':
      return `${ref.name}@${ref.alias}`;
  }
}

function toModelVersion(row: VersionRow, aliases: string[]): ModelVersion {
  return {
    id: row.id,
    name: row.name,
    version: Number(row.version),
    digest: row.digest as Digest,
    kind: row.kind as ModelKind,
    size: Number(row.size),
    createdAt: row.created_at,
    executionId: row.execution_id,
    metrics: parseObject(row.metrics),
    properties: parseObject(row.properties),
    aliases: [...aliases].sort(),
  };
}

async function withAliases(db: Db, row: VersionRow): Promise<ModelVersion> {
  const aliases = await db
    .selectFrom('model_aliases')
    .select('alias')
    .where('name', '=', row.name)
    .where('version', '=', row.version)
    .execute();
  return toModelVersion(
    row,
    aliases.map((a) => a.alias),
  );
}

/**
 * Two writers lost a race: the same (name, version) inserted twice (a unique violation), or
 * a SQLite snapshot that went stale while another process wrote. Retrying is safe.
 */
function isWriteConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code.startsWith('SQLITE_BUSY') ||
    code === '23505' || // PostgreSQL unique_violation
    code === '40001' || // serialization_failure
    code === '40P01' // deadlock_detected
  );
}

const MAX_ATTEMPTS = 50;

function unknownModel(name: string): LedgeError {
  return new LedgeError('usage', `no model named '${name}' in the registry`, {
    hint: 'see `ledge model list`, or register one with `ledge model register PATH --name NAME`',
  });
}

/**
 * Registers `digest` as the next version of `name` (1 for a new name). Race-safe: concurrent
 * registrations of one name, from any process or workspace sharing the database, get distinct
 * versions (a transaction, retried when another writer took the number first). When the
 * digest already is a version of the name, that version is returned (`created: false`)
 * unless `force`.
 */
export async function registerModelVersion(db: Db, input: ModelRegistration): Promise<Registered> {
  const name = checkModelName(input.name);
  if (!isDigest(input.digest)) {
    throw new LedgeError('usage', `'${input.digest}' is not a digest`, {
      hint: 'write it as sha256:<64 lowercase hex digits>',
    });
  }
  if (!MODEL_KINDS.includes(input.kind)) {
    throw new LedgeError('usage', `model kind must be ${MODEL_KINDS.join(' or ')}, not '${input.kind}'`);
  }
  if (!Number.isSafeInteger(input.size) || input.size < 0) {
    throw new LedgeError('usage', `model size must be a byte count, not ${input.size}`);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const outcome = await db.transaction().execute(async (trx) => {
        if (!input.force) {
          const existing = await trx
            .selectFrom('model_versions')
            .selectAll()
            .where('name', '=', name)
            .where('digest', '=', input.digest)
            .orderBy('version', 'desc')
            .limit(1)
            .executeTakeFirst();
          if (existing) return { row: existing, created: false };
        }
        if (input.executionId !== undefined) {
          const execution = await trx
            .selectFrom('executions')
            .select('id')
            .where('id', '=', input.executionId)
            .executeTakeFirst();
          if (!execution) {
            throw new LedgeError('usage', `no run or execution with id ${input.executionId}`, {
              hint: 'see `ledge runs list`',
            });
          }
        }
        const { latest } = await trx
          .selectFrom('model_versions')
          .select((eb) => eb.fn.max('version').as('latest'))
          .where('name', '=', name)
          .executeTakeFirstOrThrow();
        const row = await trx
          .insertInto('model_versions')
          .values({
            name,
            version: Number(latest ?? 0) + 1,
            digest: input.digest,
            kind: input.kind,
            size: input.size,
            created_at: new Date().toISOString(),
            execution_id: input.executionId ?? null,
            metrics: JSON.stringify(input.metrics ?? {}),
            properties: JSON.stringify(input.properties ?? {}),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return { row, created: true };
      });
      return { model: await withAliases(db, outcome.row), created: outcome.created };
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !isWriteConflict(error)) throw error;
      // Back off a little, more with each lost race, so the writers spread out.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4 * attempt));
    }
  }
}

/** Every model: its latest version, how many versions it has, and its aliases; by name. */
export async function listModels(db: Db): Promise<ModelSummary[]> {
  const latest = db
    .selectFrom('model_versions')
    .select((eb) => ['name', eb.fn.max('version').as('latest'), eb.fn.countAll().as('versions')])
    .groupBy('name')
    .as('m');
  const rows = await db
    .selectFrom('model_versions as v')
    .innerJoin(latest, (join) => join.onRef('m.name', '=', 'v.name').onRef('m.latest', '=', 'v.version'))
    .selectAll('v')
    .select('m.versions')
    .orderBy('v.name')
    .execute();
  const aliasRows = await db
    .selectFrom('model_aliases')
    .selectAll()
    .orderBy('name')
    .orderBy('alias')
    .execute();
  const aliases = new Map<string, Record<string, number>>();
  for (const a of aliasRows) {
    const forName = aliases.get(a.name) ?? {};
    forName[a.alias] = Number(a.version);
    aliases.set(a.name, forName);
  }
  return rows.map(({ versions, ...row }) => {
    const forName = aliases.get(row.name) ?? {};
    const pointing = Object.keys(forName).filter((alias) => forName[alias] === Number(row.version));
    return {
      name: row.name,
      versions: Number(versions),
      latest: toModelVersion(row, pointing),
      aliases: forName,
    };
  });
}

/** The aliases of a model: alias → version. */
export async function modelAliases(db: Db, name: string): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('model_aliases')
    .select(['alias', 'version'])
    .where('name', '=', name)
    .orderBy('alias')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.alias, Number(r.version)]));
}

/** Every version of a model, oldest first; a LedgeError when there is no such model. */
export async function modelVersions(db: Db, name: string): Promise<ModelVersion[]> {
  checkModelName(name);
  const rows = await db
    .selectFrom('model_versions')
    .selectAll()
    .where('name', '=', name)
    .orderBy('version')
    .execute();
  if (rows.length === 0) throw unknownModel(name);
  const aliases = Object.entries(await modelAliases(db, name));
  return rows.map((row) =>
    toModelVersion(
      row,
      aliases.filter(([, v]) => v === Number(row.version)).map(([a]) => a),
    ),
  );
}

/** One version of a model; a LedgeError naming what exists when there is no such version. */
export async function getModelVersion(db: Db, name: string, version: number): Promise<ModelVersion> {
  checkModelName(name);
  const row = await db
    .selectFrom('model_versions')
    .selectAll()
    .where('name', '=', name)
    .where('version', '=', version)
    .executeTakeFirst();
  if (row) return withAliases(db, row);
  const { latest } = await db
    .selectFrom('model_versions')
    .select((eb) => eb.fn.max('version').as('latest'))
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  if (latest === null || latest === undefined) throw unknownModel(name);
  const highest = Number(latest);
  throw new LedgeError(
    'usage',
    `model '${name}' has no version ${version} (it has ${highest === 1 ? 'version 1' : `versions 1 to ${highest}`})`,
    { hint: `see \`ledge model show ${name}\`` },
  );
}

/**
 * Points `name@alias` at `version` (creating or moving it); returns the version it pointed at
 * before, if any.
 */
export async function setAlias(
  db: Db,
  name: string,
  alias: string,
  version: number,
): Promise<{ previous: number | undefined }> {
  checkAlias(alias);
  await getModelVersion(db, name, version);
  return db.transaction().execute(async (trx) => {
    const before = await trx
      .selectFrom('model_aliases')
      .select('version')
      .where('name', '=', name)
      .where('alias', '=', alias)
      .executeTakeFirst();
    const updatedAt = new Date().toISOString();
    await trx
      .insertInto('model_aliases')
      .values({ name, alias, version, updated_at: updatedAt })
      .onConflict((oc) => oc.columns(['name', 'alias']).doUpdateSet({ version, updated_at: updatedAt }))
      .execute();
    return { previous: before === undefined ? undefined : Number(before.version) };
  });
}

/** Removes `name@alias`; returns the version it pointed at. */
export async function deleteAlias(db: Db, name: string, alias: string): Promise<number> {
  checkModelName(name);
  const removed = await db
    .deleteFrom('model_aliases')
    .where('name', '=', name)
    .where('alias', '=', alias)
    .returning('version')
    .executeTakeFirst();
  if (removed) return Number(removed.version);
  await modelVersions(db, name); // an unknown model says so
  throw unknownAlias(name, alias, await modelAliases(db, name));
}

function unknownAlias(name: string, alias: string, existing: Record<string, number>): LedgeError {
  const names = Object.keys(existing);
  return new LedgeError('usage', `model '${name}' has no alias '${alias}'`, {
    hint: `${names.length > 0 ? `its aliases: ${names.join(', ')}; ` : ''}set it with \`ledge model alias ${name}@${alias} VERSION\``,
  });
}

/** The version a model reference means; a one-line LedgeError when it means nothing. */
export async function resolveModelRef(db: Db, ref: string | ModelRef): Promise<ModelVersion> {
  const parsed = typeof ref === 'string' ? parseModelRef(ref) : ref;
  switch (parsed.kind) {
    case 'digest': {
      const found = await findModelVersionByDigest(db, parsed.digest);
      if (!found) {
        throw new LedgeError('usage', `no registered model version has digest ${parsed.digest}`, {
          hint: 'see `ledge model list`, or give the path of the model file or bundle',
        });
      }
      return found;
    }
    case 'latest': {
      const row = await db
        .selectFrom('model_versions')
        .selectAll()
        .where('name', '=', parsed.name)
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (!row) throw unknownModel(parsed.name);
      return withAliases(db, row);
    }
    case 'version':
      return getModelVersion(db, parsed.name, parsed.version);
    case 'alias': {
      const row = await db
        .selectFrom('model_aliases')
        .select('version')
        .where('name', '=', parsed.name)
        .where('alias', '=', parsed.alias)
        .executeTakeFirst();
      if (!row) {
        await modelVersions(db, parsed.name); // an unknown model says so
        throw unknownAlias(parsed.name, parsed.alias, await modelAliases(db, parsed.name));
      }
      return getModelVersion(db, parsed.name, Number(row.version));
    }
  }
}

/** The newest registered version with this digest, if any (for naming a model given by path). */
export async function findModelVersionByDigest(db: Db, digest: Digest): Promise<ModelVersion | undefined> {
  const row = await db
    .selectFrom('model_versions')
    .selectAll()
    .where('digest', '=', digest)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? withAliases(db, row) : undefined;
}

/** Every digest the registry references, with its kind (what `ledge gc` must keep). */
export async function registeredModelDigests(db: Db): Promise<{ digest: Digest; kind: ModelKind }[]> {
  const rows = await db.selectFrom('model_versions').select(['digest', 'kind']).distinct().execute();
  return rows.map((r) => ({ digest: r.digest as Digest, kind: r.kind as ModelKind }));
}
