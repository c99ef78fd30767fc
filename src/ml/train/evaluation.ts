/**
 * Binary classification metrics from scores (probability of the positive class) and labels:
 * accuracy, precision, recall, F1, ROC AUC, log loss and the confusion matrix.
 */

export interface BinaryMetrics {
  examples: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  auc: number;
  log_loss: number;
  confusion: { tp: number; fp: number; tn: number; fn: number };
}

const EPS = 1e-7;

export function binaryMetrics(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold = 0.5,
): BinaryMetrics {
  const n = labels.length;
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - EPS, Math.max(EPS, scores[i]!));
    const y = labels[i]!;
    loss -= y === 1 ? Math.log(p) : Math.log(1 - p);
    const predicted = scores[i]! >= threshold;
    if (predicted && y === 1) tp++;
    else if (predicted) fp++;
    else if (y === 1) fn++;
    else tn++;
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  return {
    examples: n,
    accuracy: n === 0 ? 0 : (tp + tn) / n,
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
    auc: rocAuc(scores, labels),
    log_loss: n === 0 ? 0 : loss / n,
    confusion: { tp, fp, tn, fn },
  };
}

/** Area under the ROC curve (the Mann–Whitney statistic, ties counted half). */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const rank = (i + j) / 2 + 1; // average rank of the tied group
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}
