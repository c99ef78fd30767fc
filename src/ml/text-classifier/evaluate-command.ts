/**
 * `ledge evaluate`: runs a bundle's ONNX model in ONNX Runtime over labelled texts (what a
 * device would compute, not the trainer's own arithmetic) and reports binary metrics.
 */
import { writeFileAtomicSync } from '../../core/atomic-fs.js';
import { LedgeError } from '../../core/errors.js';
import { TextModel } from '../../runtime/model/text-model.js';
import { type BinaryMetrics, binaryMetrics } from '../train/evaluation.js';
import { readLabeledTexts } from './labeled-texts.js';

export interface EvaluateOptions {
  model: string;
  dataFile: string;
  metricsFile?: string | undefined;
  batchSize?: number;
}

export interface Evaluation {
  metrics: BinaryMetrics;
  examplesPerSecond: number;
  modelBytes: number;
}

export async function runEvaluate(options: EvaluateOptions): Promise<Evaluation> {
  const data = readLabeledTexts(options.dataFile);
  const model = await TextModel.load(options.model);
  try {
    const labels = data.map((example, i) => {
      const index = model.labels.indexOf(example.label);
      if (index < 0) {
        throw new LedgeError(
          'config',
          `${options.dataFile}:${i + 1}: label '${example.label}' is not one of the model's labels (${model.labels.join(', ')})`,
        );
      }
      return index;
    });
    const batchSize = options.batchSize ?? 256;
    const scores = new Float32Array(data.length);
    const started = performance.now();
    for (let offset = 0; offset < data.length; offset += batchSize) {
      const batch = data.slice(offset, offset + batchSize);
      scores.set(await model.scoreIds(batch.map((e) => model.features(e.text))), offset);
    }
    const seconds = (performance.now() - started) / 1000;
    const metrics = binaryMetrics(scores, labels);
    const evaluation = {
      metrics,
      examplesPerSecond: seconds > 0 ? data.length / seconds : 0,
      modelBytes: model.card.sizes.model_bytes,
    };
    if (options.metricsFile) {
      writeFileAtomicSync(
        options.metricsFile,
        `${JSON.stringify(
          {
            examples: metrics.examples,
            accuracy: metrics.accuracy,
            precision: metrics.precision,
            recall: metrics.recall,
            f1: metrics.f1,
            auc: metrics.auc,
            log_loss: metrics.log_loss,
            model_bytes: evaluation.modelBytes,
          },
          null,
          2,
        )}\n`,
      );
    }
    return evaluation;
  } finally {
    await model.close();
  }
}
