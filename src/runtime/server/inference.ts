/**
 * Scoring shared by the endpoints: documents through the version's batcher, and texts through
 * preprocessing (the server's preprocessor: tokenized once, feature ids plus the token count and
 * out-of-vocabulary rate monitoring needs), labelled, given prediction ids, and reported to
 * monitoring.
 */
import { NO_MONITORING, type PredictionEvent } from '../monitoring/monitor.js';
import type { ModelVersion } from './model-slots.js';
import type { ServerContext } from './server-context.js';

export interface Scored {
  score: Float32Array;
  logit: Float32Array;
  /** Time the request waited in the batch queue, in seconds. */
  queueSeconds: number;
}

export async function scoreDocs(model: ModelVersion, docs: Int32Array[]): Promise<Scored> {
  const { outputs, queueSeconds } = await model.batcher.submit(docs);
  return { score: outputs[0]!, logit: outputs[1]!, queueSeconds };
}

export interface TextPredictions extends Scored {
  labels: string[];
  ids: string[];
}

/** The label of a score: the second label from 0.5 up (as `TextModel.predict`). */
export const labelOf = (labels: readonly string[], score: number): string => labels[score >= 0.5 ? 1 : 0]!;

export async function predictTexts(
  ctx: ServerContext,
  model: ModelVersion,
  texts: string[],
): Promise<TextPredictions> {
  const monitored = ctx.monitor !== NO_MONITORING;
  const withStatistics = monitored && (ctx.monitor.wantsInputStatistics?.(texts.length) ?? true);
  const prepared = await ctx.preprocessor.prepare(model.model, texts, withStatistics);
  const scored = await scoreDocs(model, prepared.ids);
  const labels = new Array<string>(texts.length);
  const ids = new Array<string>(texts.length);
  for (let i = 0; i < texts.length; i++) {
    labels[i] = labelOf(model.model.labels, scored.score[i]!);
    ids[i] = ctx.nextPredictionId();
  }
  if (monitored) {
    const events: PredictionEvent[] = texts.map((text, i) => ({
      id: ids[i]!,
      model: model.name,
      version: model.version,
      text,
      tokens: prepared.tokens[i]!,
      oovRate: withStatistics ? prepared.oovRates[i]! : Number.NaN,
      score: scored.score[i]!,
      label: labels[i]!,
    }));
    try {
      ctx.monitor.onPredictions(events);
    } catch (error) {
      ctx.log.error('monitoring failed on predictions', { error: String(error) });
    }
  }
  return { ...scored, labels, ids };
}
