/**
 * A real IMDB model for monitoring tests: the bundled 2,000-review sample split as the example
 * pipeline does, trained (2^16 buckets) on 1,200 of the 1,600 training reviews; every fourth
 * one (400, half of each label: the file is ordered by label) is held out as in-distribution traffic the model never saw (its reference profile comes
 * from the 400 validation reviews). Texts are scored in ONNX Runtime and turned into the
 * events the server sends to monitoring.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readLabeledTexts, writeLabeledTexts } from '../../../src/ml/text-classifier/labeled-texts.js';
import { runPrepareImdb } from '../../../src/ml/text-classifier/prepare-imdb.js';
import { runTrain } from '../../../src/ml/text-classifier/train-command.js';
import { shuffleInPlace } from '../../../src/ml/train/seeded-random.js';
import type { ReferenceProfile } from '../../../src/runtime/model/bundle-format.js';
import { TextModel } from '../../../src/runtime/model/text-model.js';
import type { PredictionEvent } from '../../../src/runtime/monitoring/monitor.js';
import { OOV_INDEX } from '../../../src/runtime/text/keras-word-index.js';
import { tokenize } from '../../../src/runtime/text/tokenizer.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const sample = path.join(repo, 'examples', 'imdb', 'data', 'aclImdb_sample.tar.gz');

export interface ImdbFixture {
  model: TextModel;
  profile: ReferenceProfile;
  /** Training reviews the model was not trained on. */
  heldOut: string[];
  validation: string[];
  events(texts: string[], version: string, idPrefix: string): Promise<PredictionEvent[]>;
  close(): Promise<void>;
}

export async function imdbFixture(): Promise<ImdbFixture> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-monitoring-model-'));
  await runPrepareImdb({ source: sample, out: path.join(root, 'prepared') });
  const train = readLabeledTexts(path.join(root, 'prepared', 'train.jsonl'));
  const validationFile = path.join(root, 'prepared', 'validation.jsonl');
  const heldOut = train.filter((_, i) => i % 4 === 3);
  writeLabeledTexts(
    path.join(root, 'train-1200.jsonl'),
    train.filter((_, i) => i % 4 !== 3),
  );
  fs.writeFileSync(path.join(root, 'params.yaml'), 'train:\n  bits: 16\n');
  runTrain({
    trainFile: path.join(root, 'train-1200.jsonl'),
    validationFile,
    paramsFile: path.join(root, 'params.yaml'),
    out: path.join(root, 'model'),
    name: 'imdb-sentiment',
    labels: ['neg', 'pos'],
    vocabularySize: 20_000,
  });
  const model = await TextModel.load(path.join(root, 'model'));
  return {
    model,
    profile: model.profile,
    heldOut: heldOut.map((e) => e.text),
    validation: readLabeledTexts(validationFile).map((e) => e.text),
    async events(texts, version, idPrefix) {
      const predictions = await model.predict(texts);
      return texts.map((text, i) => {
        const tokens = tokenize(text);
        let unknown = 0;
        for (const token of tokens) if (model.vocabulary.indexOf(token) === OOV_INDEX) unknown++;
        return {
          id: `${idPrefix}-${i}`,
          model: 'imdb-sentiment',
          version,
          text,
          tokens: tokens.length,
          oovRate: tokens.length === 0 ? 0 : unknown / tokens.length,
          score: predictions[i]!.score,
          label: predictions[i]!.label,
        };
      });
    },
    async close() {
      await model.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

const FOREIGN = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed eiusmod tempor incididunt labore dolore ' +
  'magna aliqua veniam quis nostrud exercitation ullamco laboris nisi aliquip commodo consequat ' +
  'schmetterling eichhörnchen kühlschrank fernsehsendung handschuh geschwindigkeit übermorgen ' +
  'wohnzimmer regenschirm zeitschrift bürgersteig streichholz'
).split(' ');

/** Each review's tokens in a random order (same tokens, so same length and OOV rate; no phrases left). */
export function shuffledWords(texts: string[], random: () => number): string[] {
  return texts.map((text) => {
    return shuffleInPlace(tokenize(text), random).join(' ');
  });
}

/** Every other word replaced with a Latin or German one the model has never seen. */
export function foreignWords(texts: string[], random: () => number): string[] {
  return texts.map((text) =>
    text
      .split(/\s+/)
      .map((word, i) => (i % 2 === 0 ? FOREIGN[Math.floor(random() * FOREIGN.length)]! : word))
      .join(' '),
  );
}

/** The first few words of each review. */
export function shortTexts(texts: string[], words = 6): string[] {
  return texts.map((text) => text.split(/\s+/).slice(0, words).join(' '));
}
