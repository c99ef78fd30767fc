/**
 * A text as the model sees it, and the input statistics monitoring compares with the model's
 * reference profile: tokenized and hashed once, feature ids from the hashes, the token count,
 * and the out-of-vocabulary rate from the same hashes (see `KnownTokenHashes`). Pure, and free
 * of ONNX Runtime, so preprocessing threads (preprocess-worker.ts) run exactly this code.
 */
import { type FeatureConfig, featuresOfHashes, hashTokens } from '../text/features.js';
import type { KerasWordIndex } from '../text/keras-word-index.js';
import { KnownTokenHashes } from '../text/known-tokens.js';
import { tokenize } from '../text/tokenizer.js';

export interface PreparedText {
  ids: Int32Array;
  tokens: number;
  /** Share of the tokens the training vocabulary does not know (0 without statistics). */
  oovRate: number;
}

export function prepareTextWith(
  features: FeatureConfig,
  known: KnownTokenHashes,
  text: string,
  withStatistics: boolean,
): PreparedText {
  const tokens = tokenize(text);
  const hashes = hashTokens(tokens, features.seed);
  const ids = featuresOfHashes(hashes, features);
  if (!withStatistics || tokens.length === 0) return { ids, tokens: tokens.length, oovRate: 0 };
  return { ids, tokens: tokens.length, oovRate: known.countUnknown(hashes) / tokens.length };
}

const knownTokenSets = new WeakMap<KerasWordIndex, Map<number, KnownTokenHashes>>();

/** The vocabulary's words as token hashes (built once per vocabulary and seed, ~10 ms for 88,000 words). */
export function knownTokensOf(vocabulary: KerasWordIndex, seed: number): KnownTokenHashes {
  let bySeed = knownTokenSets.get(vocabulary);
  if (!bySeed) {
    bySeed = new Map();
    knownTokenSets.set(vocabulary, bySeed);
  }
  let known = bySeed.get(seed);
  if (!known) {
    known = KnownTokenHashes.of(vocabulary.knownWords(), seed);
    bySeed.set(seed, known);
  }
  return known;
}
