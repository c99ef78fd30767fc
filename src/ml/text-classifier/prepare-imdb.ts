/**
 * `ledge imdb prepare`: the IMDB reviews (from an archive, a directory or a URL) as the labelled
 * JSON lines the trainer reads, split deterministically into train and validation (and the
 * official test split, when the source has it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { writeFileAtomicSync } from '../../core/atomic-fs.js';
import { LedgeError } from '../../core/errors.js';
import type { Progress } from '../../core/progress.js';
import type { ObjectCache } from '../../store/object-cache.js';
import { loadImdb } from '../data/imdb.js';
import { describeImdbSource, resolveImdbSource } from '../data/imdb-source.js';
import { DEFAULT_VALIDATION_FRACTION, splitTrainValidation } from '../data/split.js';
import { writeLabeledTexts } from './labeled-texts.js';

export const prepareParamsSchema = z
  .object({
    validation_fraction: z.number().min(0).lt(1).default(DEFAULT_VALIDATION_FRACTION),
    seed: z.number().int().min(0).default(0),
  })
  .strict();

export interface PrepareOptions {
  source?: string | undefined;
  out: string;
  paramsFile?: string | undefined;
  cache?: ObjectCache | undefined;
  progress?: Progress | undefined;
}

function readPrepareParams(file: string | undefined) {
  if (!file || !fs.existsSync(file)) return prepareParamsSchema.parse({});
  const doc = (parse(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  const parsed = prepareParamsSchema.safeParse(doc.prepare ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new LedgeError('config', `${file}: prepare.${issue.path.join('.')}: ${issue.message}`, {
      hint: 'prepare: takes validation_fraction and seed',
    });
  }
  return parsed.data;
}

export async function runPrepareImdb(options: PrepareOptions) {
  const params = readPrepareParams(options.paramsFile);
  const source = resolveImdbSource(options.source);
  const reviews = await loadImdb(options.source, { cache: options.cache, progress: options.progress });
  const train = reviews.filter((r) => r.split === 'train');
  const test = reviews.filter((r) => r.split === 'test');
  if (train.length === 0) {
    throw new LedgeError('config', `${describeImdbSource(source)} has no training reviews`, {
      hint: 'give the aclImdb archive or directory (with train/pos and train/neg)',
    });
  }
  const split = splitTrainValidation(train, {
    validationFraction: params.validation_fraction,
    seed: params.seed,
  });
  fs.mkdirSync(options.out, { recursive: true });
  writeLabeledTexts(path.join(options.out, 'train.jsonl'), split.train);
  writeLabeledTexts(path.join(options.out, 'validation.jsonl'), split.validation);
  if (test.length > 0) writeLabeledTexts(path.join(options.out, 'test.jsonl'), test);
  const summary = {
    source: describeImdbSource(source),
    params,
    train: split.train.length,
    validation: split.validation.length,
    test: test.length,
  };
  writeFileAtomicSync(path.join(options.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
