/**
 * The trainer: a linear classifier over hashed word n-grams with Naive-Bayes log-count-ratio
 * feature weighting (NB-LR, after Wang & Manning's NBSVM), fitted by logistic-loss SGD with
 * per-feature adaptive steps (Adagrad) and L2 regularisation. Deterministic for a seed: the
 * example order of each epoch comes from a seeded PRNG, and all arithmetic runs in a fixed order.
 *
 * Features are binary (a document's unique ids). The NB ratio r_j = log(p_j/|p|) − log(q_j/|q|),
 * with p, q the smoothed counts of feature j in positive and negative documents, scales each
 * feature; the exported weight of feature j is w_j · r_j, so the model stays a plain linear
 * model: score = sigmoid(Σ_{j ∈ doc} weight_j + bias).
 */
import { binaryMetrics } from './evaluation.js';
import { seededRandom, shuffleInPlace } from './seeded-random.js';

export interface TrainingExample {
  /** Unique, sorted feature ids in [1, buckets). */
  ids: Int32Array;
  label: 0 | 1;
}

export interface NbLogisticParams {
  /** Smoothing of the NB counts (0 turns NB weighting off: a plain logistic regression). */
  alpha: number;
  learningRate: number;
  l2: number;
  epochs: number;
  seed: number;
  /** Use the NB log-count ratio to scale features (true: NB-LR; false: plain LR). */
  nbWeighting: boolean;
}

export const DEFAULT_NB_LOGISTIC: NbLogisticParams = {
  alpha: 1,
  learningRate: 0.02,
  l2: 1e-6,
  epochs: 2,
  seed: 1,
  nbWeighting: true,
};

export interface EpochMetrics {
  epoch: number;
  train_loss: number;
  train_accuracy: number;
  validation_loss: number;
  validation_accuracy: number;
  seconds: number;
}

export interface LinearModel {
  /** Weight per feature id (index 0, padding, is 0). */
  weights: Float32Array;
  bias: number;
}

/** Σ weights[ids] + bias: the logit the ONNX graph computes (padding ids add weights[0] = 0). */
export function linearLogit(ids: ArrayLike<number>, model: LinearModel): number {
  let sum = 0;
  for (let i = 0; i < ids.length; i++) sum += model.weights[ids[i]!]!;
  return sum + Math.fround(model.bias);
}

/** sigmoid(Σ weights[ids] + bias): the reference of the ONNX graph's `score`. */
export function linearScore(ids: ArrayLike<number>, model: LinearModel): number {
  return 1 / (1 + Math.exp(-linearLogit(ids, model)));
}

/** The NB log-count ratio of every feature, from the training examples. */
function logCountRatio(examples: TrainingExample[], buckets: number, alpha: number): Float32Array {
  const pos = new Float64Array(buckets).fill(alpha);
  const neg = new Float64Array(buckets).fill(alpha);
  for (const example of examples) {
    const counts = example.label === 1 ? pos : neg;
    for (let i = 0; i < example.ids.length; i++) counts[example.ids[i]!]! += 1;
  }
  let sumPos = 0;
  let sumNeg = 0;
  for (let j = 1; j < buckets; j++) {
    sumPos += pos[j]!;
    sumNeg += neg[j]!;
  }
  const ratio = new Float32Array(buckets);
  const offset = Math.log(sumNeg) - Math.log(sumPos);
  for (let j = 1; j < buckets; j++) ratio[j] = Math.log(pos[j]!) - Math.log(neg[j]!) + offset;
  return ratio;
}

export function trainNbLogistic(
  train: TrainingExample[],
  validation: TrainingExample[],
  buckets: number,
  params: NbLogisticParams,
  onEpoch?: (metrics: EpochMetrics) => void,
): { model: LinearModel; history: EpochMetrics[] } {
  const scale =
    params.nbWeighting && params.alpha > 0
      ? logCountRatio(train, buckets, params.alpha)
      : new Float32Array(buckets).fill(1);
  scale[0] = 0;
  const w = new Float32Array(buckets);
  const squaredGradients = new Float32Array(buckets).fill(1e-8);
  let bias = 0;
  let biasSquaredGradient = 1e-8;
  const random = seededRandom(params.seed);
  const order = Array.from({ length: train.length }, (_, i) => i);
  const history: EpochMetrics[] = [];
  const lr = params.learningRate;

  const margin = (ids: Int32Array) => {
    let z = bias;
    for (let i = 0; i < ids.length; i++) {
      const j = ids[i]!;
      z += w[j]! * scale[j]!;
    }
    return z;
  };

  for (let epoch = 1; epoch <= params.epochs; epoch++) {
    const started = performance.now();
    shuffleInPlace(order, random);
    let loss = 0;
    let correct = 0;
    for (const index of order) {
      const { ids, label } = train[index]!;
      const z = margin(ids);
      const p = 1 / (1 + Math.exp(-z));
      loss += label === 1 ? softplus(-z) : softplus(z);
      if (p >= 0.5 === (label === 1)) correct++;
      const g = p - label;
      for (let i = 0; i < ids.length; i++) {
        const j = ids[i]!;
        const gj = g * scale[j]! + params.l2 * w[j]!;
        squaredGradients[j]! += gj * gj;
        w[j]! -= (lr * gj) / Math.sqrt(squaredGradients[j]!);
      }
      biasSquaredGradient += g * g;
      bias -= (lr * g) / Math.sqrt(biasSquaredGradient);
    }
    const scores = validation.map((example) => 1 / (1 + Math.exp(-margin(example.ids))));
    const evaluated = binaryMetrics(
      scores,
      validation.map((example) => example.label),
    );
    const metrics: EpochMetrics = {
      epoch,
      train_loss: train.length === 0 ? 0 : loss / train.length,
      train_accuracy: train.length === 0 ? 0 : correct / train.length,
      validation_loss: evaluated.log_loss,
      validation_accuracy: evaluated.accuracy,
      seconds: (performance.now() - started) / 1000,
    };
    history.push(metrics);
    onEpoch?.(metrics);
  }
  // Fold the NB scaling into the weights: the exported model is a plain linear model.
  const weights = new Float32Array(buckets);
  for (let j = 1; j < buckets; j++) weights[j] = w[j]! * scale[j]!;
  return { model: { weights, bias }, history };
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return x > 30 ? x : Math.log1p(Math.exp(x));
}
