/**
 * `ledge train`: labelled texts in, a model bundle and training metrics out. The library side
 * of the command (reading inputs, the vocabulary, the bundle, the metrics file).
 */
import fs from 'node:fs';
import { parse } from 'yaml';
import { writeFileAtomicSync } from '../../core/atomic-fs.js';
import { sha256 } from '../../core/digest.js';
import { LedgeError } from '../../core/errors.js';
import type { ModelCard } from '../../runtime/model/bundle-format.js';
import { KerasWordIndex, OOV_INDEX } from '../../runtime/text/keras-word-index.js';
import type { EpochMetrics } from '../train/nb-logistic.js';
import { writeTextClassifierBundle } from './bundle-writer.js';
import { readLabeledTexts } from './labeled-texts.js';
import { type TrainedTextClassifier, trainParamsSchema, trainTextClassifier } from './train.js';

export interface TrainOptions {
  trainFile: string;
  validationFile: string;
  /** A params file (YAML) whose `train:` section holds the hyperparameters. */
  paramsFile?: string | undefined;
  out: string;
  name: string;
  labels: [string, string];
  /** Keep this many words in the saved vocabulary (Keras `num_words`). */
  vocabularySize: number;
  metricsFile?: string | undefined;
  onEpoch?: (metrics: EpochMetrics) => void;
}

function readParams(file: string | undefined) {
  if (!file) return trainParamsSchema.parse({});
  let doc: unknown;
  try {
    doc = parse(fs.readFileSync(file, 'utf8')) ?? {};
  } catch (error) {
    throw new LedgeError('config', `cannot read ${file}: ${(error as Error).message}`);
  }
  const section = (doc as Record<string, unknown>).train ?? {};
  const parsed = trainParamsSchema.safeParse(section);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new LedgeError('config', `${file}: train.${issue.path.join('.')}: ${issue.message}`, {
      hint: 'train: takes ngrams, bits, alpha, learning_rate, l2, epochs, seed, nb_weighting',
    });
  }
  return parsed.data;
}

function fileDigest(file: string): string {
  return sha256(fs.readFileSync(file));
}

export function runTrain(options: TrainOptions): { trained: TrainedTextClassifier; card: ModelCard } {
  const params = readParams(options.paramsFile);
  const train = readLabeledTexts(options.trainFile);
  const validation = readLabeledTexts(options.validationFile);
  if (train.length === 0) {
    throw new LedgeError('config', `${options.trainFile} has no examples`, {
      hint: 'run the prepare stage first',
    });
  }
  const vocabulary = KerasWordIndex.fromTexts(
    train.map((e) => e.text),
    { numWords: options.vocabularySize },
  );
  const trained = trainTextClassifier({
    train,
    validation,
    labels: options.labels,
    params,
    inVocabulary: (word) => vocabulary.indexOf(word) !== OOV_INDEX,
    onEpoch: options.onEpoch,
  });
  const card = writeTextClassifierBundle(options.out, {
    name: options.name,
    model: trained.model,
    features: trained.features,
    labels: options.labels,
    vocabulary: vocabulary.toJSON(),
    profile: trained.profile,
    quantize: 'none',
    card: {
      trainer: { algorithm: params.nb_weighting ? 'nb-logistic-regression' : 'logistic-regression', params },
      data: {
        source: options.trainFile,
        digest: fileDigest(options.trainFile),
        train_examples: train.length,
        validation_examples: validation.length,
      },
      metrics: { validation: trained.validation },
      history: trained.history as unknown as Record<string, unknown>[],
      training_seconds: trained.seconds.total,
    },
  });
  if (options.metricsFile) {
    writeFileAtomicSync(
      options.metricsFile,
      `${JSON.stringify(
        {
          validation_accuracy: trained.validation.accuracy,
          validation_auc: trained.validation.auc,
          validation_f1: trained.validation.f1,
          validation_log_loss: trained.validation.log_loss,
          epochs: trained.history.length,
          training_seconds: Number(trained.seconds.total.toFixed(3)),
          model_bytes: card.sizes.model_bytes,
        },
        null,
        2,
      )}\n`,
    );
  }
  return { trained, card };
}
