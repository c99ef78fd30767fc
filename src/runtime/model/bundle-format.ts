/**
 * The model bundle: a directory (or a single-file `.tar` archive of it) holding everything a
 * device needs to serve a model, and the file names and shapes both sides agree on.
 *
 *     model.onnx           the graph (input `input_ids` int64 [batch, seq], outputs `score`, `logit`)
 *     preprocessing.json   tokenizer and feature settings (src/runtime/text)
 *     labels.json          ["neg", "pos"]: `score` is the probability of the second
 *     vocabulary.json      the training vocabulary by frequency rank (KerasWordIndex: Keras-style
 *                          integer inputs, out-of-vocabulary rate)
 *     model-card.json      metrics, params, data digest, training time, sizes, opset, signature
 *     profile.json         reference distributions of inputs and outputs, for drift monitoring
 */
import type { FeatureConfig } from '../text/features.js';

export const BUNDLE_FILES = {
  model: 'model.onnx',
  preprocessing: 'preprocessing.json',
  labels: 'labels.json',
  vocabulary: 'vocabulary.json',
  card: 'model-card.json',
  profile: 'profile.json',
} as const;

export interface PreprocessingConfig {
  format: 'ledge.text-classifier.preprocessing';
  version: 1;
  tokenizer: { kind: 'ledge-words'; version: 1 };
  features: FeatureConfig;
  input: { name: string; dtype: 'int64'; padding: 0 };
  outputs: { score: string; logit: string };
}

/** A distribution summarised for drift checks: fixed bin edges and the fraction in each bin. */
export interface Histogram {
  edges: number[];
  fractions: number[];
  mean: number;
  quantiles: Record<'p05' | 'p25' | 'p50' | 'p75' | 'p95', number>;
}

export interface ReferenceProfile {
  format: 'ledge.reference-profile';
  version: 1;
  examples: number;
  tokenCount: Histogram;
  oovRate: Histogram;
  score: Histogram;
  labels: Record<string, number>;
}

export interface ModelCard {
  format: 'ledge.model-card';
  version: 1;
  name: string;
  task: 'binary-text-classification';
  labels: string[];
  created: string;
  trainer: { algorithm: string; params: Record<string, unknown> };
  data: { source: string; digest: string | undefined; train_examples: number; validation_examples: number };
  metrics: Record<string, unknown>;
  history: Record<string, unknown>[];
  training_seconds: number;
  sizes: { model_bytes: number; parameters: number };
  onnx: { opset: number; ir_version: number; quantization: 'none' | 'int8' };
  signature: {
    inputs: { name: string; dtype: string; shape: (string | number)[] }[];
    outputs: { name: string; dtype: string; shape: (string | number)[] }[];
  };
}
