/**
 * The control plane's records (migration 0007) on SQLite and on a real PostgreSQL: the queue's
 * transitions, tokens, webhook deliveries claimed once under concurrency, trigger state, and a
 * pipeline run marked gated.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { hashToken, newToken, tokenPrefix } from '../../src/control/auth/api-token.js';
import { ApiTokenRecords } from '../../src/metadata/api-tokens.js';
import { ControlRunRecords } from '../../src/metadata/control-runs.js';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { TriggerRecords } from '../../src/metadata/trigger-records.js';
import { startPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp-dir.js';

const backends: { name: string; target: (t: TestContext) => Promise<string> }[] = [
  { name: 'SQLite', target: async (t) => path.join(tempDir(t), 'state', 'metadata.db') },
  { name: 'PostgreSQL', target: async (t) => (await startPostgres(t)).url },
];

const at = '2026-11-27T00:00:00.000Z';

for (const backend of backends) {
  describe(`control records on ${backend.name}`, () => {
    it('keeps the queue, tokens, deliveries and trigger state', async (t) => {
      const store = await MetadataStore.open(await backend.target(t));
      t.after(() => store.close());
      const runs = new ControlRunRecords(store, 'host:/ws');
      const other = new ControlRunRecords(store, 'host:/elsewhere');

      const queued = await runs.enqueue([{ kind: 'manual', at }], ['train']);
      assert.equal(queued.status, 'queued');
      const merged = await runs.updateQueued(
        queued.id,
        [
          { kind: 'manual', at },
          { kind: 'schedule', at },
        ],
        [],
      );
      assert.deepEqual(merged?.stages, []);
      assert.equal(merged?.causes.length, 2);
      await other.enqueue([{ kind: 'manual', at }], []);
      assert.deepEqual(
        (await runs.queued()).map((r) => r.id),
        [queued.id],
      );
      const running = await runs.markRunning(queued.id, 4242);
      assert.equal(running?.status, 'running');
      assert.equal(await runs.markRunning(queued.id, 4243), undefined, 'taken once');
      assert.equal(await runs.updateQueued(queued.id, [], []), undefined, 'no merging into a running run');
      const execution = await store.startExecution({
        type: 'run',
        name: 'ledge.yaml',
        cause: `control run ${queued.id}: manual`,
        ledgeVersion: '0',
      });
      assert.equal(await runs.findPipelineRun(`control run ${queued.id}:`), execution);
      const ended = await runs.finish(queued.id, {
        status: 'gated',
        reason: 'quality gate: refusing m',
        exitCode: 1,
        pipelineRunId: execution,
      });
      assert.equal(ended?.status, 'gated');
      assert.equal(await runs.finish(queued.id, { status: 'failed' }), undefined, 'ends once');
      await runs.markPipelineRunGated(execution, 'quality gate: refusing m');
      const [row] = await store.listExecutions({ type: 'run' });
      assert.equal(row?.status, 'gated');
      assert.equal(JSON.parse(row!.properties).gate, 'quality gate: refusing m');

      const tokens = new ApiTokenRecords(store);
      const value = newToken();
      await tokens.add({ name: 'ci', hash: hashToken(value), prefix: tokenPrefix(value), readOnly: false });
      await assert.rejects(
        tokens.add({ name: 'ci', hash: hashToken(newToken()), prefix: 'x', readOnly: true }),
        /a token named 'ci' exists already/,
      );
      assert.equal((await tokens.authenticate(hashToken(value)))?.name, 'ci');
      assert.equal(await tokens.authenticate(hashToken(newToken())), undefined);
      await tokens.revoke('ci');
      assert.equal(await tokens.authenticate(hashToken(value)), undefined);
      assert.ok((await tokens.list())[0]?.revokedAt);

      const triggers = new TriggerRecords(store);
      const claims = await Promise.all(
        Array.from({ length: 20 }, () => triggers.claimDelivery('github', 'd-1')),
      );
      assert.equal(claims.filter(Boolean).length, 1);
      await triggers.releaseDelivery('github', 'd-1');
      assert.equal(await triggers.claimDelivery('github', 'd-1'), true);
      assert.equal(await triggers.getState('git:main'), undefined);
      await triggers.setState('git:main', 'abc');
      await triggers.setState('git:main', 'def');
      assert.equal(await triggers.getState('git:main'), 'def');
    });
  });
}
