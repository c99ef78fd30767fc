/**
 * `ledge model …` end to end, through the real CLI in a temp workspace, with real ONNX files
 * built by ledge's own exporter: import, register, list, show, alias, and resolving
 * references to materialised paths after the originals are gone.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { digestHex, sha256 } from '../../../src/core/digest.js';
import { exportTextClassifier } from '../../../src/ml/onnx/text-classifier.js';
import { type LedgeResult, runLedge } from '../../helpers/cli.js';
import { tempDir, writeTree } from '../../helpers/temp-dir.js';

/** A small, real text-classifier model: 64 hashed-feature weights. */
function tinyModel(bias = 0.25): Uint8Array {
  const weights = new Float32Array(64);
  for (let i = 1; i < weights.length; i++) weights[i] = Math.sin(i) / 10;
  return exportTextClassifier({ weights, bias });
}

async function workspace(
  t: TestContext,
): Promise<{ ws: string; ledge: (...args: string[]) => Promise<LedgeResult> }> {
  const ws = tempDir(t, 'ledge-model-');
  const ledge = (...args: string[]) => runLedge(args, { cwd: ws, t });
  const init = await ledge('init');
  assert.equal(init.code, 0, init.stderr);
  return { ws, ledge };
}

function ok(result: LedgeResult): string {
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`);
  return result.stdout;
}

function json<T>(result: LedgeResult): T {
  return JSON.parse(ok(result)) as T;
}

/** A failure reported as exactly one `ledge: error:` line. */
function oneErrorLine(result: LedgeResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, `expected a failure, got: ${result.stdout}`);
  assert.match(result.stderr, /^ledge: error: [^\n]+\n$/, result.stderr);
  assert.match(result.stderr, pattern);
}

interface ShownModel {
  name: string;
  version: number;
  kind: string;
  digest: string;
  size: number;
  metrics: Record<string, unknown>;
  properties: Record<string, unknown>;
  aliases: string[];
  versions: { version: number; aliases: string[] }[];
  modelAliases: Record<string, number>;
}

describe('ledge model', () => {
  it('imports an .onnx file, registers a bundle, lists, shows, aliases and resolves them', async (t) => {
    const { ws, ledge } = await workspace(t);
    // A model from "any framework", outside the workspace.
    const elsewhere = tempDir(t, 'ledge-byom-');
    const onnxFile = path.join(elsewhere, 'sentiment.onnx');
    const onnxBytes = tinyModel();
    fs.writeFileSync(onnxFile, onnxBytes);

    const inspected = ok(await ledge('model', 'import', onnxFile, '--dry-run'));
    assert.match(inspected, /valid ONNX model, 948 B/);
    assert.match(inspected, /opset +ai\.onnx 17; IR version 8; producer ledge/);
    assert.match(inspected, /inputs +input_ids: int64 \[batch, seq\]/);
    assert.match(inspected, /outputs +logit: float32 \[batch\]; score: float32 \[batch\]/);
    assert.match(inspected, /operators +Add, Gather, ReduceSum, Sigmoid \(4 nodes\)/);
    assert.deepEqual(json(await ledge('model', 'list', '--json')), []);

    const imported = ok(
      await ledge('model', 'import', onnxFile, '--name', 'imdb-sentiment', '--alias', 'staging'),
    );
    assert.match(imported, /Registered imdb-sentiment@1 \(onnx, sha256:[0-9a-f]{12}, 948 B\)/);
    assert.match(imported, /imdb-sentiment@staging -> 1/);
    assert.match(
      ok(await ledge('model', 'import', onnxFile, '--name', 'imdb-sentiment')),
      /imdb-sentiment@1 already holds this model/,
    );

    // A bundle directory inside the workspace; its model card's metrics are recorded.
    writeTree(ws, {
      'models/imdb/model.onnx': Buffer.from(tinyModel(0.5)),
      'models/imdb/labels.json': '["neg", "pos"]',
      'models/imdb/model-card.json': JSON.stringify({ name: 'imdb-sentiment', metrics: { accuracy: 0.9 } }),
      'better.json': '{"accuracy": 0.92}',
    });
    assert.match(
      ok(await ledge('model', 'register', 'models/imdb', '--name', 'imdb-sentiment')),
      /Registered imdb-sentiment@2 \(bundle, /,
    );
    const third = json<ShownModel>(
      await ledge(
        'model',
        'register',
        'models/imdb',
        '--name',
        'imdb-sentiment',
        '--force',
        '--metrics',
        'better.json',
        '--json',
      ),
    );
    assert.deepEqual([third.version, third.metrics], [3, { accuracy: 0.92 }]);

    const list = json<{ name: string; versions: number; latest: { version: number }; aliases: object }[]>(
      await ledge('model', 'list', '--json'),
    );
    assert.deepEqual(
      list.map((m) => [m.name, m.latest.version, m.versions, m.aliases]),
      [['imdb-sentiment', 3, 3, { staging: 1 }]],
    );
    assert.match(ok(await ledge('model', 'list')), /imdb-sentiment +3 +3 +staging=1 +bundle/);

    // Aliases: set, move (to a number or another alias), delete.
    assert.equal(
      ok(await ledge('model', 'alias', 'imdb-sentiment@production', '2')),
      'imdb-sentiment@production -> 2\n',
    );
    assert.equal(
      ok(await ledge('model', 'alias', 'imdb-sentiment@production', '3')),
      'imdb-sentiment@production -> 3 (was 2)\n',
    );
    assert.equal(
      ok(await ledge('model', 'alias', 'imdb-sentiment@canary', 'staging')),
      'imdb-sentiment@canary -> 1\n',
    );
    assert.equal(
      ok(await ledge('model', 'alias', '--delete', 'imdb-sentiment@canary')),
      'Removed imdb-sentiment@canary (was 1)\n',
    );

    const shown = json<ShownModel>(await ledge('model', 'show', 'imdb-sentiment@2', '--json'));
    assert.equal(shown.kind, 'bundle');
    assert.deepEqual(shown.metrics, { accuracy: 0.9 });
    assert.equal(shown.properties.opset, 17);
    assert.equal(shown.properties.source, 'models/imdb');
    assert.deepEqual(shown.properties.labels, ['neg', 'pos']);
    assert.equal(shown.properties.files, 3);
    assert.deepEqual(shown.modelAliases, { production: 3, staging: 1 });
    assert.deepEqual(
      shown.versions.map((v) => [v.version, v.aliases]),
      [
        [1, ['staging']],
        [2, []],
        [3, ['production']],
      ],
    );
    const latest = json<ShownModel>(await ledge('model', 'show', 'imdb-sentiment', '--json'));
    assert.deepEqual([latest.version, latest.aliases], [3, ['production']]);
    const human = ok(await ledge('model', 'show', 'imdb-sentiment@staging'));
    assert.match(human, /^imdb-sentiment@1 \(onnx\) {2}aliases: staging\n/);
    assert.match(human, new RegExp(`digest +${sha256(onnxBytes)}`));
    assert.match(human, /inputs +input_ids: int64 \[batch, seq\]/);
    assert.match(human, /versions of imdb-sentiment \(aliases: production=3 staging=1\):/);

    // Paths: materialised from the cache, even once the originals are gone.
    const onnxDigest = sha256(onnxBytes);
    fs.rmSync(onnxFile);
    fs.rmSync(path.join(ws, 'models'), { recursive: true });
    const onnxPath = ok(await ledge('model', 'path', 'imdb-sentiment@staging')).trim();
    assert.equal(onnxPath, path.join(ws, '.ledge', 'models', `${digestHex(onnxDigest).slice(0, 16)}.onnx`));
    assert.deepEqual(new Uint8Array(fs.readFileSync(onnxPath)), onnxBytes);
    assert.equal(ok(await ledge('model', 'path', onnxDigest)).trim(), onnxPath);

    const bundle = json<{ path: string; kind: string; name: string; version: number; digest: string }>(
      await ledge('model', 'path', 'imdb-sentiment@production', '--json'),
    );
    assert.deepEqual([bundle.kind, bundle.name, bundle.version], ['bundle', 'imdb-sentiment', 3]);
    assert.equal(
      bundle.path,
      path.join(ws, '.ledge', 'models', digestHex(bundle.digest as `sha256:${string}`).slice(0, 16)),
    );
    assert.deepEqual(fs.readdirSync(bundle.path).sort(), ['labels.json', 'model-card.json', 'model.onnx']);
    assert.deepEqual(new Uint8Array(fs.readFileSync(path.join(bundle.path, 'model.onnx'))), tinyModel(0.5));
    // Reused while intact; rewritten when damaged or gone.
    const model = path.join(bundle.path, 'model.onnx');
    const inode = fs.statSync(model).ino;
    assert.equal(ok(await ledge('model', 'path', 'imdb-sentiment')).trim(), bundle.path);
    assert.equal(fs.statSync(model).ino, inode);
    fs.writeFileSync(model, 'damaged');
    ok(await ledge('model', 'path', 'imdb-sentiment@3'));
    assert.deepEqual(new Uint8Array(fs.readFileSync(model)), tinyModel(0.5));
    fs.rmSync(path.join(ws, '.ledge', 'models'), { recursive: true, force: true });
    ok(await ledge('model', 'path', 'imdb-sentiment@production'));
    assert.ok(fs.existsSync(model));
    // Nothing of it is for git.
    assert.equal(
      fs
        .readFileSync(path.join(ws, '.ledge', 'models', '.gitignore'), 'utf8')
        .trim()
        .split('\n')
        .pop(),
      '*',
    );

    // A plain path is a reference too; its registered name and version are found by digest.
    const copy = path.join(elsewhere, 'copy.onnx');
    fs.writeFileSync(copy, onnxBytes);
    const byPath = json<{ path: string; kind: string; name: string; version: number }>(
      await ledge('model', 'path', copy, '--json'),
    );
    assert.deepEqual(
      [byPath.path, byPath.kind, byPath.name, byPath.version],
      [copy, 'onnx', 'imdb-sentiment', 1],
    );
  });

  it('refuses what is not a valid model or reference, each with one error line', async (t) => {
    const { ws, ledge } = await workspace(t);
    writeTree(ws, {
      'garbage.onnx': Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 97 + 13) % 256)),
      'empty.onnx': '',
      'notes.onnx': 'This is a README, not a model.\n',
      'model.onnx': Buffer.from(tinyModel()),
      'not-a-bundle/readme.txt': 'hello',
    });
    oneErrorLine(
      await ledge('model', 'import', 'garbage.onnx', '--name', 'x'),
      /'garbage.onnx' is not a valid ONNX model/,
    );
    oneErrorLine(
      await ledge('model', 'import', 'empty.onnx', '--name', 'x'),
      /'empty.onnx' is not a valid ONNX model: the file is empty/,
    );
    oneErrorLine(
      await ledge('model', 'import', 'notes.onnx', '--name', 'x', '--dry-run'),
      /'notes.onnx' is not a valid ONNX model: it is a text file/,
    );
    oneErrorLine(
      await ledge('model', 'import', 'missing.onnx', '--name', 'x'),
      /'missing.onnx' does not exist/,
    );
    oneErrorLine(await ledge('model', 'import', 'model.onnx'), /needs a name: --name NAME/);
    oneErrorLine(
      await ledge('model', 'import', 'model.onnx', '--name', 'Bad Name'),
      /'Bad Name' is not a valid model name/,
    );
    oneErrorLine(
      await ledge('model', 'register', 'not-a-bundle', '--name', 'x'),
      /'not-a-bundle' is not a model bundle: it has no model.onnx/,
    );
    oneErrorLine(
      await ledge('model', 'import', 'not-a-bundle', '--name', 'x'),
      /is a bundle directory, not an .onnx file|not a model bundle/,
    );
    assert.deepEqual(json(await ledge('model', 'list', '--json')), []);

    ok(await ledge('model', 'import', 'model.onnx', '--name', 'm'));
    oneErrorLine(
      await ledge('model', 'show', 'nope'),
      /no model named 'nope' in the registry; see `ledge model list`/,
    );
    oneErrorLine(await ledge('model', 'show', 'm@7'), /model 'm' has no version 7 \(it has version 1\)/);
    oneErrorLine(
      await ledge('model', 'path', 'm@production'),
      /model 'm' has no alias 'production'; set it with/,
    );
    oneErrorLine(await ledge('model', 'alias', 'm@latest', '1'), /'latest' is reserved/);
    oneErrorLine(await ledge('model', 'alias', 'm@2', '1'), /'2' is not a valid alias/);
    oneErrorLine(await ledge('model', 'alias', 'm@production'), /needs the version/);
    oneErrorLine(await ledge('model', 'alias', 'm@production', '4'), /model 'm' has no version 4/);
    oneErrorLine(
      await ledge('model', 'alias', '--delete', 'm@production'),
      /model 'm' has no alias 'production'/,
    );
    oneErrorLine(
      await ledge('model', 'path', `sha256:${'0'.repeat(64)}`),
      /no registered model version has digest/,
    );
    oneErrorLine(await ledge('model', 'path', 'nothing/here.onnx'), /'nothing\/here.onnx' does not exist/);
  });
});
