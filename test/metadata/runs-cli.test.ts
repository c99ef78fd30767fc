/** `ledge runs list|show` through the real CLI, on the embedded SQLite and on PostgreSQL. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { sha256 } from '../../src/core/digest.js';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { Workspace } from '../../src/store/workspace.js';
import { runLedge } from '../helpers/cli.js';
import { startPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp-dir.js';

async function seed(target: string): Promise<number> {
  const store = await MetadataStore.open(target);
  try {
    const ids: number[] = [];
    for (const [epochs, accuracy] of [
      [5, 0.92],
      [10, 0.88],
    ] as const) {
      const id = await store.startExecution({
        type: 'stage',
        name: 'train',
        cause: 'manual',
        ledgeVersion: '0.1.0',
        params: { train: { epochs } },
      });
      const model = await store.putArtifact({
        digest: sha256(`model ${epochs}`),
        type: 'model',
        uri: 'model.onnx',
        size: 9,
      });
      await store.addEvent(id, model, 'output', 'model.onnx');
      await store.finishExecution(id, { status: 'succeeded', exitCode: 0, metrics: { accuracy } });
      ids.push(id);
    }
    return ids[0]!;
  } finally {
    await store.close();
  }
}

const backends = [
  {
    name: 'SQLite (default)',
    setup: async (_t: TestContext, root: string) => ({
      target: path.join(root, '.ledge', 'state', 'metadata.db'),
      env: {},
    }),
  },
  {
    name: 'PostgreSQL (LEDGE_DB_URL)',
    setup: async (t: TestContext) => {
      const { url } = await startPostgres(t);
      return { target: url, env: { LEDGE_DB_URL: url } };
    },
  },
];

for (const backend of backends) {
  describe(`ledge runs on ${backend.name}`, () => {
    it('lists with --where and shows a run with its artifacts', async (t) => {
      const root = tempDir(t);
      Workspace.init(root);
      const { target, env } = await backend.setup(t, root);
      const first = await seed(target);

      const all = await runLedge(['runs', 'list', '--json'], { cwd: root, env });
      assert.equal(all.code, 0, all.stderr);
      assert.equal(JSON.parse(all.stdout).length, 2);

      const good = await runLedge(['runs', 'list', '--where', 'metrics.accuracy > 0.9', '--json'], {
        cwd: root,
        env,
      });
      assert.equal(good.code, 0, good.stderr);
      assert.deepEqual(
        JSON.parse(good.stdout).map((r: { params: { train: { epochs: number } } }) => r.params.train.epochs),
        [5],
      );

      const shown = await runLedge(['runs', 'show', String(first), '--json'], { cwd: root, env });
      assert.equal(shown.code, 0, shown.stderr);
      const run = JSON.parse(shown.stdout);
      assert.equal(run.status, 'succeeded');
      assert.deepEqual(
        run.events.map((e: { kind: string; path: string; digest: string }) => [e.kind, e.path, e.digest]),
        [['output', 'model.onnx', sha256('model 5')]],
      );

      const bad = await runLedge(['runs', 'list', '--where', 'metrics.accuracy >'], { cwd: root, env });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^ledge: error: --where: expected a value after '>' at column 19/);
    });
  });
}
