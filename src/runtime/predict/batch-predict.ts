/**
 * Batch prediction over a stream of lines: JSON lines `{"text": "…"}` (or `{"sequence": [1, 14,
 * …]}`, the Keras-style integer encoding), or one raw text per line. One JSON line out per line
 * in, same order: `{"label": "pos", "score": 0.93}`. A malformed line gets
 * `{"line": N, "error": "…"}` in its place and a report, and the rest go on — unless `strict`.
 */
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { LedgeError } from '../../core/errors.js';
import type { TextModel } from '../model/text-model.js';

export interface BatchPredictOptions {
  format: 'jsonl' | 'text';
  strict: boolean;
  batchSize: number;
  /** Called for each malformed line (1-based line number). */
  onBadLine?: (line: number, message: string) => void;
}

export interface BatchPredictResult {
  lines: number;
  predicted: number;
  malformed: number;
  seconds: number;
}

type Parsed = { line: number; text: string } | { line: number; error: string };

function parseLine(
  raw: string,
  line: number,
  format: BatchPredictOptions['format'],
  model: TextModel,
): Parsed {
  if (format === 'text') return raw.trim() === '' ? { line, error: 'empty text' } : { line, text: raw };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { line, error: 'not valid JSON' };
  }
  const record = value as { text?: unknown; sequence?: unknown } | null;
  if (record && typeof record === 'object' && typeof record.text === 'string') {
    return record.text.trim() === '' ? { line, error: 'empty text' } : { line, text: record.text };
  }
  if (
    record &&
    typeof record === 'object' &&
    Array.isArray(record.sequence) &&
    record.sequence.every((n) => Number.isInteger(n) && n >= 0)
  ) {
    return { line, text: model.vocabulary.decode(record.sequence as number[]) };
  }
  return { line, error: 'expected {"text": "..."} or {"sequence": [non-negative integers]}' };
}

export async function batchPredict(
  model: TextModel,
  input: Readable,
  output: Writable,
  options: BatchPredictOptions,
): Promise<BatchPredictResult> {
  const started = performance.now();
  const result: BatchPredictResult = { lines: 0, predicted: 0, malformed: 0, seconds: 0 };
  let pending: Parsed[] = [];
  const write = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (output.write(text)) resolve();
      else output.once('drain', resolve).once('error', reject);
    });
  const flush = async () => {
    const texts = pending.filter((p): p is { line: number; text: string } => 'text' in p);
    const scores = await model.scoreIds(texts.map((p) => model.features(p.text)));
    let next = 0;
    let out = '';
    for (const item of pending) {
      if ('error' in item) {
        out += `${JSON.stringify({ line: item.line, error: item.error })}\n`;
        continue;
      }
      const score = scores[next++]!;
      out += `${JSON.stringify({ label: model.labels[score >= 0.5 ? 1 : 0], score: Number(score.toFixed(6)) })}\n`;
      result.predicted++;
    }
    pending = [];
    await write(out);
  };
  const lines = readline.createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNumber = 0;
  for await (const raw of lines) {
    lineNumber++;
    if (options.format === 'jsonl' && raw.trim() === '') continue;
    result.lines++;
    const parsed = parseLine(raw, lineNumber, options.format, model);
    if ('error' in parsed) {
      result.malformed++;
      if (options.strict) {
        throw new LedgeError('usage', `input line ${parsed.line}: ${parsed.error}`, {
          hint: 'fix the line, or drop --strict to skip malformed lines',
        });
      }
      options.onBadLine?.(parsed.line, parsed.error);
    }
    pending.push(parsed);
    if (pending.length >= options.batchSize) await flush();
  }
  if (pending.length > 0) await flush();
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
