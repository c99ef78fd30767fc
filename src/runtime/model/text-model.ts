/**
 * A text classifier bundle loaded for inference: preprocessing in TypeScript (the same module
 * the trainer used), the graph in ONNX Runtime. Used by `ledge predict`, evaluation and the
 * inference server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { LedgeError } from '../../core/errors.js';
import { featurize, toInputBatch } from '../text/features.js';
import { KerasWordIndex } from '../text/keras-word-index.js';
import { isBundleArchive, unpackBundle } from './bundle-archive.js';
import {
  BUNDLE_FILES,
  type ModelCard,
  type PreprocessingConfig,
  type ReferenceProfile,
} from './bundle-format.js';

export interface Prediction {
  label: string;
  /** Probability of the positive (second) label. */
  score: number;
}

function readJson<T>(dir: string, name: string): T {
  const file = path.join(dir, name);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new LedgeError(
      'corrupt-object',
      `model bundle ${dir}: cannot read ${name}: ${(error as Error).message}`,
      {
        hint: 'a bundle holds model.onnx, preprocessing.json, labels.json, vocabulary.json, model-card.json and profile.json',
      },
    );
  }
}

export class TextModel {
  private constructor(
    readonly dir: string,
    readonly session: InferenceSession,
    readonly preprocessing: PreprocessingConfig,
    readonly labels: string[],
    readonly vocabulary: KerasWordIndex,
    readonly card: ModelCard,
    readonly profile: ReferenceProfile,
  ) {}

  /** Loads a bundle directory, or a bundle archive (unpacked once into a cache directory). */
  static async load(location: string, options: { threads?: number } = {}): Promise<TextModel> {
    const dir =
      isBundleArchive(location) && fs.statSync(location, { throwIfNoEntry: false })?.isFile()
        ? await unpackBundle(location)
        : location;
    if (!fs.existsSync(path.join(dir, BUNDLE_FILES.model))) {
      throw new LedgeError('path-not-found', `${dir} is not a model bundle (no ${BUNDLE_FILES.model})`, {
        hint: 'give a bundle directory written by `ledge train`, or a registered model name@version',
      });
    }
    const preprocessing = readJson<PreprocessingConfig>(dir, BUNDLE_FILES.preprocessing);
    const labels = readJson<string[]>(dir, BUNDLE_FILES.labels);
    const vocabulary = KerasWordIndex.fromJSON(readJson<unknown>(dir, BUNDLE_FILES.vocabulary));
    const card = readJson<ModelCard>(dir, BUNDLE_FILES.card);
    const profile = readJson<ReferenceProfile>(dir, BUNDLE_FILES.profile);
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(path.join(dir, BUNDLE_FILES.model), {
        intraOpNumThreads: options.threads ?? 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
    } catch (error) {
      throw new LedgeError(
        'corrupt-object',
        `ONNX Runtime cannot load ${path.join(dir, BUNDLE_FILES.model)}: ${(error as Error).message}`,
        {
          hint: 'check the file with `ledge model import --dry-run`, or re-export it',
        },
      );
    }
    return new TextModel(dir, session, preprocessing, labels, vocabulary, card, profile);
  }

  /** Feature ids of a text, as the model consumes them. */
  features(text: string): Int32Array {
    return featurize(text, this.preprocessing.features);
  }

  /** Scores (probability of the positive label) for documents given as feature ids. */
  async scoreIds(docs: Int32Array[]): Promise<Float32Array> {
    if (docs.length === 0) return new Float32Array(0);
    const batch = toInputBatch(docs);
    const feeds = { [this.preprocessing.input.name]: new Tensor('int64', batch.data, batch.dims) };
    const output = await this.session.run(feeds, [this.preprocessing.outputs.score]);
    return output[this.preprocessing.outputs.score]!.data as Float32Array;
  }

  async predict(texts: string[]): Promise<Prediction[]> {
    const scores = await this.scoreIds(texts.map((text) => this.features(text)));
    return Array.from(scores, (score) => ({ label: this.labels[score >= 0.5 ? 1 : 0]!, score }));
  }

  /** Keras-style integer sequences (decoded with the training vocabulary) → predictions. */
  async predictSequences(sequences: number[][]): Promise<Prediction[]> {
    return this.predict(sequences.map((sequence) => this.vocabulary.decode(sequence)));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
