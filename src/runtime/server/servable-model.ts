/**
 * What the server needs of a loaded model: its preprocessing, labels and vocabulary, and one
 * call that scores a batch of documents (feature ids) — `score` and `logit` from a single ONNX
 * Runtime run. `loadTextModel` adapts a ledge text-classifier bundle; tests and other model
 * kinds give their own `ModelLoader` to the server.
 */
import os from 'node:os';
import { Tensor } from 'onnxruntime-node';
import type { ModelCard, ReferenceProfile } from '../model/bundle-format.js';
import { TextModel } from '../model/text-model.js';
import type { FeatureConfig } from '../text/features.js';
import type { KerasWordIndex } from '../text/keras-word-index.js';
import { knownTokensOf, type PreparedText, prepareTextWith } from './prepare-text.js';

export type { PreparedText } from './prepare-text.js';

export interface ModelOutputs {
  /** Probability of the second label, per document. */
  score: Float32Array;
  logit: Float32Array;
}

export interface ServableModel {
  readonly labels: readonly string[];
  readonly vocabulary: KerasWordIndex;
  readonly features: FeatureConfig;
  readonly card: ModelCard;
  /** The reference distributions drift is measured against (the bundle's profile.json). */
  readonly profile?: ReferenceProfile | undefined;
  /** The ONNX input and output names (the Open Inference Protocol tensors). */
  readonly tensors: { input: string; score: string; logit: string };
  /** Scores a batch of documents given as feature ids, in one model call. */
  run(docs: Int32Array[]): Promise<ModelOutputs>;
  close(): Promise<void>;
}

/** Loads a model from a bundle directory or archive. */
export type ModelLoader = (location: string) => Promise<ServableModel>;

const LITTLE_ENDIAN = os.endianness() === 'LE';

/**
 * Documents as the model's int64 `[batch, seq]` input, padded with 0. Ids are non-negative
 * int32s, so on little-endian machines each int64 is written as its low 32-bit word (the high
 * word stays 0) — no BigInt per id.
 */
export function packIds(docs: readonly Int32Array[]): { data: BigInt64Array; dims: [number, number] } {
  let seq = 1;
  for (const doc of docs) if (doc.length > seq) seq = doc.length;
  const data = new BigInt64Array(docs.length * seq);
  if (LITTLE_ENDIAN) {
    const words = new Int32Array(data.buffer);
    for (let row = 0; row < docs.length; row++) {
      const doc = docs[row]!;
      const offset = row * seq * 2;
      for (let i = 0; i < doc.length; i++) words[offset + 2 * i] = doc[i]!;
    }
  } else {
    for (let row = 0; row < docs.length; row++) {
      const doc = docs[row]!;
      for (let i = 0; i < doc.length; i++) data[row * seq + i] = BigInt(doc[i]!);
    }
  }
  return { data, dims: [docs.length, seq] };
}

/** A ledge text-classifier bundle (directory or `.ledgemodel` archive) in ONNX Runtime. */
export async function loadTextModel(location: string): Promise<ServableModel> {
  const model = await TextModel.load(location);
  knownTokensOf(model.vocabulary, model.preprocessing.features.seed);
  const tensors = {
    input: model.preprocessing.input.name,
    score: model.preprocessing.outputs.score,
    logit: model.preprocessing.outputs.logit,
  };
  const hasLogit = model.session.outputNames.includes(tensors.logit);
  const fetches = hasLogit ? [tensors.score, tensors.logit] : [tensors.score];
  return {
    labels: model.labels,
    vocabulary: model.vocabulary,
    features: model.preprocessing.features,
    card: model.card,
    profile: model.profile,
    tensors,
    async run(docs) {
      if (docs.length === 0) return { score: new Float32Array(0), logit: new Float32Array(0) };
      const batch = packIds(docs);
      const output = await model.session.run(
        { [tensors.input]: new Tensor('int64', batch.data, batch.dims) },
        fetches,
      );
      const score = output[tensors.score]!.data as Float32Array;
      const logit = hasLogit
        ? (output[tensors.logit]!.data as Float32Array)
        : score.map((s) => Math.log(s / (1 - s)));
      return { score, logit };
    },
    close: () => model.close(),
  };
}

/**
 * Tokenizes and hashes once: feature ids, token count and out-of-vocabulary rate of one text
 * (prepare-text.ts), on this thread.
 */
export function prepareText(model: ServableModel, text: string, withStatistics: boolean): PreparedText {
  return prepareTextWith(
    model.features,
    knownTokensOf(model.vocabulary, model.features.seed),
    text,
    withStatistics,
  );
}
