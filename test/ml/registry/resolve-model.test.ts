/** Registering and resolving models in process: the library under `ledge model`. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { sha256 } from '../../../src/core/digest.js';
import { isLedgeError } from '../../../src/core/errors.js';
import { MetadataStore } from '../../../src/metadata/metadata-store.js';
import { exportTextClassifier } from '../../../src/ml/onnx/text-classifier.js';
import { registerModel } from '../../../src/ml/registry/register-model.js';
import { resolveModelPath } from '../../../src/ml/registry/resolve-model.js';
import { Store } from '../../../src/store/store.js';
import { Workspace } from '../../../src/store/workspace.js';
import { tempDir, writeTree } from '../../helpers/temp-dir.js';

async function setUp(t: TestContext): Promise<{ root: string; store: Store; metadata: MetadataStore }> {
  const root = tempDir(t, 'ledge-resolve-');
  const { workspace } = Workspace.init(root);
  const store = new Store(workspace);
  const metadata = await MetadataStore.open(path.join(workspace.stateDir, 'metadata.db'));
  t.after(async () => {
    store.close();
    await metadata.close();
  });
  return { root, store, metadata };
}

function tinyModel(): Uint8Array {
  const weights = new Float32Array(32);
  for (let i = 1; i < weights.length; i++) weights[i] = i / 100;
  return exportTextClassifier({ weights, bias: -0.5 });
}

describe('registering and resolving models', () => {
  it('records the producing execution and materialises a bundle once for concurrent callers', async (t) => {
    const { root, store, metadata } = await setUp(t);
    const bytes = tinyModel();
    writeTree(root, {
      'out/bundle/model.onnx': Buffer.from(bytes),
      'out/bundle/model-card.json': JSON.stringify({ metrics: { accuracy: 0.8 } }),
    });
    const execution = await metadata.startExecution({
      type: 'stage',
      name: 'train',
      cause: 'manual',
      ledgeVersion: '0.1.0',
    });
    const registered = await registerModel(store, metadata, {
      path: 'out/bundle',
      cwd: root,
      name: 'tiny',
      executionId: execution,
      aliases: ['production'],
    });
    assert.deepEqual(
      [registered.created, registered.model.version, registered.model.executionId, registered.model.aliases],
      [true, 1, execution, ['production']],
    );
    assert.deepEqual(registered.model.metrics, { accuracy: 0.8 });
    fs.rmSync(path.join(root, 'out'), { recursive: true });

    // Several callers at once (a server and a stage, say): one materialisation, one result.
    const stores = Array.from({ length: 4 }, () => new Store(Workspace.find(root)));
    t.after(() => {
      for (const s of stores) s.close();
    });
    const resolved = await Promise.all(stores.map((s) => resolveModelPath(s, metadata, 'tiny@production')));
    assert.equal(new Set(resolved.map((r) => r.path)).size, 1);
    assert.deepEqual(new Uint8Array(fs.readFileSync(path.join(resolved[0]!.path, 'model.onnx'))), bytes);
    assert.deepEqual(fs.readdirSync(path.dirname(resolved[0]!.path)).sort(), [
      '.gitignore',
      path.basename(resolved[0]!.path),
    ]);
  });

  it('reports a model whose objects left the cache, and a bundle outside the workspace', async (t) => {
    const { root, store, metadata } = await setUp(t);
    const bytes = tinyModel();
    writeTree(root, { 'tiny.onnx': Buffer.from(bytes) });
    await registerModel(store, metadata, { path: 'tiny.onnx', cwd: root, name: 'tiny', kind: 'onnx' });
    fs.rmSync(store.cache.pathOf(sha256(bytes)), { force: true });
    await assert.rejects(resolveModelPath(store, metadata, 'tiny', { cwd: root }), (error: unknown) => {
      assert.ok(isLedgeError(error, 'missing-object'));
      assert.match(
        error.line,
        /^tiny@1 \(sha256:[0-9a-f]{64}\): its content is not in the cache; register it again/,
      );
      return true;
    });
    // The bare name of a file that is no registered model is that file.
    writeTree(root, { 'other.onnx': Buffer.from(bytes) });
    const byPath = await resolveModelPath(store, metadata, 'other.onnx', { cwd: root });
    assert.deepEqual([byPath.kind, byPath.name, byPath.version], ['onnx', 'tiny', 1]);

    const outside = tempDir(t, 'ledge-outside-');
    writeTree(outside, { 'bundle/model.onnx': Buffer.from(bytes) });
    await assert.rejects(
      registerModel(store, metadata, { path: path.join(outside, 'bundle'), name: 'tiny' }),
      (error: unknown) =>
        isLedgeError(error, 'path-outside-workspace') && /register its model.onnx alone/.test(error.line),
    );
  });
});
