/**
 * Deployments in the metadata store (migration 0005), one suite on SQLite and on a real
 * PostgreSQL server: the life of a deployment from `deploying` to how it ended, one active
 * deployment per target (also enforced by the database), what served before what, and the
 * links to the registry version and the execution that produced the model.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { sha256 } from '../../src/core/digest.js';
import {
  activateDeployment,
  activeDeployment,
  endDeployment,
  failAbandonedDeployments,
  failDeployment,
  getDeployment,
  lastServedBefore,
  listDeployments,
  startDeployment,
} from '../../src/metadata/deployments.js';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { registerModelVersion } from '../../src/metadata/model-registry.js';
import { startPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp-dir.js';

const backends: { name: string; target: (t: TestContext) => Promise<string> }[] = [
  { name: 'SQLite', target: async (t) => path.join(tempDir(t), 'state', 'metadata.db') },
  { name: 'PostgreSQL', target: async (t) => (await startPostgres(t)).url },
];

async function open(t: TestContext, target: string): Promise<MetadataStore> {
  const store = await MetadataStore.open(target);
  t.after(() => store.close());
  return store;
}

for (const backend of backends) {
  describe(`deployments on ${backend.name}`, () => {
    it('records deployments from deploying to how they ended, and what served before', async (t) => {
      const store = await open(t, await backend.target(t));
      const db = store.db;
      const run = await store.startExecution({
        type: 'stage',
        name: 'train',
        cause: 'manual',
        ledgeVersion: '0',
      });
      const versions = [];
      for (const content of ['model one', 'model two']) {
        const { model } = await registerModelVersion(db, {
          name: 'imdb-sentiment',
          digest: sha256(content),
          kind: 'bundle',
          size: 100,
          metrics: { validation: { accuracy: content === 'model one' ? 0.88 : 0.9 } },
          executionId: run,
        });
        versions.push(model);
      }
      const [v1, v2] = versions as [(typeof versions)[0], (typeof versions)[0]];
      const start = (model: typeof v1, previousId: number | null, cause = 'manual') =>
        startDeployment(db, {
          target: 'local',
          modelName: model.name,
          modelVersion: model.version,
          modelVersionId: model.id,
          modelDigest: model.digest,
          location: `/ws/.ledge/models/${model.version}`,
          cause,
          previousId,
          runExecutionId: model.executionId,
          properties: { metrics: model.metrics },
        });

      const d1 = await start(v1, null);
      assert.equal(d1.status, 'deploying');
      assert.equal(d1.endedAt, null);
      assert.equal(d1.runExecutionId, run);
      assert.equal(d1.modelVersionId, v1.id);
      assert.deepEqual(d1.properties.metrics, { validation: { accuracy: 0.88 } });
      assert.equal(
        await activateDeployment(db, d1.id, { properties: { url: 'http://127.0.0.1:8080' } }),
        undefined,
      );
      assert.equal((await activeDeployment(db, 'local'))?.id, d1.id);
      assert.equal((await getDeployment(db, d1.id)).properties.url, 'http://127.0.0.1:8080');
      assert.deepEqual((await getDeployment(db, d1.id)).properties.metrics, {
        validation: { accuracy: 0.88 },
      });

      // v2 replaces it: d1 superseded, with when and by what.
      const d2 = await start(v2, d1.id);
      const replaced = await activateDeployment(db, d2.id);
      assert.equal(replaced?.id, d1.id);
      const ended = await getDeployment(db, d1.id);
      assert.equal(ended.status, 'superseded');
      assert.ok(ended.endedAt);
      assert.equal(ended.message, `replaced by deployment ${d2.id}`);

      // A failed one changes nothing else.
      const d3 = await start(v1, d2.id);
      await failDeployment(db, d3.id, 'smoke: score is not a number', {
        steps: [{ step: 'start', ok: true }],
      });
      const failed = await getDeployment(db, d3.id);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.message, 'smoke: score is not a number');
      assert.deepEqual(failed.properties.steps, [{ step: 'start', ok: true }]);
      assert.ok(failed.properties.metrics, 'properties merged, not replaced');
      assert.equal((await activeDeployment(db, 'local'))?.id, d2.id);

      // What served before d3 (the failed one does not count).
      assert.equal((await lastServedBefore(db, 'local', d3.id + 1))?.id, d2.id);
      assert.equal((await lastServedBefore(db, 'local', d2.id))?.id, d1.id);
      assert.equal(await lastServedBefore(db, 'local', d1.id), undefined);
      const d4 = await start(v1, d2.id, 'rollback');
      await activateDeployment(db, d4.id, { replaced: 'rolled-back' });
      assert.equal((await getDeployment(db, d2.id)).status, 'rolled-back');
      assert.equal((await getDeployment(db, d2.id)).message, `rolled back by deployment ${d4.id}`);

      // Another target is separate.
      const other = await startDeployment(db, {
        target: 'edge',
        modelName: 'imdb-sentiment',
        modelDigest: v2.digest,
        location: '/x',
        cause: 'manual',
      });
      await activateDeployment(db, other.id);
      assert.equal((await activeDeployment(db, 'local'))?.id, d4.id);
      assert.equal((await activeDeployment(db, 'edge'))?.id, other.id);

      await endDeployment(db, d4.id, 'stopped', 'stopped by `ledge deploy stop`');
      assert.equal(await activeDeployment(db, 'local'), undefined);
      assert.equal((await getDeployment(db, d4.id)).status, 'stopped');

      const history = await listDeployments(db, { target: 'local' });
      assert.deepEqual(
        history.map((d) => [d.id, d.status]),
        [
          [d4.id, 'stopped'],
          [d3.id, 'failed'],
          [d2.id, 'rolled-back'],
          [d1.id, 'superseded'],
        ],
      );
      assert.deepEqual(
        (await listDeployments(db, { target: 'local', limit: 2, status: ['failed', 'stopped'] })).map(
          (d) => d.id,
        ),
        [d4.id, d3.id],
      );
      assert.equal((await listDeployments(db)).length, 5);
    });

    it('keeps one active deployment per target, also against a writer that skips the rules', async (t) => {
      const store = await open(t, await backend.target(t));
      const db = store.db;
      const start = () =>
        startDeployment(db, {
          target: 'local',
          modelName: 'm',
          modelDigest: sha256('m'),
          location: '/m',
          cause: 'manual',
        });
      const a = await start();
      const b = await start();
      await activateDeployment(db, a.id);
      await assert.rejects(
        db.updateTable('deployments').set({ status: 'active' }).where('id', '=', b.id).execute(),
        'the partial unique index refuses a second active deployment',
      );
      // A deployment left `deploying` by a process that died is marked failed.
      assert.equal(await failAbandonedDeployments(db, 'local', 'interrupted'), 1);
      assert.equal((await getDeployment(db, b.id)).status, 'failed');
      assert.equal((await getDeployment(db, a.id)).status, 'active');
      await assert.rejects(getDeployment(db, 999), /no deployment 999/);
      // A deployment must reference a registered version that exists.
      await assert.rejects(
        startDeployment(db, {
          target: 'local',
          modelName: 'm',
          modelVersion: 1,
          modelVersionId: 4242,
          modelDigest: sha256('m'),
          location: '/m',
          cause: 'manual',
        }),
      );
    });
  });
}
