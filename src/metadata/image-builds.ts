/**
 * Image builds in the metadata store (migration 0006): every `ledge build` of a model, with
 * what it made (image or index digest; per platform the image, its base and its layers with
 * their sizes), from what (model version, base image, git commit) and where it went. Kysely
 * only: the same queries on SQLite and PostgreSQL.
 */
import { type Kysely, type Selectable, sql } from 'kysely';
import { isDigest } from '../core/digest.js';
import { LedgeError } from '../core/errors.js';
import { parseObject } from './metadata-store.js';
import type { ImageBuildTable, MetadataDatabase } from './schema.js';

type Db = Kysely<MetadataDatabase>;

export interface RecordedLayer {
  /** base | dependencies | server | model */
  role: string;
  mediaType: string;
  digest: string;
  diffId: string;
  size: number;
  uncompressedSize: number | null;
}

export interface RecordedPlatform {
  platform: string;
  digest: string;
  base: { name: string; digest: string };
  layers: RecordedLayer[];
  size: number;
  uncompressedSize: number | null;
}

export interface RecordedOutput {
  /** oci | tar | push | dockerfile */
  kind: string;
  location: string;
  digest?: string | undefined;
  bytes?: number | undefined;
}

export interface ImageBuildInput {
  digest: string;
  mediaType: string;
  modelName: string;
  modelVersion?: number | null | undefined;
  /** → model_versions.id */
  modelVersionId?: number | null | undefined;
  modelDigest: string;
  baseRef: string;
  baseDigest?: string | null | undefined;
  platforms: RecordedPlatform[];
  size: number;
  tag?: string | null | undefined;
  outputs: RecordedOutput[];
  gitCommit?: string | null | undefined;
  gitDirty?: boolean | null | undefined;
  imageCreated: string;
  properties?: Record<string, unknown> | undefined;
}

export interface ImageBuild {
  id: number;
  createdAt: string;
  digest: string;
  mediaType: string;
  modelName: string;
  modelVersion: number | null;
  modelVersionId: number | null;
  modelDigest: string;
  baseRef: string;
  baseDigest: string | null;
  platforms: RecordedPlatform[];
  size: number;
  tag: string | null;
  outputs: RecordedOutput[];
  gitCommit: string | null;
  gitDirty: boolean | null;
  imageCreated: string;
  properties: Record<string, unknown>;
}

export interface ImageBuildQuery {
  modelName?: string | undefined;
  modelVersion?: number | undefined;
  /** The newest N (default 100), newest first. */
  limit?: number | undefined;
}

function parseArray<T>(text: string | null | undefined): T[] {
  if (!text) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? (value as T[]) : [];
  } catch {
    return [];
  }
}

function buildOf(row: Selectable<ImageBuildTable>): ImageBuild {
  return {
    id: Number(row.id),
    createdAt: row.created_at,
    digest: row.digest,
    mediaType: row.media_type,
    modelName: row.model_name,
    modelVersion: row.model_version === null ? null : Number(row.model_version),
    modelVersionId: row.model_version_id === null ? null : Number(row.model_version_id),
    modelDigest: row.model_digest,
    baseRef: row.base_ref,
    baseDigest: row.base_digest,
    platforms: parseArray<RecordedPlatform>(row.platforms),
    size: Number(row.size),
    tag: row.tag,
    outputs: parseArray<RecordedOutput>(row.outputs),
    gitCommit: row.git_commit,
    gitDirty: row.git_dirty === null ? null : Boolean(Number(row.git_dirty)),
    imageCreated: row.image_created,
    properties: parseObject(row.properties),
  };
}

export async function recordImageBuild(
  db: Db,
  input: ImageBuildInput,
  now = new Date(),
): Promise<ImageBuild> {
  const row = await db
    .insertInto('image_builds')
    .values({
      created_at: now.toISOString(),
      digest: input.digest,
      media_type: input.mediaType,
      model_name: input.modelName,
      model_version: input.modelVersion ?? null,
      model_version_id: input.modelVersionId ?? null,
      model_digest: input.modelDigest,
      base_ref: input.baseRef,
      base_digest: input.baseDigest ?? null,
      platforms: JSON.stringify(input.platforms),
      size: input.size,
      tag: input.tag ?? null,
      outputs: JSON.stringify(input.outputs),
      git_commit: input.gitCommit ?? null,
      git_dirty: input.gitDirty === undefined || input.gitDirty === null ? null : Number(input.gitDirty),
      image_created: input.imageCreated,
      properties: JSON.stringify(input.properties ?? {}),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return buildOf(row);
}

/** Builds, newest first. */
export async function listImageBuilds(db: Db, query: ImageBuildQuery = {}): Promise<ImageBuild[]> {
  let select = db.selectFrom('image_builds').selectAll();
  if (query.modelName !== undefined) select = select.where('model_name', '=', query.modelName);
  if (query.modelVersion !== undefined) select = select.where('model_version', '=', query.modelVersion);
  const rows = await select
    .orderBy('id', 'desc')
    .limit(query.limit ?? 100)
    .execute();
  return rows.map(buildOf);
}

/**
 * One build: by id (`7`), or the newest whose image, index or platform image has this digest
 * (`sha256:…`, or a unique prefix of at least 12 hex digits).
 */
export async function getImageBuild(db: Db, ref: string | number): Promise<ImageBuild> {
  const text = String(ref).trim();
  if (/^\d+$/.test(text)) {
    const row = await db
      .selectFrom('image_builds')
      .selectAll()
      .where('id', '=', Number(text))
      .executeTakeFirst();
    if (!row) throw new LedgeError('usage', `no image build ${text}`, { hint: 'see `ledge build list`' });
    return buildOf(row);
  }
  const hex = text.replace(/^sha256:/, '');
  if (!/^[0-9a-f]{12,64}$/.test(hex)) {
    throw new LedgeError('usage', `'${text}' is neither a build id nor an image digest`, {
      hint: 'give the number `ledge build list` shows, or sha256:<hex>',
    });
  }
  const digest = `sha256:${hex}`;
  const exact = isDigest(digest);
  // The platforms' digests are inside a JSON column (text in SQLite, jsonb in PostgreSQL).
  const platformsText = sql<string>`cast(${sql.ref('platforms')} as text)`;
  const rows = await db
    .selectFrom('image_builds')
    .selectAll()
    .where((eb) =>
      eb.or([
        exact ? eb('digest', '=', digest) : eb('digest', 'like', `${digest}%`),
        eb(platformsText, 'like', `%${digest}%`),
      ]),
    )
    .orderBy('id', 'desc')
    .limit(50)
    .execute();
  const builds = rows
    .map(buildOf)
    .filter(
      (build) =>
        build.digest.startsWith(digest) ||
        build.platforms.some((platform) => platform.digest.startsWith(digest)),
    );
  if (builds.length === 0) {
    throw new LedgeError('usage', `no recorded image build made ${text}`, { hint: 'see `ledge build list`' });
  }
  const distinct = new Set(builds.map((build) => build.digest));
  if (!exact && distinct.size > 1) {
    throw new LedgeError('usage', `'${text}' matches ${distinct.size} different images`, {
      hint: 'give more digits of the digest',
    });
  }
  return builds[0]!;
}
