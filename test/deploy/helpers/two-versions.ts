/**
 * Two registered versions of one model for deploy tests: in a workspace made by
 * `trainTestModel` (its `model` bundle trained for 2 epochs) and `ledge init`, a second model
 * trained for 3 epochs; both registered as imdb-sentiment, the worse one as version 1, so
 * version 2 passes a quality gate against version 1.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runLedge } from '../../helpers/cli.js';

export interface TwoVersions {
  /** Bundle directories (relative to the workspace) of version 1 and version 2. */
  bundles: [string, string];
  /** Their validation accuracy, version 1 first (version 1 < version 2). */
  accuracy: [number, number];
}

export async function registerTwoVersions(root: string): Promise<TwoVersions> {
  const ledge = async (args: string[]) => {
    const result = await runLedge(args, { cwd: root, timeoutMs: 300_000 });
    assert.equal(result.code, 0, `ledge ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  };
  fs.writeFileSync(path.join(root, 'params-3.yaml'), 'train:\n  bits: 16\n  epochs: 3\n');
  await ledge([
    'train',
    '--train',
    'prep/train.jsonl',
    '--validation',
    'prep/validation.jsonl',
    '--params',
    'params-3.yaml',
    '--out',
    'model-3-epochs',
    '--name',
    'imdb-sentiment',
  ]);
  const accuracyOf = (dir: string) =>
    (
      JSON.parse(fs.readFileSync(path.join(root, dir, 'model-card.json'), 'utf8')) as {
        metrics: { validation: { accuracy: number } };
      }
    ).metrics.validation.accuracy;
  const bundles = ['model', 'model-3-epochs'].sort((a, b) => accuracyOf(a) - accuracyOf(b)) as [
    string,
    string,
  ];
  assert.notEqual(accuracyOf(bundles[0]), accuracyOf(bundles[1]), 'the two models differ in accuracy');
  for (const bundle of bundles) await ledge(['model', 'register', bundle, '--name', 'imdb-sentiment']);
  return { bundles, accuracy: [accuracyOf(bundles[0]), accuracyOf(bundles[1])] };
}
