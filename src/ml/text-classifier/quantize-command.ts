/**
 * `ledge quantize`: the int8 version of a float text classifier bundle, as a bundle of its own,
 * with its accuracy measured in ONNX Runtime next to the float model's on the same data.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../../core/atomic-fs.js';
import { LedgeError } from '../../core/errors.js';
import { isBundleArchive, unpackBundle } from '../../runtime/model/bundle-archive.js';
import {
  BUNDLE_FILES,
  type ModelCard,
  type PreprocessingConfig,
  type ReferenceProfile,
} from '../../runtime/model/bundle-format.js';
import { onnx } from '../onnx/proto.js';
import type { LinearModel } from '../train/nb-logistic.js';
import { writeTextClassifierBundle } from './bundle-writer.js';
import { runEvaluate } from './evaluate-command.js';

/** The float weights and bias of a ledge text classifier graph. */
export function readTextClassifierWeights(bytes: Uint8Array, shownAs: string): LinearModel {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new LedgeError('corrupt-object', `${shownAs} is not an ONNX model: ${(error as Error).message}`);
  }
  const tensor = (name: string) => model.graph?.initializer?.find((t) => t.name === name);
  const weights = tensor('weights');
  const bias = tensor('bias');
  if (!weights?.rawData || !bias?.rawData || weights.dataType !== onnx.TensorProto.DataType.FLOAT) {
    throw new LedgeError(
      'usage',
      `${shownAs} is not a float ledge text classifier (no float 'weights' initializer)`,
      {
        hint: 'quantize the float bundle written by `ledge train`',
      },
    );
  }
  const copy = (raw: Uint8Array) => new Float32Array(Uint8Array.from(raw).buffer);
  return { weights: copy(weights.rawData), bias: copy(bias.rawData)[0]! };
}

const readJson = <T>(dir: string, name: string): T =>
  JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as T;

export interface QuantizeOptions {
  model: string;
  out: string;
  /** Labelled examples to measure both models on. */
  dataFile?: string | undefined;
  metricsFile?: string | undefined;
}

export async function runQuantize(given: QuantizeOptions) {
  const options = {
    ...given,
    model:
      isBundleArchive(given.model) && fs.statSync(given.model).isFile()
        ? await unpackBundle(given.model)
        : given.model,
  };
  const modelFile = path.join(options.model, BUNDLE_FILES.model);
  if (!fs.existsSync(modelFile)) {
    throw new LedgeError(
      'path-not-found',
      `${options.model} is not a model bundle (no ${BUNDLE_FILES.model})`,
    );
  }
  const weights = readTextClassifierWeights(fs.readFileSync(modelFile), modelFile);
  const card = readJson<ModelCard>(options.model, BUNDLE_FILES.card);
  const preprocessing = readJson<PreprocessingConfig>(options.model, BUNDLE_FILES.preprocessing);
  const int8Card = writeTextClassifierBundle(options.out, {
    name: card.name,
    model: weights,
    features: preprocessing.features,
    labels: card.labels,
    vocabulary: readJson<unknown>(options.model, BUNDLE_FILES.vocabulary),
    profile: readJson<ReferenceProfile>(options.model, BUNDLE_FILES.profile),
    quantize: 'int8',
    card: {
      trainer: card.trainer,
      data: card.data,
      metrics: card.metrics,
      history: card.history,
      training_seconds: card.training_seconds,
    },
  });
  const result = {
    float_bytes: card.sizes.model_bytes,
    int8_bytes: int8Card.sizes.model_bytes,
    size_ratio: Number((int8Card.sizes.model_bytes / card.sizes.model_bytes).toFixed(4)),
  } as Record<string, number>;
  if (options.dataFile) {
    const float = await runEvaluate({ model: options.model, dataFile: options.dataFile });
    const int8 = await runEvaluate({ model: options.out, dataFile: options.dataFile });
    result.float_accuracy = float.metrics.accuracy;
    result.int8_accuracy = int8.metrics.accuracy;
    result.accuracy_drop_points = Number(((float.metrics.accuracy - int8.metrics.accuracy) * 100).toFixed(4));
    result.int8_auc = int8.metrics.auc;
  }
  if (options.metricsFile) writeFileAtomicSync(options.metricsFile, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
