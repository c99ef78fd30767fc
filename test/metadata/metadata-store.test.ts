/** One suite, run on SQLite and on a real PostgreSQL server started for the test. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { sha256 } from '../../src/core/digest.js';
import { isLedgeError } from '../../src/core/errors.js';
import { sqliteCapabilities } from '../../src/metadata/dialect/sqlite-dialect.js';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { migrationProvider } from '../../src/metadata/migrations.js';
import { parseWhere } from '../../src/metadata/where-expression.js';
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
  describe(`metadata store on ${backend.name}`, () => {
    it('migrates once, also when many processes open it at the same time', async (t) => {
      const target = await backend.target(t);
      const stores = await Promise.all(Array.from({ length: 5 }, () => open(t, target)));
      const applied = await stores[0]!.db
        .selectFrom('kysely_migration' as never)
        .selectAll()
        .execute();
      const all = Object.keys(await migrationProvider(sqliteCapabilities).getMigrations());
      assert.equal(applied.length, all.length);
    });

    it('records a run, its stage and their artifacts, and answers lineage questions', async (t) => {
      const store = await open(t, await backend.target(t));
      const run = await store.startExecution({
        type: 'run',
        name: 'imdb',
        cause: 'manual',
        ledgeVersion: '0.1.0',
      });
      const stage = await store.startExecution({
        type: 'stage',
        name: 'train',
        parentId: run,
        cause: 'manual',
        gitCommit: 'abc123',
        gitDirty: true,
        ledgeVersion: '0.1.0',
        params: { train: { epochs: 5 } },
      });
      const data = await store.putArtifact({
        digest: sha256('data'),
        type: 'directory',
        uri: 'data/aclImdb',
        size: 4,
      });
      const model = await store.putArtifact({
        digest: sha256('model'),
        type: 'model',
        uri: 'model.onnx',
        size: 5,
      });
      assert.equal(
        await store.putArtifact({ digest: sha256('data'), type: 'directory', uri: 'data/aclImdb', size: 4 }),
        data,
      );
      await store.addEvent(stage, data, 'input', 'data/aclImdb');
      await store.addEvent(stage, model, 'output', 'model.onnx');
      await store.addEvent(stage, model, 'output', 'model.onnx'); // idempotent
      await store.finishExecution(stage, { status: 'succeeded', exitCode: 0, metrics: { accuracy: 0.915 } });

      assert.deepEqual(await store.executionsTouching(sha256('model'), 'output'), [
        { id: stage, name: 'train' },
      ]);
      assert.deepEqual(await store.executionsTouching(sha256('data'), 'input'), [
        { id: stage, name: 'train' },
      ]);
      const row = await store.db
        .selectFrom('executions')
        .selectAll()
        .where('id', '=', stage)
        .executeTakeFirstOrThrow();
      assert.equal(row.status, 'succeeded');
      assert.equal(row.parent_id, run);
      assert.equal(row.git_dirty, 1);
      assert.deepEqual(JSON.parse(row.params), { train: { epochs: 5 } });
      assert.deepEqual(JSON.parse(row.metrics), { accuracy: 0.915 });
    });

    it('filters runs with and/or/not, comparisons and parentheses over params, metrics and fields', async (t) => {
      const store = await open(t, await backend.target(t));
      const record = async (
        name: string,
        status: 'succeeded' | 'failed',
        params: object,
        metrics: object,
      ) => {
        const id = await store.startExecution({
          type: 'stage',
          name,
          cause: 'manual',
          ledgeVersion: '0',
          params: params as never,
        });
        await store.finishExecution(id, { status, metrics: metrics as never });
      };
      await record('train', 'succeeded', { train: { epochs: 5, lr: 0.1 } }, { accuracy: 0.92 });
      await record('train', 'succeeded', { train: { epochs: 10, lr: 0.05 } }, { accuracy: 0.88 });
      await record('train', 'failed', { train: { epochs: 3, opt: 'sgd' } }, {});
      await record('evaluate', 'succeeded', {}, { accuracy: 0.95, note: 'ok' });
      const names = async (where: string) =>
        (await store.listExecutions({ where: parseWhere(where) })).map(
          (r) => `${r.name}:${JSON.parse(r.params).train?.epochs ?? '-'}`,
        );
      assert.deepEqual(await names('metrics.accuracy > 0.9'), ['evaluate:-', 'train:5']);
      assert.deepEqual(await names('metrics.accuracy > 0.9 or params.train.epochs = 10'), [
        'evaluate:-',
        'train:10',
        'train:5',
      ]);
      assert.deepEqual(await names('stage = train and (status = failed or params.train.lr < 0.07)'), [
        'train:3',
        'train:10',
      ]);
      assert.deepEqual(await names('not status = succeeded'), ['train:3']);
      assert.deepEqual(await names("params.train.opt = 'sgd'"), ['train:3']);
      assert.deepEqual(await names('metrics.note ~ o%'), ['evaluate:-']);
      assert.deepEqual(await names('started >= 2000-01-01 and metrics.accuracy >= 0.95'), ['evaluate:-']);
      assert.equal((await store.listExecutions({ limit: 2 })).length, 2);
    });

    it('loses nothing when two writers record concurrently', async (t) => {
      const target = await backend.target(t);
      const [a, b] = await Promise.all([open(t, target), open(t, target)]);
      const write = async (store: MetadataStore, who: string) => {
        for (let i = 0; i < 25; i++) {
          const id = await store.startExecution({
            type: 'stage',
            name: `${who}-${i}`,
            cause: 'test',
            ledgeVersion: '0',
          });
          const artifact = await store.putArtifact({
            digest: sha256(`shared ${i}`),
            type: 'file',
            uri: 'x',
            size: 1,
          });
          await store.addEvent(id, artifact, 'output', 'x');
        }
      };
      await Promise.all([write(a, 'a'), write(b, 'b')]);
      const executions = await a.db.selectFrom('executions').select('name').execute();
      assert.equal(executions.length, 50);
      const artifacts = await a.db.selectFrom('artifacts').select('id').execute();
      assert.equal(artifacts.length, 25);
      const events = await a.db.selectFrom('events').select('kind').execute();
      assert.equal(events.length, 50);
    });
  });
}

describe('metadata store errors', () => {
  it('names an unreachable PostgreSQL server without its password', async () => {
    await assert.rejects(MetadataStore.open('postgres://ledge:s3cret@127.0.0.1:1/ledge'), (error) => {
      assert.ok(isLedgeError(error, 'config'));
      assert.match(error.message, /postgres:\/\/ledge:\*\*\*@127\.0\.0\.1:1\/ledge/);
      assert.doesNotMatch(error.line, /s3cret/);
      return true;
    });
  });
});

describe('--where parsing', () => {
  it('parses precedence: not > and > or', () => {
    assert.deepEqual(parseWhere('a.x = 1'.replace('a.x', 'params.x')), {
      kind: 'compare',
      field: { kind: 'json', column: 'params', path: ['x'] },
      op: '=',
      value: 1,
    });
    const tree = parseWhere('status = a or status = b and not stage = c');
    assert.equal(tree.kind, 'or');
    assert.equal(tree.kind === 'or' && tree.right.kind, 'and');
  });

  it('explains mistakes with the column', () => {
    for (const [source, message] of [
      ['metrics.accuracy >', /expected a value after '>' at column 19/],
      ['bogus = 1', /unknown field 'bogus'/],
      ['(status = a', /expected '\)'/],
      ["status = 'open", /unterminated string/],
      ['status = a b', /unexpected 'b'/],
      ['', /expected a comparison/],
    ] as const) {
      assert.throws(
        () => parseWhere(source),
        (error) => isLedgeError(error, 'usage') && message.test(error.message),
      );
    }
  });
});
