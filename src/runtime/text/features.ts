/**
 * Tokens → feature ids: hashed word n-grams (the "hashing trick"), the model input of ledge's
 * text classifiers. The configuration is saved with every model, so training, batch
 * prediction and serving compute exactly the same ids.
 *
 * Id 0 is padding; n-gram ids fall in [1, buckets). A document's ids are unique and sorted
 * (presence, not counts: the classifier is trained on binarized features).
 */
import { tokenize } from './tokenizer.js';

export interface FeatureConfig {
  kind: 'hashed-ngrams';
  version: 1;
  /** Longest n-gram: 1 = words, 2 = words and word pairs, 3 = up to triples. */
  ngrams: number;
  /** Size of the id space, padding included (ids are 1 … buckets-1). */
  buckets: number;
  /** Hash seed, so differently seeded models use different collisions. */
  seed: number;
  /** At most this many ids per document (the longest reviews are cut; 0 = no limit). */
  maxIds: number;
}

export const DEFAULT_FEATURES: FeatureConfig = {
  kind: 'hashed-ngrams',
  version: 1,
  ngrams: 2,
  buckets: 1 << 22,
  seed: 0x1ed9e,
  maxIds: 0,
};

/** FNV-1a (32-bit) of a token's UTF-16 code units. */
export function hashToken(token: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < token.length; i++) {
    h ^= token.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Murmur3's 32-bit finalizer: spreads the bits of a combined hash. */
function mix(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** `hashToken` of every token. */
export function hashTokens(tokens: readonly string[], seed: number): Uint32Array {
  const hashes = new Uint32Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) hashes[i] = hashToken(tokens[i]!, seed);
  return hashes;
}

/** Feature ids of a token list: sorted, unique, every n-gram up to `config.ngrams`. */
export function featuresOfTokens(tokens: readonly string[], config: FeatureConfig): Int32Array {
  return featuresOfHashes(hashTokens(tokens, config.seed), config);
}

/** Feature ids from the tokens' hashes (`hashTokens` with `config.seed`). */
export function featuresOfHashes(hashes: Uint32Array, config: FeatureConfig): Int32Array {
  const range = config.buckets - 1;
  const ids = new Int32Array(hashes.length * config.ngrams);
  let count = 0;
  for (let i = 0; i < hashes.length; i++) {
    let h = 0;
    for (let n = 0; n < config.ngrams && i + n < hashes.length; n++) {
      h = mix(Math.imul(h ^ hashes[i + n]!, 0x9e3779b1) + n);
      ids[count++] = 1 + (h % range);
    }
  }
  const sorted = ids.subarray(0, count).sort();
  let unique = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[unique++] = sorted[i]!;
  }
  const limit = config.maxIds > 0 ? Math.min(unique, config.maxIds) : unique;
  return sorted.slice(0, limit);
}

export function featurize(text: string, config: FeatureConfig): Int32Array {
  return featuresOfTokens(tokenize(text), config);
}

/**
 * Packs documents' ids into the model's input: int64 `[batch, seq]`, `seq` the longest
 * document, shorter rows padded with 0.
 */
export function toInputBatch(docs: Int32Array[]): { data: BigInt64Array; dims: [number, number] } {
  const seq = Math.max(1, ...docs.map((d) => d.length));
  const data = new BigInt64Array(docs.length * seq);
  docs.forEach((doc, row) => {
    const offset = row * seq;
    for (let i = 0; i < doc.length; i++) data[offset + i] = BigInt(doc[i]!);
  });
  return { data, dims: [docs.length, seq] };
}
