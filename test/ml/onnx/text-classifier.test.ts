/**
 * The exported text classifier, float and int8, run by the real ONNX Runtime and checked by the
 * official ONNX checker: scores agree with the TypeScript reference within 1e-5, padding is
 * free, the files have the expected sizes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { isLedgeError } from '../../../src/core/errors.js';
import { inspectOnnx } from '../../../src/ml/onnx/inspect.js';
import { dequantizeInt8, exportTextClassifier, quantizeInt8 } from '../../../src/ml/onnx/text-classifier.js';
import { linearLogit, linearScore } from '../../../src/ml/train/nb-logistic.js';
import { DEFAULT_FEATURES, featurize, toInputBatch } from '../../../src/runtime/text/features.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { checkWithOfficialChecker, randomBatch, randomWeights } from './helpers.js';

// ONNX Runtime logs kernel errors on stderr through its process-wide logger (session and run
// log levels do not reach it); the out-of-range test below expects one.
ort.env.logLevel = 'fatal';

const SMALL = 1 << 16;
const LARGE = 1 << 22;
const BIAS = -0.37;

async function runModel(
  bytes: Uint8Array,
  batch: { data: BigInt64Array; dims: [number, number] },
): Promise<{ logit: Float32Array; score: Float32Array }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ input_ids: new ort.Tensor('int64', batch.data, batch.dims) });
    return { logit: out.logit!.data as Float32Array, score: out.score!.data as Float32Array };
  } finally {
    await session.release();
  }
}

/** The largest |ORT − reference| over the batch, for scores and logits. */
function maxDiff(
  docs: Int32Array[],
  out: { logit: Float32Array; score: Float32Array },
  weights: Float32Array,
): { score: number; logit: number } {
  assert.equal(out.score.length, docs.length);
  let score = 0;
  let logit = 0;
  docs.forEach((doc, i) => {
    score = Math.max(score, Math.abs(out.score[i]! - linearScore(doc, { weights: weights, bias: BIAS })));
    logit = Math.max(logit, Math.abs(out.logit[i]! - linearLogit(doc, { weights: weights, bias: BIAS })));
  });
  return { score, logit };
}

describe('text classifier export', () => {
  const weights = randomWeights(SMALL, 1);

  it('float model: ONNX Runtime scores 1,000 padded rows as the TypeScript reference does', async () => {
    const batch = randomBatch(1000, 400, SMALL, 2);
    const out = await runModel(exportTextClassifier({ weights, bias: BIAS }), batch);
    const diff = maxDiff(batch.docs, out, weights);
    assert.ok(diff.score <= 1e-5, `max score difference ${diff.score}`);
    assert.ok(diff.logit <= 1e-4, `max logit difference ${diff.logit}`);
    // The empty row is all padding: its logit is the bias alone.
    assert.equal(out.logit[0], Math.fround(BIAS));
  });

  it('int8 model: ONNX Runtime scores 1,000 padded rows as the dequantized reference does', async () => {
    const batch = randomBatch(1000, 400, SMALL, 3);
    const out = await runModel(exportTextClassifier({ weights, bias: BIAS, quantize: 'int8' }), batch);
    const dequantized = dequantizeInt8(quantizeInt8(weights));
    const diff = maxDiff(batch.docs, out, dequantized);
    assert.ok(diff.score <= 1e-5, `max score difference ${diff.score}`);
    assert.equal(out.logit[0], Math.fround(BIAS));
    // Against the float weights, each id's weight moves by at most half a quantization step.
    const { scale } = quantizeInt8(weights);
    batch.docs.forEach((doc, i) => {
      const drift = Math.abs(out.logit[i]! - linearLogit(doc, { weights: weights, bias: BIAS }));
      assert.ok(drift <= (doc.length * scale) / 2 + 1e-4, `row ${i}: logit moved ${drift}`);
    });
  });

  it('scores real reviews featurized by the runtime (hashed n-grams, toInputBatch)', async () => {
    const features = { ...DEFAULT_FEATURES, buckets: SMALL };
    const docs = [
      'A wonderful, moving film. The acting is superb!',
      'Dull plot, wooden dialogue; I wanted my two hours back.',
      '',
      'ok',
    ].map((text) => featurize(text, features));
    const out = await runModel(exportTextClassifier({ weights, bias: BIAS }), toInputBatch(docs));
    assert.ok(maxDiff(docs, out, weights).score <= 1e-5);
  });

  it('quantizeInt8: symmetric, zero stays zero, error within half a step', () => {
    const { q, scale } = quantizeInt8(weights);
    assert.equal(q[0], 0);
    assert.equal(scale, Math.fround(scale));
    const max = weights.reduce((m, w) => Math.max(m, Math.abs(w)), 0);
    assert.ok(Math.abs(scale - max / 127) < 1e-9);
    assert.equal(Math.max(...q.map(Math.abs)), 127);
    assert.ok(q.every((v) => v >= -127));
    const back = dequantizeInt8({ q, scale });
    for (let i = 0; i < weights.length; i++) assert.ok(Math.abs(back[i]! - weights[i]!) <= scale / 2 + 1e-7);
    const zeros = quantizeInt8(new Float32Array(8));
    assert.ok(zeros.q.every((v) => v === 0) && zeros.scale > 0);
    const mirrored = quantizeInt8(Float32Array.of(0, 1, -1, 0.5, -0.5));
    assert.deepEqual([...mirrored.q], [0, 127, -127, 64, -64]);
  });

  it('opset 13 (IR 7) works as well as the default opset 17 (IR 8)', async () => {
    for (const quantize of ['none', 'int8'] as const) {
      const bytes = exportTextClassifier({ weights, bias: BIAS, opset: 13, quantize });
      const summary = inspectOnnx(bytes, 'model.onnx');
      assert.deepEqual(summary.opsetImports, [{ domain: '', version: 13 }]);
      assert.equal(summary.irVersion, 7);
      const batch = randomBatch(50, 100, SMALL, 4);
      const ref = quantize === 'int8' ? dequantizeInt8(quantizeInt8(weights)) : weights;
      assert.ok(maxDiff(batch.docs, await runModel(bytes, batch), ref).score <= 1e-5);
    }
    assert.equal(inspectOnnx(exportTextClassifier({ weights, bias: BIAS }), 'model.onnx').irVersion, 8);
  });

  it('passes the official ONNX checker with full_check=True (float and int8, opsets 13 and 17)', (t) => {
    const models: Record<string, Uint8Array> = {};
    for (const opset of [13, 17]) {
      models[`float-${opset}.onnx`] = exportTextClassifier({ weights, bias: BIAS, opset });
      models[`int8-${opset}.onnx`] = exportTextClassifier({ weights, bias: BIAS, opset, quantize: 'int8' });
    }
    checkWithOfficialChecker(tempDir(t), models);
  });

  it('ONNX Runtime refuses ids outside [0, buckets) rather than reading past the weights', async () => {
    const bytes = exportTextClassifier({ weights: randomWeights(16, 5), bias: 0 });
    await assert.rejects(
      runModel(bytes, { data: BigInt64Array.of(3n, 16n), dims: [1, 2] }),
      /out of bounds|indices/i,
    );
  });

  it('refuses parameters that would make a wrong model', () => {
    const cases: Array<[string, () => unknown, RegExp]> = [
      [
        'padding weight',
        () => exportTextClassifier({ weights: Float32Array.of(0.1, 1), bias: 0 }),
        /weights\[0\] is/,
      ],
      [
        'NaN weight',
        () => exportTextClassifier({ weights: Float32Array.of(0, Number.NaN), bias: 0 }),
        /weights\[1\] is NaN/,
      ],
      [
        'infinite bias',
        () => exportTextClassifier({ weights: Float32Array.of(0, 1), bias: Infinity }),
        /bias is Infinity/,
      ],
      ['one weight', () => exportTextClassifier({ weights: Float32Array.of(0), bias: 0 }), /need at least 2/],
      [
        'opset 12',
        () => exportTextClassifier({ weights: Float32Array.of(0, 1), bias: 0, opset: 12 }),
        /opset 12/,
      ],
      [
        'opset 18',
        () => exportTextClassifier({ weights: Float32Array.of(0, 1), bias: 0, opset: 18 }),
        /opset 18/,
      ],
    ];
    for (const [what, run, message] of cases) {
      assert.throws(run, (e: unknown) => isLedgeError(e, 'usage') && message.test(e.message), what);
    }
  });

  it(`2^22 buckets: float ≈ 16.8 MB, int8 ≤ 35% of it, both loading and agreeing with the reference`, async (t) => {
    const big = randomWeights(LARGE, 6);
    const float = exportTextClassifier({ weights: big, bias: BIAS });
    const int8 = exportTextClassifier({ weights: big, bias: BIAS, quantize: 'int8' });
    assert.ok(
      float.length > 4 * LARGE && float.length < 4 * LARGE + 2048,
      `float file ${float.length} bytes`,
    );
    assert.ok(int8.length > LARGE && int8.length < LARGE + 2048, `int8 file ${int8.length} bytes`);
    assert.ok(int8.length / float.length <= 0.35);
    t.diagnostic(
      `float ${float.length} bytes, int8 ${int8.length} bytes (${(int8.length / float.length).toFixed(3)})`,
    );

    const batch = randomBatch(256, 700, LARGE, 7);
    const dequantized = dequantizeInt8(quantizeInt8(big));
    for (const [name, bytes, reference] of [
      ['float', float, big],
      ['int8', int8, dequantized],
    ] as const) {
      const started = performance.now();
      const session = await ort.InferenceSession.create(bytes);
      const created = performance.now();
      const out = await session.run({ input_ids: new ort.Tensor('int64', batch.data, batch.dims) });
      const ran = performance.now();
      await session.release();
      t.diagnostic(
        `${name}: session create ${(created - started).toFixed(0)} ms, 256×700 ids ${(ran - created).toFixed(1)} ms`,
      );
      const diff = maxDiff(
        batch.docs,
        { logit: out.logit!.data as Float32Array, score: out.score!.data as Float32Array },
        reference,
      );
      assert.ok(diff.score <= 1e-5, `${name}: max score difference ${diff.score}`);
    }
  });
});
