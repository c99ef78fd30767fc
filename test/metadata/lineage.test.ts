/** Lineage queries, on SQLite and on a real PostgreSQL server started for the test. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { sha256 } from '../../src/core/digest.js';
import { type DownstreamNode, lineageOf, type UpstreamNode } from '../../src/metadata/lineage.js';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { startPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp-dir.js';

const backends: { name: string; target: (t: TestContext) => Promise<string> }[] = [
  { name: 'SQLite', target: async (t) => path.join(tempDir(t), 'metadata.db') },
  { name: 'PostgreSQL', target: async (t) => (await startPostgres(t)).url },
];

const D = {
  data: sha256('raw data'),
  prepareCode: sha256('prepare.py'),
  prepared: sha256('prepared'),
  trainCode: sha256('train.js'),
  model: sha256('model'),
  metrics: sha256('{"accuracy":0.9}'),
  x: sha256('x'),
  y: sha256('y'),
};

type Edge = [digest: string, path: string, type?: string];

/** Records a stage execution of `run` with its inputs and outputs (and a log). */
async function stage(
  store: MetadataStore,
  run: number,
  name: string,
  inputs: Edge[],
  outputs: Edge[],
  params: Record<string, unknown> = {},
): Promise<number> {
  const id = await store.startExecution({
    type: 'stage',
    name,
    parentId: run,
    cause: 'pipeline',
    gitCommit: 'c0ffee1234567890',
    gitDirty: false,
    ledgeVersion: '0.1.0',
    params,
  });
  const log: Edge = [sha256(`log of ${id}`), `${name}.log`, 'log'];
  for (const [kind, edges] of [
    ['input', inputs],
    ['output', [...outputs, log]],
  ] as const) {
    for (const [digest, uri, type = 'file'] of edges) {
      const artifact = await store.putArtifact({ digest, type, uri, size: 1 });
      await store.addEvent(id, artifact, kind, uri);
    }
  }
  await store.finishExecution(id, { status: 'succeeded', exitCode: 0, logDigest: log[0] });
  return id;
}

async function seed(store: MetadataStore) {
  const start = (name: string) =>
    store.startExecution({ type: 'run', name, cause: 'manual', ledgeVersion: '0.1.0' });
  // An older run whose train wrote the same model.
  const oldRun = await start('ledge.yaml');
  const oldTrain = await stage(
    store,
    oldRun,
    'train',
    [[D.prepared, 'data/prepared', 'dir']],
    [[D.model, 'model']],
  );
  const run = await start('ledge.yaml');
  const prepare = await stage(
    store,
    run,
    'prepare',
    [
      [D.data, 'data', 'dir'],
      [D.prepareCode, 'prepare.py'],
    ],
    [[D.prepared, 'data/prepared', 'dir']],
  );
  const train = await stage(
    store,
    run,
    'train',
    [
      [D.prepared, 'data/prepared', 'dir'],
      [D.trainCode, 'train.js'],
    ],
    [[D.model, 'model', 'dir']],
    { train: { epochs: 5 } },
  );
  const evaluate = await stage(
    store,
    run,
    'evaluate',
    [
      [D.model, 'model', 'dir'],
      [D.prepared, 'data/prepared', 'dir'],
    ],
    [[D.metrics, 'metrics/eval.json', 'metrics']],
  );
  // A cycle: a writes y from x, b writes x from y.
  const cycleRun = await start('ledge.yaml');
  const a = await stage(store, cycleRun, 'a', [[D.x, 'x']], [[D.y, 'y']]);
  const b = await stage(store, cycleRun, 'b', [[D.y, 'y']], [[D.x, 'x']]);
  return { oldTrain, run, prepare, train, evaluate, a, b };
}

/** The tree as `path <- stage#id [inputs]`, compact enough to compare whole. */
function upShape(node: UpstreamNode): unknown {
  const mark = node.repeated ? ' (repeated)' : node.truncated ? ' (truncated)' : '';
  if (!node.producedBy) return node.path + mark;
  const { execution, others, inputs } = node.producedBy;
  return {
    [`${node.path} <- ${execution.stage}#${execution.id}${others ? ` +${others}` : ''}`]: inputs.map(upShape),
  };
}

function downShape(node: DownstreamNode): unknown {
  const mark = node.repeated ? ' (repeated)' : node.truncated ? ' (truncated)' : '';
  if (node.consumers.length === 0) return node.path + mark;
  return {
    [node.path]: node.consumers.map((c) =>
      c.repeated
        ? `${c.execution.stage}#${c.execution.id} (repeated)`
        : { [`${c.execution.stage}#${c.execution.id}`]: c.outputs.map(downShape) },
    ),
  };
}

for (const backend of backends) {
  describe(`lineage on ${backend.name}`, () => {
    it('follows a pipeline upstream and downstream, with a depth limit and cycles', async (t) => {
      const store = await MetadataStore.open(await backend.target(t));
      t.after(() => store.close());
      const ids = await seed(store);

      await t.test('upstream of the metrics: every stage, newest producer, shared inputs once', async () => {
        const lineage = await lineageOf(store.db, D.metrics, { downstream: false });
        assert.ok(lineage?.upstream);
        assert.equal(lineage.downstream, undefined);
        assert.equal(lineage.path, 'metrics/eval.json');
        assert.deepEqual(upShape(lineage.upstream), {
          [`metrics/eval.json <- evaluate#${ids.evaluate}`]: [
            { [`data/prepared <- prepare#${ids.prepare}`]: ['data', 'prepare.py'] },
            { [`model <- train#${ids.train} +1`]: ['data/prepared (repeated)', 'train.js'] },
          ],
        });
        const train = lineage.upstream.producedBy!.inputs[1]!.producedBy!.execution;
        assert.deepEqual(
          { ...train, startedAt: typeof train.startedAt, endedAt: typeof train.endedAt },
          {
            id: ids.train,
            stage: 'train',
            runId: ids.run,
            status: 'succeeded',
            startedAt: 'string',
            endedAt: 'string',
            gitCommit: 'c0ffee1234567890',
            gitDirty: false,
            params: { train: { epochs: 5 } },
          },
        );
      });

      await t.test('downstream of the raw data: consumers newest first, logs left out', async () => {
        const lineage = await lineageOf(store.db, D.data, { upstream: false, path: 'data' });
        assert.ok(lineage?.downstream);
        assert.deepEqual(downShape(lineage.downstream), {
          data: [
            {
              [`prepare#${ids.prepare}`]: [
                {
                  'data/prepared': [
                    { [`evaluate#${ids.evaluate}`]: ['metrics/eval.json'] },
                    {
                      [`train#${ids.train}`]: [{ model: [`evaluate#${ids.evaluate} (repeated)`] }],
                    },
                    { [`train#${ids.oldTrain}`]: ['model (repeated)'] },
                  ],
                },
              ],
            },
          ],
        });
        // Nothing wrote the raw data.
        const up = await lineageOf(store.db, D.data, { downstream: false });
        assert.deepEqual(upShape(up!.upstream!), 'data');
      });

      await t.test('the depth limit stops the walk and says so', async () => {
        const one = await lineageOf(store.db, D.metrics, { depth: 1 });
        assert.deepEqual(upShape(one!.upstream!), {
          [`metrics/eval.json <- evaluate#${ids.evaluate}`]: [
            'data/prepared (truncated)',
            'model (truncated)',
          ],
        });
        const none = await lineageOf(store.db, D.data, { depth: 0 });
        assert.deepEqual(downShape(none!.downstream!), 'data (truncated)');
        assert.deepEqual(upShape(none!.upstream!), 'data');
      });

      await t.test('cycles end where an artifact repeats', async () => {
        const lineage = await lineageOf(store.db, D.x);
        assert.deepEqual(upShape(lineage!.upstream!), {
          [`x <- b#${ids.b}`]: [{ [`y <- a#${ids.a}`]: ['x (repeated)'] }],
        });
        assert.deepEqual(downShape(lineage!.downstream!), {
          x: [{ [`a#${ids.a}`]: [{ y: [{ [`b#${ids.b}`]: ['x (repeated)'] }] }] }],
        });
      });

      await t.test('a digest nothing recorded has no lineage', async () => {
        assert.equal(await lineageOf(store.db, sha256('never seen')), undefined);
      });
    });
  });
}
