/**
 * The worked example's model end to end on the bundled 2,000-review IMDB sample, through the
 * real CLI: prepare → train → evaluate → quantize → predict, the bundle's contents, parity of
 * the TypeScript scores with ONNX Runtime's, the official ONNX checker, and determinism.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readTextClassifierWeights } from '../../../src/ml/text-classifier/quantize-command.js';
import { linearScore } from '../../../src/ml/train/nb-logistic.js';
import { TextModel } from '../../../src/runtime/model/text-model.js';
import { runLedge } from '../../helpers/cli.js';
import { freePort } from '../../helpers/free-port.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const sample = path.join(repo, 'examples', 'imdb', 'data', 'aclImdb_sample.tar.gz');

let root: string;

async function ok(args: string[], input?: string) {
  const result = await runLedge(args, { cwd: root, input });
  assert.equal(result.code, 0, `ledge ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

const readJson = (rel: string) => JSON.parse(fs.readFileSync(path.join(root, rel), 'utf8'));
const jsonLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));

describe('the IMDB text classifier', () => {
  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-model-'));
    fs.writeFileSync(
      path.join(root, 'params.yaml'),
      'prepare:\n  seed: 3\ntrain:\n  bits: 18\n  epochs: 2\n',
    );
    await ok(['imdb', 'prepare', '--source', sample, '--out', 'prepared']);
    await ok([
      'train',
      '--train',
      'prepared/train.jsonl',
      '--validation',
      'prepared/validation.jsonl',
      '--out',
      'model',
      '--name',
      'imdb-sentiment',
      '--metrics',
      'train.json',
    ]);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('prepares a deterministic, stratified split of the reviews', () => {
    const summary = readJson('prepared/summary.json');
    assert.deepEqual([summary.train, summary.validation, summary.test], [1600, 400, 0]);
    const validation = jsonLines(fs.readFileSync(path.join(root, 'prepared/validation.jsonl'), 'utf8'));
    assert.equal(validation.filter((e) => e.label === 'pos').length, 200);
  });

  it('writes a complete model bundle with a model card and a reference profile', () => {
    for (const file of [
      'model.onnx',
      'preprocessing.json',
      'labels.json',
      'vocabulary.json',
      'model-card.json',
      'profile.json',
    ]) {
      assert.ok(fs.existsSync(path.join(root, 'model', file)), file);
    }
    const card = readJson('model/model-card.json');
    assert.equal(card.name, 'imdb-sentiment');
    assert.deepEqual(card.labels, ['neg', 'pos']);
    assert.equal(card.onnx.opset >= 13, true);
    assert.equal(card.data.train_examples, 1600);
    assert.match(card.data.digest, /^sha256:/);
    assert.equal(card.history.length, 2);
    assert.equal(card.sizes.model_bytes, fs.statSync(path.join(root, 'model/model.onnx')).size);
    assert.deepEqual(
      card.signature.inputs.map((i: { name: string; shape: unknown[] }) => [i.name, i.shape]),
      [['input_ids', ['batch', 'seq']]],
    );
    const profile = readJson('model/profile.json');
    assert.equal(profile.examples, 400);
    assert.ok(profile.tokenCount.quantiles.p50 > 50);
    assert.ok(profile.oovRate.mean >= 0 && profile.oovRate.mean < 0.2);
    assert.ok(Math.abs(profile.score.fractions.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-9);
    const metrics = readJson('train.json');
    assert.ok(metrics.validation_accuracy > 0.8, `validation accuracy ${metrics.validation_accuracy}`);
  });

  it('computes the same scores in TypeScript and in ONNX Runtime (within 1e-5, 1,000 reviews)', async () => {
    const model = await TextModel.load(path.join(root, 'model'));
    try {
      const weights = readTextClassifierWeights(
        fs.readFileSync(path.join(root, 'model/model.onnx')),
        'model.onnx',
      );
      const texts = jsonLines(fs.readFileSync(path.join(root, 'prepared/train.jsonl'), 'utf8'))
        .slice(0, 1000)
        .map((e) => e.text as string);
      const ids = texts.map((text) => model.features(text));
      const onnx = await model.scoreIds(ids);
      let worst = 0;
      ids.forEach((doc, i) => {
        worst = Math.max(worst, Math.abs(linearScore(doc, weights) - onnx[i]!));
      });
      assert.ok(worst < 1e-5, `largest difference ${worst}`);
    } finally {
      await model.close();
    }
  });

  it('passes the official ONNX checker with full_check', () => {
    const check = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)',
        path.join(root, 'model/model.onnx'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(check.status, 0, `onnx checker (apt-get install python3-onnx): ${check.stderr}`);
  });

  it('evaluates in ONNX Runtime and quantizes to int8 within 0.5 points in a third of the size', async () => {
    const evaluated = JSON.parse(
      (await ok(['evaluate', 'model', '--data', 'prepared/validation.jsonl', '--json'])).stdout,
    );
    assert.equal(evaluated.metrics.examples, 400);
    assert.ok(Math.abs(evaluated.metrics.accuracy - readJson('train.json').validation_accuracy) < 1e-9);
    const quantized = JSON.parse(
      (
        await ok([
          'quantize',
          'model',
          '--out',
          'model-int8',
          '--data',
          'prepared/validation.jsonl',
          '--json',
        ])
      ).stdout,
    );
    assert.ok(quantized.size_ratio <= 0.35, `size ratio ${quantized.size_ratio}`);
    assert.ok(quantized.accuracy_drop_points <= 0.5, `lost ${quantized.accuracy_drop_points} points`);
    assert.equal(readJson('model-int8/model-card.json').onnx.quantization, 'int8');
  });

  it('predicts JSON lines, raw text lines and Keras-style sequences, and reports bad lines', async () => {
    const input = [
      JSON.stringify({ text: 'A wonderful, moving film. Superb acting, I loved it.' }),
      '{not json',
      JSON.stringify({ text: 'Dull, boring and far too long. The worst film of the year.' }),
      JSON.stringify({ text: '' }),
    ].join('\n');
    const result = await runLedge(['predict', 'model'], { cwd: root, input });
    assert.equal(result.code, 1, 'malformed lines make the exit code 1');
    const lines = jsonLines(result.stdout);
    assert.equal(lines.length, 4, 'one output line per input line, same order');
    assert.equal(lines[0].label, 'pos');
    assert.deepEqual(lines[1], { line: 2, error: 'not valid JSON' });
    assert.equal(lines[2].label, 'neg');
    assert.ok(lines[2].score < 0.5);
    assert.equal(lines[3].error, 'empty text');
    assert.match(result.stderr, /input line 2: not valid JSON \(skipped\)/);

    const strict = await runLedge(['predict', 'model', '--strict'], { cwd: root, input });
    assert.equal(strict.code, 2);
    assert.match(strict.stderr, /^ledge: error: input line 2: not valid JSON/m);

    const text = await ok(['predict', 'model', '--format', 'text'], 'Great movie!\nTerrible movie.\n');
    assert.deepEqual(
      jsonLines(text.stdout).map((l) => l.label),
      ['pos', 'neg'],
    );
    // Keras-style integer sequences decode with the bundle's vocabulary to the same prediction.
    const model = await TextModel.load(path.join(root, 'model'));
    try {
      const review = 'a wonderful moving film superb acting i loved it';
      const sequence = [1, ...review.split(' ').map((w) => model.vocabulary.indexOf(w))];
      const [fromText] = await model.predict([review]);
      const viaCli = jsonLines((await ok(['predict', 'model'], JSON.stringify({ sequence }))).stdout)[0];
      assert.equal(viaCli.label, fromText!.label);
      assert.ok(Math.abs(viaCli.score - fromText!.score) < 1e-6);
    } finally {
      await model.close();
    }
  });

  it('packs a bundle into one reproducible archive that predict and quantize take as it is', async () => {
    await ok(['model', 'pack', 'model', '--out', 'a.ledgemodel']);
    await ok(['model', 'pack', 'model', '--out', 'b.ledgemodel']);
    const a = fs.readFileSync(path.join(root, 'a.ledgemodel'));
    assert.ok(a.equals(fs.readFileSync(path.join(root, 'b.ledgemodel'))), 'same bundle, same bytes');
    const fromDir = jsonLines((await ok(['predict', 'model', '--format', 'text'], 'Loved it!\n')).stdout)[0];
    const fromFile = jsonLines(
      (await ok(['predict', 'a.ledgemodel', '--format', 'text'], 'Loved it!\n')).stdout,
    )[0];
    assert.deepEqual(fromFile, fromDir);
    fs.writeFileSync(path.join(root, 'bad.ledgemodel'), 'not a tar');
    const bad = await runLedge(['predict', 'bad.ledgemodel'], { cwd: root, input: '' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^ledge: error: .*bad\.ledgemodel is not a (readable )?model bundle archive/m);
  });

  it('downloads the dataset once from a URL into the cache and verifies it', async () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-download-'));
    try {
      await runLedge(['init'], { cwd: ws });
      const url = `file://${sample}`;
      const first = await runLedge(['imdb', 'download', '--source', url, '--out', 'imdb.tar.gz'], {
        cwd: ws,
      });
      assert.equal(first.code, 0, first.stderr);
      assert.ok(fs.readFileSync(path.join(ws, 'imdb.tar.gz')).equals(fs.readFileSync(sample)));
      const wrong = await runLedge(
        ['imdb', 'download', '--source', url, '--sha256', '0'.repeat(64), '--out', 'x.tar.gz'],
        { cwd: ws },
      );
      assert.equal(wrong.code === 0, false, 'a digest mismatch is refused');
      assert.ok(!fs.existsSync(path.join(ws, 'x.tar.gz')));
    } finally {
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });

  it('trains deterministically: the same seed gives the same model bytes', async () => {
    await ok([
      'train',
      '--train',
      'prepared/train.jsonl',
      '--validation',
      'prepared/validation.jsonl',
      '--out',
      'model-again',
      '--name',
      'imdb-sentiment',
    ]);
    assert.ok(
      fs
        .readFileSync(path.join(root, 'model/model.onnx'))
        .equals(fs.readFileSync(path.join(root, 'model-again/model.onnx'))),
    );
  });
});

describe('the IMDB example pipeline', () => {
  it('runs prepare → train → evaluate → quantize → register → package → deploy with ledge run, then has nothing to do', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-example-'));
    t.after(async () => {
      await runLedge(['deploy', 'stop'], { cwd: dir });
      fs.rmSync(dir, { recursive: true, force: true });
    });
    execFileSync('git', ['init', '-q'], { cwd: dir });
    for (const file of ['ledge.yaml', 'params.yaml']) {
      fs.copyFileSync(path.join(repo, 'examples', 'imdb', file), path.join(dir, file));
    }
    fs.mkdirSync(path.join(dir, 'data'));
    fs.copyFileSync(sample, path.join(dir, 'data', 'aclImdb.tar.gz'));
    const run = async (args: string[]) => {
      const result = await runLedge(args, { cwd: dir });
      assert.equal(result.code, 0, `ledge ${args.join(' ')}:\n${result.stdout}\n${result.stderr}`);
      return result;
    };
    await run(['init']);
    // The example's deploy target, on a free port.
    const port = await freePort();
    fs.writeFileSync(
      path.join(dir, '.ledge', 'deploy.yaml'),
      fs
        .readFileSync(path.join(repo, 'examples', 'imdb', 'deploy.yaml'), 'utf8')
        .replace('port: 8080', `port: ${port}`),
    );
    await run(['add', 'data/aclImdb.tar.gz']);
    const first = await run(['run']);
    for (const stage of ['prepare', 'train', 'evaluate', 'quantize', 'register', 'package', 'deploy']) {
      assert.match(first.stdout, new RegExp(`Stage '${stage}' finished`));
    }
    const quantize = JSON.parse(fs.readFileSync(path.join(dir, 'metrics/quantize.json'), 'utf8'));
    assert.ok(quantize.size_ratio <= 0.35);
    assert.match(first.stdout, /quality gate passed: int8_accuracy/);
    assert.match((await run(['run'])).stdout, /Nothing to do: 7 stages are up to date/);
    // The deploy stage left the int8 model serving on the local target.
    const response = await fetch(`http://127.0.0.1:${port}/v1/models/imdb-sentiment-int8:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: ['An excellent film, I loved it!'] }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-ledge-deployment'), '1');
    const served = (await response.json()) as { predictions: { label: string }[] };
    assert.equal(served.predictions[0]!.label, 'pos');
    // The package stage wrote the image as an OCI layout, and recorded the build.
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'build/imdb-sentiment-int8/index.json'), 'utf8'));
    assert.equal(index.manifests.length, 1);
    const builds = JSON.parse((await run(['build', 'list', '--json'])).stdout) as { modelName?: string }[];
    assert.equal(builds.length, 1);
    // The register stage made both models versions in the registry; a reference predicts.
    const models = JSON.parse((await run(['model', 'list', '--json'])).stdout) as { name: string }[];
    assert.deepEqual(models.map((m) => m.name).sort(), ['imdb-sentiment', 'imdb-sentiment-int8']);
    fs.rmSync(path.join(dir, 'models'), { recursive: true });
    const predicted = await runLedge(['predict', 'imdb-sentiment-int8@1', '--format', 'text'], {
      cwd: dir,
      input: 'An excellent film, I loved it!\n',
    });
    assert.equal(predicted.code, 0, predicted.stderr);
    assert.equal(JSON.parse(predicted.stdout).label, 'pos');
  });
});
