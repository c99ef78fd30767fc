/**
 * What the server tests share: a small IMDB model trained by the real CLI (2^16 buckets, so it
 * trains in about a second), a Monitor that records what the server tells it, and JSON helpers
 * over Node's fetch.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReferenceProfile } from '../../../src/runtime/model/bundle-format.js';
import type {
  Monitor,
  PredictionEvent,
  RequestEvent,
  ServingEvent,
} from '../../../src/runtime/monitoring/monitor.js';
import { runLedge } from '../../helpers/cli.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const IMDB_SAMPLE = path.join(repo, 'examples', 'imdb', 'data', 'aclImdb_sample.tar.gz');

export interface TrainedModel {
  root: string;
  /** The bundle directory. */
  model: string;
  /** Validation texts, for realistic requests. */
  texts: string[];
  cleanup(): void;
}

/** Trains `imdb-sentiment` into a fresh temp directory with the real CLI. */
export async function trainTestModel(): Promise<TrainedModel> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-serve-'));
  fs.writeFileSync(path.join(root, 'params.yaml'), 'train:\n  bits: 16\n');
  const ok = async (args: string[]) => {
    const result = await runLedge(args, { cwd: root });
    assert.equal(result.code, 0, `ledge ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  };
  await ok(['imdb', 'prepare', '--source', IMDB_SAMPLE, '--out', 'prep']);
  await ok([
    'train',
    '--train',
    'prep/train.jsonl',
    '--validation',
    'prep/validation.jsonl',
    '--out',
    'model',
    '--name',
    'imdb-sentiment',
  ]);
  const texts = fs
    .readFileSync(path.join(root, 'prep', 'validation.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { text: string }).text);
  return {
    root,
    model: path.join(root, 'model'),
    texts,
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/** A Monitor that records every call (feedback matches the ids it has seen). */
export class SpyMonitor implements Monitor {
  requests: RequestEvent[] = [];
  batches: { model: string; version: string; size: number }[] = [];
  predictions: PredictionEvent[] = [];
  loads: { model: string; version: string; seconds: number }[] = [];
  feedbacks: { id: string; label: string }[] = [];
  events: ServingEvent[] = [];
  profiles: { model: string; version: string; profile: ReferenceProfile | undefined }[] = [];

  addModel(model: string, version: string, profile: ReferenceProfile | undefined): void {
    this.profiles.push({ model, version, profile });
  }
  onServingEvent(event: ServingEvent): void {
    this.events.push(event);
  }

  onRequest(event: RequestEvent): void {
    this.requests.push(event);
  }
  onBatch(model: string, version: string, size: number): void {
    this.batches.push({ model, version, size });
  }
  onPredictions(events: PredictionEvent[]): void {
    this.predictions.push(...events);
  }
  onModelLoaded(model: string, version: string, seconds: number): void {
    this.loads.push({ model, version, seconds });
  }
  feedback(id: string, label: string) {
    this.feedbacks.push({ id, label });
    return { matched: this.predictions.some((p) => p.id === id) };
  }
  async metrics() {
    return {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      body: `spy_requests ${this.requests.length}\n`,
    };
  }
  snapshot() {
    return { requests: this.requests.length, predictions: this.predictions.length };
  }
  async close(): Promise<void> {}
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/** fetch, with the body read as text and parsed as JSON when it is. */
export async function request(url: string, init: RequestInit = {}): Promise<JsonResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body, text };
}

export const postJson = (url: string, value: unknown) =>
  request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof value === 'string' ? value : JSON.stringify(value),
  });

/** An OIP inference request with a `text` input. */
export const textInfer = (texts: string[], extra: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'text', shape: [texts.length], datatype: 'BYTES', data: texts }],
  ...extra,
});
