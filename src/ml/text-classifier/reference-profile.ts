/**
 * The reference profile saved with a model: how its inputs and outputs were distributed on
 * held-out data (tokens per review, share of words outside the training vocabulary, scores), so
 * a device can tell later when live traffic drifts away from it.
 */
import type { ReferenceProfile } from '../../runtime/model/bundle-format.js';
import { histogram, linearEdges, quantileEdges } from '../../runtime/model/histogram.js';
import { tokenize } from '../../runtime/text/tokenizer.js';

export interface ProfileInput {
  texts: string[];
  scores: ArrayLike<number>;
  labels: string[];
  /** Whether a word belongs to the training vocabulary. */
  inVocabulary: (word: string) => boolean;
}

/** Tokens per text and the share of them outside the vocabulary. */
export function inputStatistics(
  texts: string[],
  inVocabulary: (word: string) => boolean,
): { tokenCounts: Float64Array; oovRates: Float64Array } {
  const tokenCounts = new Float64Array(texts.length);
  const oovRates = new Float64Array(texts.length);
  texts.forEach((text, i) => {
    const tokens = tokenize(text);
    let unknown = 0;
    for (const token of tokens) if (!inVocabulary(token)) unknown++;
    tokenCounts[i] = tokens.length;
    oovRates[i] = tokens.length === 0 ? 0 : unknown / tokens.length;
  });
  return { tokenCounts, oovRates };
}

export function referenceProfile(input: ProfileInput): ReferenceProfile {
  const { tokenCounts, oovRates } = inputStatistics(input.texts, input.inVocabulary);
  const labels: Record<string, number> = {};
  for (const label of input.labels) labels[label] = (labels[label] ?? 0) + 1 / input.labels.length;
  return {
    format: 'ledge.reference-profile',
    version: 1,
    examples: input.texts.length,
    tokenCount: histogram(tokenCounts, quantileEdges(tokenCounts, 10)),
    oovRate: histogram(oovRates, quantileEdges(oovRates, 10)),
    score: histogram(input.scores, linearEdges(0, 1, 10)),
    labels,
  };
}
