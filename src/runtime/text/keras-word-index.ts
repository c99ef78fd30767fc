/**
 * The integer encoding of Keras's `imdb` dataset (`keras.datasets.imdb.load_data`), so data and
 * models of that form interoperate with ledge:
 *
 * - words are ranked by their frequency in the training texts, rank 1 = most frequent (ties
 *   broken by the word, in code-unit order, so the index is deterministic);
 * - a word's index is its rank + 3 (`index_from=3`), so the most frequent word is 4; 0 is
 *   padding, 1 marks the start of a sequence, 2 stands for a word out of the vocabulary, 3 is
 *   unused;
 * - with `numWords`, every index ≥ numWords becomes 2, as Keras does.
 *
 * Texts are split by the shared `tokenize()`, the tokenizer of training and serving. Keras's own
 * published `imdb_word_index.json` (`{word: rank}`) is accepted by `fromKerasWordIndex`; its
 * words came from a different tokenizer, so a few tokens of ours (`!`, `?`) are out of it.
 */
import { LedgeError } from '../../core/errors.js';
import { tokenize } from './tokenizer.js';

export const PAD_INDEX = 0;
export const START_INDEX = 1;
export const OOV_INDEX = 2;
/** Keras's `index_from`: a word of rank r is encoded as r + INDEX_FROM. */
export const INDEX_FROM = 3;
/** What `decode` shows for index 2, and for an index the vocabulary does not have. */
export const OOV_TOKEN = '[oov]';

/** The saved form (`toJSON`): words in rank order, `words[0]` being rank 1; null marks a gap. */
export interface KerasWordIndexJson {
  format: 'keras-imdb-word-index';
  version: 1;
  indexFrom: typeof INDEX_FROM;
  numWords: number | null;
  words: (string | null)[];
}

export interface KerasIndexOptions {
  /** Keep only indices < numWords; rarer words encode as 2 (Keras's `num_words`). */
  numWords?: number | undefined;
}

export class KerasWordIndex {
  /** Words by rank: `words[r - 1]` has rank r. */
  private readonly words: readonly (string | null)[];
  private readonly ranks: ReadonlyMap<string, number>;
  readonly numWords: number | undefined;

  private constructor(words: readonly (string | null)[], numWords: number | undefined) {
    if (numWords !== undefined && (!Number.isInteger(numWords) || numWords <= INDEX_FROM)) {
      throw new LedgeError('usage', `numWords must be an integer > ${INDEX_FROM}, not ${numWords}`, {
        hint: 'Keras counts the reserved indices 0..3 in num_words; e.g. 10000 keeps 9,996 words',
      });
    }
    const ranks = new Map<string, number>();
    words.forEach((word, i) => {
      if (word === null) return;
      if (ranks.has(word)) {
        throw new LedgeError(
          'usage',
          `word index: '${word}' has two ranks (${ranks.get(word)} and ${i + 1})`,
        );
      }
      ranks.set(word, i + 1);
    });
    this.words = words;
    this.ranks = ranks;
    this.numWords = numWords;
  }

  /** Ranks every token of `texts` by frequency (the training texts, not validation or test). */
  static fromTexts(texts: Iterable<string>, options: KerasIndexOptions = {}): KerasWordIndex {
    const counts = new Map<string, number>();
    for (const text of texts) {
      for (const token of tokenize(text)) counts.set(token, (counts.get(token) ?? 0) + 1);
    }
    const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const keep =
      options.numWords === undefined ? ranked.length : Math.max(0, options.numWords - INDEX_FROM - 1);
    return new KerasWordIndex(
      ranked.slice(0, keep).map(([word]) => word),
      options.numWords,
    );
  }

  /** Keras's published `imdb_word_index.json`: `{word: rank}`, ranks from 1. */
  static fromKerasWordIndex(index: unknown, options: KerasIndexOptions = {}): KerasWordIndex {
    if (typeof index !== 'object' || index === null || Array.isArray(index)) {
      throw new LedgeError('usage', 'Keras word index: expected an object {word: rank}');
    }
    const words: (string | null)[] = [];
    for (const [word, rank] of Object.entries(index)) {
      if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 1 || rank > 10_000_000) {
        throw new LedgeError('usage', `Keras word index: '${word}' has rank ${JSON.stringify(rank)}`, {
          hint: 'ranks are positive integers, 1 for the most frequent word',
        });
      }
      if (words[rank - 1] !== undefined && words[rank - 1] !== null) {
        throw new LedgeError(
          'usage',
          `Keras word index: rank ${rank} is given to '${words[rank - 1]}' and '${word}'`,
        );
      }
      while (words.length < rank - 1) words.push(null);
      words[rank - 1] = word;
    }
    return new KerasWordIndex(
      Array.from(words, (w) => w ?? null),
      options.numWords,
    );
  }

  /** The saved form, as written by `toJSON`. */
  static fromJSON(json: unknown): KerasWordIndex {
    const j = json as Partial<KerasWordIndexJson> | null;
    const bad = (what: string) =>
      new LedgeError('corrupt-object', `Keras word index: ${what}`, {
        hint: 'expected the JSON written by KerasWordIndex.toJSON()',
      });
    if (typeof j !== 'object' || j === null || j.format !== 'keras-imdb-word-index')
      throw bad('unknown format');
    if (j.version !== 1) throw bad(`unsupported version ${JSON.stringify(j.version)}`);
    if (j.indexFrom !== INDEX_FROM) throw bad(`indexFrom must be ${INDEX_FROM}`);
    if (j.numWords !== null && typeof j.numWords !== 'number') throw bad('numWords must be a number or null');
    if (!Array.isArray(j.words) || !j.words.every((w) => w === null || typeof w === 'string')) {
      throw bad('words must be an array of strings');
    }
    return new KerasWordIndex(j.words, j.numWords ?? undefined);
  }

  toJSON(): KerasWordIndexJson {
    return {
      format: 'keras-imdb-word-index',
      version: 1,
      indexFrom: INDEX_FROM,
      numWords: this.numWords ?? null,
      words: [...this.words],
    };
  }

  /** Keras's `{word: rank}` form (the shape of `imdb_word_index.json`). */
  toKerasWordIndex(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [word, rank] of this.ranks) out[word] = rank;
    return out;
  }

  /** Words with a rank (also those at or beyond numWords). */
  get size(): number {
    return this.ranks.size;
  }

  /** The words `indexOf` knows (rank within numWords), most frequent first. */
  *knownWords(): IterableIterator<string> {
    for (const [word, rank] of this.ranks) {
      if (this.numWords === undefined || rank + INDEX_FROM < this.numWords) yield word;
    }
  }

  /** The index of one word, applying numWords: 2 when it is unknown or too rare. */
  indexOf(word: string): number {
    const rank = this.ranks.get(word);
    if (rank === undefined) return OOV_INDEX;
    const index = rank + INDEX_FROM;
    return this.numWords !== undefined && index >= this.numWords ? OOV_INDEX : index;
  }

  /** The word an index stands for, or undefined for 0, 1, 2 and indices out of the vocabulary. */
  wordAt(index: number): string | undefined {
    if (!Number.isInteger(index) || index < INDEX_FROM) return undefined;
    return this.words[index - INDEX_FROM - 1] ?? undefined;
  }

  /** `[1, index(token)…]` for the tokens of `text`. */
  encode(text: string): number[] {
    return this.encodeTokens(tokenize(text));
  }

  encodeTokens(tokens: readonly string[]): number[] {
    const out = new Array<number>(tokens.length + 1);
    out[0] = START_INDEX;
    for (let i = 0; i < tokens.length; i++) out[i + 1] = this.indexOf(tokens[i]!);
    return out;
  }

  /** The words of a sequence, space-separated: padding and start markers skipped, 2 as `[oov]`. */
  decode(sequence: Iterable<number | bigint>): string {
    const words: string[] = [];
    for (const raw of sequence) {
      const index = Number(raw);
      if (index === PAD_INDEX || index === START_INDEX) continue;
      words.push(this.wordAt(index) ?? OOV_TOKEN);
    }
    return words.join(' ');
  }
}

export interface PadOptions {
  /** Where padding goes: before the sequence (Keras's default) or after. */
  padding?: 'pre' | 'post';
  /** Which end a too-long sequence loses: the start (Keras's default) or the end. */
  truncating?: 'pre' | 'post';
  value?: number;
}

/** Keras's `pad_sequences`: every sequence made exactly `maxLength` long. */
export function padSequences(
  sequences: readonly (readonly number[])[],
  maxLength: number,
  options: PadOptions = {},
): number[][] {
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new LedgeError('usage', `maxLength must be a positive integer, not ${maxLength}`);
  }
  const { padding = 'pre', truncating = 'pre', value = PAD_INDEX } = options;
  return sequences.map((sequence) => {
    const kept =
      sequence.length <= maxLength
        ? sequence
        : truncating === 'pre'
          ? sequence.slice(sequence.length - maxLength)
          : sequence.slice(0, maxLength);
    const pad = new Array<number>(maxLength - kept.length).fill(value);
    return padding === 'pre' ? [...pad, ...kept] : [...kept, ...pad];
  });
}
