/**
 * Writes a text classifier's model bundle (see src/runtime/model/bundle-format.ts): the ONNX
 * graph, preprocessing, labels, vocabulary, model card and reference profile. The bundle
 * appears complete or not at all: it is written to a staging directory next to the target
 * and renamed into place.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempPathIn } from '../../core/atomic-fs.js';
import {
  BUNDLE_FILES,
  type ModelCard,
  type PreprocessingConfig,
  type ReferenceProfile,
} from '../../runtime/model/bundle-format.js';
import type { FeatureConfig } from '../../runtime/text/features.js';
import { irVersionForOpset } from '../onnx/graph-builder.js';
import {
  DEFAULT_TEXT_CLASSIFIER_OPSET,
  exportTextClassifier,
  TEXT_CLASSIFIER_INPUT,
  TEXT_CLASSIFIER_OUTPUTS,
} from '../onnx/text-classifier.js';
import type { LinearModel } from '../train/nb-logistic.js';

export interface BundleContents {
  name: string;
  model: LinearModel;
  features: FeatureConfig;
  labels: string[];
  vocabulary: unknown;
  profile: ReferenceProfile;
  quantize: 'none' | 'int8';
  card: Omit<
    ModelCard,
    'format' | 'version' | 'name' | 'labels' | 'sizes' | 'onnx' | 'signature' | 'task' | 'created'
  >;
}

export function preprocessingOf(features: FeatureConfig): PreprocessingConfig {
  return {
    format: 'ledge.text-classifier.preprocessing',
    version: 1,
    tokenizer: { kind: 'ledge-words', version: 1 },
    features,
    input: { name: TEXT_CLASSIFIER_INPUT, dtype: 'int64', padding: 0 },
    outputs: { score: TEXT_CLASSIFIER_OUTPUTS.score, logit: TEXT_CLASSIFIER_OUTPUTS.logit },
  };
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** Writes the bundle to `dir` (replacing what is there); returns the card. */
export function writeTextClassifierBundle(dir: string, contents: BundleContents): ModelCard {
  const opset = DEFAULT_TEXT_CLASSIFIER_OPSET;
  const onnx = exportTextClassifier({
    weights: contents.model.weights,
    bias: contents.model.bias,
    opset,
    quantize: contents.quantize,
    metadata: { 'ledge.model': contents.name, 'ledge.labels': contents.labels.join(',') },
  });
  const card: ModelCard = {
    format: 'ledge.model-card',
    version: 1,
    name: contents.name,
    task: 'binary-text-classification',
    labels: contents.labels,
    created: new Date().toISOString(),
    ...contents.card,
    sizes: { model_bytes: onnx.length, parameters: contents.model.weights.length + 1 },
    onnx: { opset, ir_version: irVersionForOpset(opset), quantization: contents.quantize },
    signature: {
      inputs: [{ name: TEXT_CLASSIFIER_INPUT, dtype: 'int64', shape: ['batch', 'seq'] }],
      outputs: [
        { name: TEXT_CLASSIFIER_OUTPUTS.score, dtype: 'float32', shape: ['batch'] },
        { name: TEXT_CLASSIFIER_OUTPUTS.logit, dtype: 'float32', shape: ['batch'] },
      ],
    },
  };
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  const staging = tempPathIn(parent);
  fs.mkdirSync(staging);
  try {
    fs.writeFileSync(path.join(staging, BUNDLE_FILES.model), onnx);
    fs.writeFileSync(
      path.join(staging, BUNDLE_FILES.preprocessing),
      json(preprocessingOf(contents.features)),
    );
    fs.writeFileSync(path.join(staging, BUNDLE_FILES.labels), json(contents.labels));
    fs.writeFileSync(path.join(staging, BUNDLE_FILES.vocabulary), json(contents.vocabulary));
    fs.writeFileSync(path.join(staging, BUNDLE_FILES.card), json(card));
    fs.writeFileSync(path.join(staging, BUNDLE_FILES.profile), json(contents.profile));
    for (const name of fs.readdirSync(staging)) {
      const fd = fs.openSync(path.join(staging, name), 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(staging, dir);
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  return card;
}
