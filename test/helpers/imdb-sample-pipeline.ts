/**
 * The first two stages of a pipeline on the bundled 2,000-review IMDB sample (prepare, then
 * train into models/imdb-sentiment), for tests that follow a model from data to a deployment;
 * each test appends the stages it is about.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const IMDB_SAMPLE = path.join(repo, 'examples', 'imdb', 'data', 'aclImdb_sample.tar.gz');

/** `ledge.yaml` text with `stages:`, prepare and train; append more stages indented by two spaces. */
export const PREPARE_AND_TRAIN = `stages:
  prepare:
    cmd: ledge imdb prepare --source ${IMDB_SAMPLE} --out data/prepared --params params.yaml
    params: [prepare.seed]
    outs: [data/prepared]
  train:
    cmd: >-
      ledge train --train data/prepared/train.jsonl --validation data/prepared/validation.jsonl
      --params params.yaml --name imdb-sentiment --out models/imdb-sentiment
    deps: [data/prepared]
    params: [train.bits, train.epochs]
    outs: [models/imdb-sentiment]
`;
