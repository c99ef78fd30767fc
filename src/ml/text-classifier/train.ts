/**
 * Trains ledge's text classifier end to end in memory: features for every example (the
 * runtime's featurizer, so serving computes the same ids), NB-LR training with per-epoch
 * metrics, validation metrics from the final model, and the reference profile.
 */
import { z } from 'zod';
import type { ReferenceProfile } from '../../runtime/model/bundle-format.js';
import { DEFAULT_FEATURES, type FeatureConfig, featurize } from '../../runtime/text/features.js';
import { type BinaryMetrics, binaryMetrics } from '../train/evaluation.js';
import {
  DEFAULT_NB_LOGISTIC,
  type EpochMetrics,
  type LinearModel,
  linearScore,
  type NbLogisticParams,
  type TrainingExample,
  trainNbLogistic,
} from '../train/nb-logistic.js';
import type { LabeledText } from './labeled-texts.js';
import { referenceProfile } from './reference-profile.js';

/** The `train:` section of params.yaml, with its defaults. */
export const trainParamsSchema = z
  .object({
    ngrams: z.number().int().min(1).max(4).default(DEFAULT_FEATURES.ngrams),
    bits: z.number().int().min(10).max(24).default(22),
    alpha: z.number().nonnegative().default(DEFAULT_NB_LOGISTIC.alpha),
    learning_rate: z.number().positive().default(DEFAULT_NB_LOGISTIC.learningRate),
    l2: z.number().nonnegative().default(DEFAULT_NB_LOGISTIC.l2),
    epochs: z.number().int().min(1).max(100).default(DEFAULT_NB_LOGISTIC.epochs),
    seed: z.number().int().default(DEFAULT_NB_LOGISTIC.seed),
    nb_weighting: z.boolean().default(true),
  })
  .strict();

export type TrainParams = z.infer<typeof trainParamsSchema>;

export interface TrainedTextClassifier {
  model: LinearModel;
  features: FeatureConfig;
  labels: [string, string];
  params: TrainParams;
  history: EpochMetrics[];
  validation: BinaryMetrics;
  profile: ReferenceProfile;
  seconds: { features: number; training: number; total: number };
}

export interface TrainInput {
  train: LabeledText[];
  validation: LabeledText[];
  /** The two labels, negative first: `score` is the probability of the second. */
  labels: [string, string];
  params: TrainParams;
  inVocabulary: (word: string) => boolean;
  onEpoch?: (metrics: EpochMetrics) => void;
}

function examplesOf(
  texts: LabeledText[],
  labels: [string, string],
  features: FeatureConfig,
): TrainingExample[] {
  return texts.map((example, i) => {
    const label = labels.indexOf(example.label);
    if (label < 0) {
      throw new Error(`example ${i + 1} has label '${example.label}', not one of ${labels.join(', ')}`);
    }
    return { ids: featurize(example.text, features), label: label as 0 | 1 };
  });
}

export function trainTextClassifier(input: TrainInput): TrainedTextClassifier {
  const started = performance.now();
  const features: FeatureConfig = {
    ...DEFAULT_FEATURES,
    ngrams: input.params.ngrams,
    buckets: 2 ** input.params.bits,
  };
  const train = examplesOf(input.train, input.labels, features);
  const validation = examplesOf(input.validation, input.labels, features);
  const featured = performance.now();
  const trainer: NbLogisticParams = {
    alpha: input.params.alpha,
    learningRate: input.params.learning_rate,
    l2: input.params.l2,
    epochs: input.params.epochs,
    seed: input.params.seed,
    nbWeighting: input.params.nb_weighting,
  };
  const { model, history } = trainNbLogistic(train, validation, features.buckets, trainer, input.onEpoch);
  const trained = performance.now();
  const scores = validation.map((example) => linearScore(example.ids, model));
  const metrics = binaryMetrics(
    scores,
    validation.map((example) => example.label),
  );
  const profile = referenceProfile({
    texts: input.validation.map((e) => e.text),
    scores,
    labels: input.validation.map((e) => e.label),
    inVocabulary: input.inVocabulary,
  });
  return {
    model,
    features,
    labels: input.labels,
    params: input.params,
    history,
    validation: metrics,
    profile,
    seconds: {
      features: (featured - started) / 1000,
      training: (trained - featured) / 1000,
      total: (performance.now() - started) / 1000,
    },
  };
}
