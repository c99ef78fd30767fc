/**
 * Image builds in the metadata store (migration 0006), one suite on SQLite and on a real
 * PostgreSQL server: recorded with their platforms, layers and outputs, linked to the model
 * version, listed newest first, found by id, by digest (the index's or a platform image's)
 * and by a digest prefix.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { sha256 } from '../../src/core/digest.js';
import {
  getImageBuild,
  type ImageBuildInput,
  listImageBuilds,
  recordImageBuild,
} from '../../src/metadata/image-builds.js';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { registerModelVersion } from '../../src/metadata/model-registry.js';
import { startPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp-dir.js';

const backends: { name: string; target: (t: TestContext) => Promise<string> }[] = [
  { name: 'SQLite', target: async (t) => path.join(tempDir(t), 'state', 'metadata.db') },
  { name: 'PostgreSQL', target: async (t) => (await startPostgres(t)).url },
];

function input(modelVersionId: number | null, seed: string, platforms: string[]): ImageBuildInput {
  return {
    digest: sha256(`top ${seed}`),
    mediaType:
      platforms.length > 1
        ? 'application/vnd.oci.image.index.v1+json'
        : 'application/vnd.oci.image.manifest.v1+json',
    modelName: 'imdb-sentiment',
    modelVersion: modelVersionId === null ? null : 1,
    modelVersionId,
    modelDigest: sha256('model one'),
    baseRef: 'docker.io/library/node:20-slim',
    baseDigest: sha256('base index'),
    platforms: platforms.map((platform) => ({
      platform,
      digest: sha256(`${seed} ${platform}`),
      base: { name: 'docker.io/library/node:20-slim', digest: sha256(`base ${platform}`) },
      layers: [
        {
          role: 'base',
          mediaType: 'm',
          digest: sha256('b'),
          diffId: sha256('bd'),
          size: 30_000_000,
          uncompressedSize: 80_000_000,
        },
        {
          role: 'model',
          mediaType: 'm',
          digest: sha256('m'),
          diffId: sha256('m'),
          size: 5_000_000_000,
          uncompressedSize: 5_000_000_000,
        },
      ],
      size: 5_030_000_000,
      uncompressedSize: 5_080_000_000,
    })),
    // Above 2^31: PostgreSQL's bigint comes back as a string; the API gives numbers.
    size: 5_030_000_000 * platforms.length,
    tag: 'ledge/imdb-sentiment:1',
    outputs: [
      { kind: 'push', location: '127.0.0.1:5000/ledge/imdb:1', digest: sha256(`top ${seed}`), bytes: 12 },
    ],
    gitCommit: 'c'.repeat(40),
    gitDirty: false,
    imageCreated: '2024-01-01T00:00:00Z',
    properties: { pruned: true },
  };
}

for (const backend of backends) {
  describe(`image builds on ${backend.name}`, () => {
    it('records builds linked to the model version, lists them, finds them by id or digest', async (t) => {
      const store = await MetadataStore.open(await backend.target(t));
      t.after(() => store.close());
      const { model } = await registerModelVersion(store.db, {
        name: 'imdb-sentiment',
        digest: sha256('model one'),
        kind: 'bundle',
        size: 100,
      });
      const first = await recordImageBuild(store.db, input(model.id, 'one', ['linux/amd64']));
      const second = await recordImageBuild(store.db, input(model.id, 'two', ['linux/amd64', 'linux/arm64']));
      const other = await recordImageBuild(store.db, {
        ...input(null, 'three', ['linux/arm64']),
        modelName: 'other',
      });

      assert.equal(first.modelVersionId, model.id);
      assert.equal(first.modelVersion, 1);
      assert.equal(first.size, 5_030_000_000);
      assert.equal(second.platforms[1]!.platform, 'linux/arm64');
      assert.equal(second.platforms[1]!.layers[1]!.uncompressedSize, 5_000_000_000);
      assert.deepEqual(first.outputs[0], input(model.id, 'one', ['linux/amd64']).outputs[0]);
      assert.equal(first.gitDirty, false);
      assert.deepEqual(first.properties, { pruned: true });

      assert.deepEqual(
        (await listImageBuilds(store.db)).map((b) => b.id),
        [other.id, second.id, first.id],
      );
      assert.deepEqual(
        (await listImageBuilds(store.db, { modelName: 'imdb-sentiment', limit: 1 })).map((b) => b.id),
        [second.id],
      );
      assert.equal((await getImageBuild(store.db, String(first.id))).digest, first.digest);
      assert.equal((await getImageBuild(store.db, second.digest)).id, second.id);
      // A platform image's digest, and a prefix of one, find the build that made it.
      assert.equal((await getImageBuild(store.db, second.platforms[1]!.digest)).id, second.id);
      assert.equal((await getImageBuild(store.db, second.platforms[0]!.digest.slice(0, 20))).id, second.id);
      await assert.rejects(
        getImageBuild(store.db, '999'),
        (error: { line: string }) => error.line === 'no image build 999; see `ledge build list`',
      );
      await assert.rejects(
        getImageBuild(store.db, sha256('nothing')),
        /no recorded image build made sha256:/,
      );
      await assert.rejects(getImageBuild(store.db, 'latest'), /neither a build id nor an image digest/);
    });
  });
}
