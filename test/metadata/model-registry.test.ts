/** The model registry's queries: one suite on SQLite and on a real PostgreSQL server. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sha256 } from '../../src/core/digest.js';
import { isLedgeError, type LedgeError } from '../../src/core/errors.js';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import {
  deleteAlias,
  getModelVersion,
  listModels,
  modelAliases,
  modelVersions,
  parseModelRef,
  registeredModelDigests,
  registerModelVersion,
  resolveModelRef,
  setAlias,
} from '../../src/metadata/model-registry.js';
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

/** Asserts a one-line LedgeError whose message matches `pattern` and that carries a hint. */
async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isLedgeError(error), `expected a LedgeError, got ${String(error)}`);
    const { line, hint } = error as LedgeError;
    assert.match(line, pattern);
    assert.ok(hint, `no hint on: ${line}`);
    assert.ok(!line.includes('\n'), `not one line: ${line}`);
    return true;
  });
}

const onnx = (n: number | string) => ({ digest: sha256(`model ${n}`), kind: 'onnx' as const, size: 100 });

/**
 * Registers `count` versions of `name` from a separate Node process (its own connection), all
 * at once; resolves with the versions it got.
 */
const runFile = promisify(execFile);
async function registerFromProcess(
  script: string,
  target: string,
  name: string,
  tag: string,
  count: number,
): Promise<number[]> {
  const { stdout } = await runFile(process.execPath, [script, target, name, tag, String(count)]);
  return JSON.parse(stdout) as number[];
}

const CHILD_SCRIPT = (srcDir: string) => `
import { sha256 } from ${JSON.stringify(`${srcDir}/core/digest.js`)};
import { MetadataStore } from ${JSON.stringify(`${srcDir}/metadata/metadata-store.js`)};
import { registerModelVersion } from ${JSON.stringify(`${srcDir}/metadata/model-registry.js`)};
const [target, name, tag, count] = process.argv.slice(2);
const store = await MetadataStore.open(target);
try {
  const versions = await Promise.all(
    Array.from({ length: Number(count) }, async (_, i) =>
      (await registerModelVersion(store.db, { name, digest: sha256(tag + ' ' + i), kind: 'onnx', size: i })).model.version,
    ),
  );
  process.stdout.write(JSON.stringify(versions));
} finally {
  await store.close();
}
`;

describe('model references', () => {
  it('parses names, versions, aliases, latest and digests', () => {
    const digest = sha256('x');
    assert.deepEqual(parseModelRef('imdb-sentiment'), { kind: 'latest', name: 'imdb-sentiment' });
    assert.deepEqual(parseModelRef('imdb-sentiment@latest'), { kind: 'latest', name: 'imdb-sentiment' });
    assert.deepEqual(parseModelRef('imdb@3'), { kind: 'version', name: 'imdb', version: 3 });
    assert.deepEqual(parseModelRef('imdb@production'), { kind: 'alias', name: 'imdb', alias: 'production' });
    assert.deepEqual(parseModelRef(digest), { kind: 'digest', digest });
    for (const bad of [
      '',
      '@3',
      'imdb@',
      'Imdb',
      'imdb@0',
      'imdb@Prod',
      'imdb@pro!d',
      'sha256:abc',
      'a.onnx',
    ]) {
      assert.throws(
        () => parseModelRef(bad),
        (error: unknown) => isLedgeError(error, 'usage') && !error.line.includes('\n'),
        bad,
      );
    }
  });
});

for (const backend of backends) {
  describe(`model registry on ${backend.name}`, () => {
    it('versions, aliases, references and errors', async (t) => {
      const target = await backend.target(t);
      const store = await open(t, target);
      const db = store.db;

      await t.test('numbers versions per name and returns an already registered digest', async () => {
        const first = await registerModelVersion(db, {
          name: 'imdb',
          ...onnx(1),
          metrics: { accuracy: 0.91, per_class: { pos: 0.9 } },
          properties: { opset: 17, inputs: [{ name: 'input_ids' }] },
        });
        assert.equal(first.created, true);
        assert.equal(first.model.version, 1);
        assert.deepEqual(first.model.metrics, { accuracy: 0.91, per_class: { pos: 0.9 } });
        assert.deepEqual(first.model.properties, { opset: 17, inputs: [{ name: 'input_ids' }] });
        assert.equal(first.model.size, 100);
        assert.equal(first.model.executionId, null);
        assert.equal((await registerModelVersion(db, { name: 'imdb', ...onnx(2) })).model.version, 2);
        const again = await registerModelVersion(db, { name: 'imdb', ...onnx(1) });
        assert.equal(again.created, false);
        assert.equal(again.model.version, 1);
        const forced = await registerModelVersion(db, { name: 'imdb', ...onnx(1), force: true });
        assert.deepEqual([forced.created, forced.model.version], [true, 3]);
        // Another name counts from 1; the same digest may be a version of several names.
        const other = await registerModelVersion(db, { name: 'other', ...onnx(1), kind: 'bundle' });
        assert.deepEqual([other.created, other.model.version, other.model.kind], [true, 1, 'bundle']);
      });

      await t.test('records the producing stage execution', async () => {
        const execution = await store.startExecution({
          type: 'stage',
          name: 'train',
          cause: 'manual',
          ledgeVersion: '0.1.0',
        });
        const made = await registerModelVersion(db, {
          name: 'trained',
          ...onnx('t'),
          executionId: execution,
        });
        assert.equal(made.model.executionId, execution);
        await rejectsWith(
          registerModelVersion(db, { name: 'trained', ...onnx('u'), executionId: 999_999 }),
          /no run or execution with id 999999/,
        );
        await rejectsWith(
          registerModelVersion(db, { name: 'Bad Name', ...onnx('v') }),
          /not a valid model name/,
        );
      });

      await t.test('lists each model with its latest version and aliases', async () => {
        await setAlias(db, 'imdb', 'production', 2);
        const models = await listModels(db);
        assert.deepEqual(
          models.map((m) => [m.name, m.latest.version, m.versions, m.aliases]),
          [
            ['imdb', 3, 3, { production: 2 }],
            ['other', 1, 1, {}],
            ['trained', 1, 1, {}],
          ],
        );
        assert.deepEqual(
          (await modelVersions(db, 'imdb')).map((v) => [v.version, v.aliases]),
          [
            [1, []],
            [2, ['production']],
            [3, []],
          ],
        );
        const digests = await registeredModelDigests(db);
        assert.equal(digests.length, 4); // (digest, kind) pairs: "model 1" is an onnx and a bundle
      });

      await t.test('moves and deletes aliases; refuses bad ones', async () => {
        assert.deepEqual(await setAlias(db, 'imdb', 'staging', 1), { previous: undefined });
        assert.deepEqual(await setAlias(db, 'imdb', 'production', 3), { previous: 2 });
        assert.deepEqual(await setAlias(db, 'imdb', 'production', 3), { previous: 3 });
        assert.deepEqual((await getModelVersion(db, 'imdb', 3)).aliases, ['production']);
        assert.deepEqual(await modelAliases(db, 'imdb'), { production: 3, staging: 1 });
        await rejectsWith(setAlias(db, 'imdb', 'latest', 1), /'latest' is reserved/);
        await rejectsWith(setAlias(db, 'imdb', '3', 1), /'3' is not a valid alias/);
        await rejectsWith(setAlias(db, 'imdb', 'Prod', 1), /'Prod' is not a valid alias/);
        await rejectsWith(
          setAlias(db, 'imdb', 'canary', 9),
          /model 'imdb' has no version 9 \(it has versions 1 to 3\)/,
        );
        await rejectsWith(setAlias(db, 'nope', 'canary', 1), /no model named 'nope'/);
        assert.equal(await deleteAlias(db, 'imdb', 'staging'), 1);
        await rejectsWith(deleteAlias(db, 'imdb', 'staging'), /model 'imdb' has no alias 'staging'/);
        assert.deepEqual(await modelAliases(db, 'imdb'), { production: 3 });
      });

      await t.test('resolves every kind of reference', async () => {
        const version = async (ref: string) => {
          const model = await resolveModelRef(db, ref);
          return `${model.name}@${model.version}`;
        };
        assert.equal(await version('imdb'), 'imdb@3');
        assert.equal(await version('imdb@latest'), 'imdb@3');
        assert.equal(await version('imdb@2'), 'imdb@2');
        assert.equal(await version('imdb@production'), 'imdb@3');
        // A digest means the newest version holding it, whatever its name.
        assert.equal(await version(sha256('model 1')), 'other@1');
        assert.equal(await version(sha256('model 2')), 'imdb@2');
        await rejectsWith(
          resolveModelRef(db, 'nope'),
          /no model named 'nope' in the registry; see `ledge model list`/,
        );
        await rejectsWith(resolveModelRef(db, 'nope@2'), /no model named 'nope'/);
        await rejectsWith(
          resolveModelRef(db, 'other@2'),
          /model 'other' has no version 2 \(it has version 1\)/,
        );
        await rejectsWith(
          resolveModelRef(db, 'imdb@canary'),
          /model 'imdb' has no alias 'canary'; its aliases: production/,
        );
        await rejectsWith(resolveModelRef(db, 'nope@canary'), /no model named 'nope'/);
        await rejectsWith(resolveModelRef(db, sha256('unknown')), /no registered model version has digest/);
        await rejectsWith(resolveModelRef(db, 'imdb@'), /is not a model reference/);
      });
    });

    it('gives concurrent registrations of one name distinct versions', async (t) => {
      const target = await backend.target(t);
      const stores = [await open(t, target)];
      // Several connections in one process: PostgreSQL pools. (SQLite's driver is synchronous,
      // so its connections in one process take turns; separate processes race for real below.)
      if (backend.name === 'PostgreSQL') stores.push(await open(t, target), await open(t, target));
      const inProcess = await Promise.all(
        Array.from(
          { length: 24 },
          async (_, i) =>
            (await registerModelVersion(stores[i % stores.length]!.db, { name: 'race', ...onnx(`p${i}`) }))
              .model.version,
        ),
      );
      assert.deepEqual(
        [...inProcess].sort((a, b) => a - b),
        Array.from({ length: 24 }, (_, i) => i + 1),
      );

      const dir = tempDir(t);
      const script = path.join(dir, 'register.mjs');
      const srcDir = fileURLToPath(new URL('../../src', import.meta.url));
      fs.writeFileSync(script, CHILD_SCRIPT(srcDir));
      const perProcess = await Promise.all(
        ['a', 'b', 'c', 'd'].map((tag) => registerFromProcess(script, target, 'race', tag, 5)),
      );
      assert.deepEqual(
        perProcess.flat().sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i + 25),
      );
      const rows = await modelVersions(stores[0]!.db, 'race');
      assert.equal(rows.length, 44);
      assert.equal(new Set(rows.map((r) => r.digest)).size, 44);
    });
  });
}
