/**
 * ledge's linear text classifier as an ONNX model: one weight per feature id (hashed n-grams,
 * src/runtime/text/features.ts), summed over a document's ids, plus a bias.
 *
 *     input_ids int64 [batch, seq] ─ Gather(weights) ─ ReduceSum(axis 1) ─ Add(bias) ─┬─ logit float [batch]
 *                                                                                   └─ Sigmoid ─ score float [batch]
 *
 * Id 0 is padding and weights[0] is 0, so padded positions add nothing. The int8 variant
 * stores the weights quantized (symmetric, per tensor) and dequantizes only the gathered ones:
 * Gather(weights_q) ─ DequantizeLinear(scale, 0) ─ the same tail.
 */
import { LedgeError } from '../../core/errors.js';
import { attr, OnnxGraphBuilder } from './graph-builder.js';

export interface TextClassifierParams {
  /** One weight per feature id (length = buckets); weights[0], the padding id's, must be 0. */
  weights: Float32Array;
  bias: number;
  /** ai.onnx opset, 13 to 17 (default 17, IR version 8). */
  opset?: number;
  /** Stored as the model's `metadata_props`, after ledge's own `ledge.*` keys. */
  metadata?: Record<string, string>;
  /** 'int8' stores int8 weights plus one scale: ~25% of the float file. */
  quantize?: 'none' | 'int8';
}

export interface Int8Weights {
  q: Int8Array;
  /** A float32 value: `q[i] * scale` (in float32) is the dequantized weight. */
  scale: number;
}

export const TEXT_CLASSIFIER_INPUT = 'input_ids';
export const TEXT_CLASSIFIER_OUTPUTS = { logit: 'logit', score: 'score' } as const;
export const DEFAULT_TEXT_CLASSIFIER_OPSET = 17;
/** Opsets whose operators this graph uses unchanged and the Debian ONNX checker (1.12) knows. */
const OPSETS = { min: 13, max: 17 };

/**
 * Symmetric per-tensor int8 quantization: scale = max|w| / 127, zero point 0, values in
 * [-127, 127] (0 maps to exactly 0, so padding stays free).
 */
export function quantizeInt8(weights: Float32Array): Int8Weights {
  let max = 0;
  for (let i = 0; i < weights.length; i++) max = Math.max(max, Math.abs(weights[i]!));
  // All-zero weights: any positive scale represents them exactly.
  const scale = Math.fround(max > 0 ? max / 127 : 1);
  const q = new Int8Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    const v = weights[i]! / scale;
    // Rounds halves away from zero (symmetric); |v| ≤ 127 up to float rounding.
    const r = Math.trunc(v < 0 ? v - 0.5 : v + 0.5);
    q[i] = Math.min(127, Math.max(-127, r));
  }
  return { q, scale };
}

/** The weights the int8 model computes with, as ORT's DequantizeLinear does: float32(q × scale). */
export function dequantizeInt8({ q, scale }: Int8Weights): Float32Array {
  const weights = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) weights[i] = q[i]! * scale;
  return weights;
}

function checkParams(params: TextClassifierParams, opset: number): void {
  const { weights, bias } = params;
  if (weights.length < 2) {
    throw new LedgeError('usage', `text classifier: ${weights.length} weights; need at least 2`, {
      hint: 'pass one weight per feature id, the padding id 0 included',
    });
  }
  if (weights[0] !== 0) {
    throw new LedgeError('usage', `text classifier: weights[0] is ${weights[0]}, not 0`, {
      hint: 'id 0 is padding and must contribute nothing; set weights[0] = 0',
    });
  }
  let bad = -1;
  for (let i = 0; i < weights.length && bad < 0; i++) if (!Number.isFinite(weights[i]!)) bad = i;
  if (bad >= 0 || !Number.isFinite(bias)) {
    throw new LedgeError(
      'usage',
      `text classifier: ${bad >= 0 ? `weights[${bad}] is ${weights[bad]}` : `bias is ${bias}`}`,
      { hint: 'the trainer diverged; lower the learning rate or check the data' },
    );
  }
  if (!Number.isInteger(opset) || opset < OPSETS.min || opset > OPSETS.max) {
    throw new LedgeError('usage', `text classifier: opset ${opset} is not supported`, {
      hint: `use an opset from ${OPSETS.min} to ${OPSETS.max}`,
    });
  }
}

/** The classifier as the bytes of a `.onnx` file. */
export function exportTextClassifier(params: TextClassifierParams): Uint8Array {
  const opset = params.opset ?? DEFAULT_TEXT_CLASSIFIER_OPSET;
  checkParams(params, opset);
  const quantize = params.quantize ?? 'none';
  const buckets = params.weights.length;
  const g = new OnnxGraphBuilder(
    'ledge_text_classifier',
    'Linear classifier over hashed n-gram feature ids; score = sigmoid(sum(weights[ids]) + bias)',
  );
  const ids = g.addInput(TEXT_CLASSIFIER_INPUT, 'int64', ['batch', 'seq']);
  if (quantize === 'int8') {
    const { q, scale } = quantizeInt8(params.weights);
    g.addInitializer('weights_q', { type: 'int8', dims: [buckets], data: q });
    g.addInitializer('weights_scale', { type: 'float32', dims: [], data: Float32Array.of(scale) });
    g.addInitializer('weights_zero_point', { type: 'int8', dims: [], data: Int8Array.of(0) });
    g.addNode('Gather', ['weights_q', ids], ['token_weights_q'], {
      name: 'gather',
      attributes: { axis: attr.int(0) },
    });
    g.addNode(
      'DequantizeLinear',
      ['token_weights_q', 'weights_scale', 'weights_zero_point'],
      ['token_weights'],
      { name: 'dequantize' },
    );
  } else {
    g.addInitializer('weights', { type: 'float32', dims: [buckets], data: params.weights });
    g.addNode('Gather', ['weights', ids], ['token_weights'], {
      name: 'gather',
      attributes: { axis: attr.int(0) },
    });
  }
  g.addInitializer('sum_axes', { type: 'int64', dims: [1], data: BigInt64Array.of(1n) });
  g.addInitializer('bias', { type: 'float32', dims: [], data: Float32Array.of(params.bias) });
  g.addNode('ReduceSum', ['token_weights', 'sum_axes'], ['weight_sum'], {
    name: 'sum',
    attributes: { keepdims: attr.int(0) },
  });
  g.addNode('Add', ['weight_sum', 'bias'], [TEXT_CLASSIFIER_OUTPUTS.logit], { name: 'add_bias' });
  g.addNode('Sigmoid', [TEXT_CLASSIFIER_OUTPUTS.logit], [TEXT_CLASSIFIER_OUTPUTS.score], { name: 'sigmoid' });
  g.addOutput(TEXT_CLASSIFIER_OUTPUTS.logit, 'float32', ['batch']);
  g.addOutput(TEXT_CLASSIFIER_OUTPUTS.score, 'float32', ['batch']);
  return g.serialize({
    opset,
    docString: 'ledge text classifier: probability of the positive class from hashed n-gram feature ids',
    metadata: {
      'ledge.model': 'linear-text-classifier',
      'ledge.buckets': String(buckets),
      'ledge.quantization': quantize,
      ...params.metadata,
    },
  });
}
