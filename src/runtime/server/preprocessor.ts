/**
 * Preprocessing for the inference server: texts → feature ids (plus the token count and
 * out-of-vocabulary rate monitoring needs). It is most of a request's CPU (tokenizing and hashing
 * a review costs several times the model call), so the server runs it on preprocessing threads
 * when the machine has cores to spare, and keeps its main thread for HTTP, JSON and ONNX Runtime.
 *
 * - `inline` (0 threads): on the calling thread, as `prepareText` does.
 * - threaded: `worker_threads` running preprocess-worker.ts. The texts of the requests handled
 *   in one event-loop turn travel as one message per thread (a batch, as the model's batcher
 *   makes); results come back in transferred buffers. If a thread dies, the error is logged, its
 *   jobs are redone inline, and preprocessing continues inline: no request fails for it.
 *
 * Both run the same code (prepare-text.ts), so ids and statistics are identical either way.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { WorkerReply, WorkerRequest } from './preprocess-worker.js';
import { prepareText, type ServableModel } from './servable-model.js';
import type { ServerLog } from './server-context.js';

/** The texts of one request, prepared. */
export interface PreparedTexts {
  ids: Int32Array[];
  tokens: ArrayLike<number>;
  oovRates: ArrayLike<number>;
}

export interface Preprocessor {
  /** Preprocessing threads (0: inline). */
  readonly threads: number;
  prepare(model: ServableModel, texts: string[], withStatistics: boolean): Promise<PreparedTexts>;
  /** Stops the threads (after the server has drained). */
  close(): Promise<void>;
}

/** The default: one thread per spare core, at most 4 (the main thread keeps one core). */
export function defaultPreprocessThreads(): number {
  return Math.max(0, Math.min(4, os.availableParallelism() - 1));
}

function prepareInline(model: ServableModel, texts: string[], withStatistics: boolean): PreparedTexts {
  const n = texts.length;
  const ids = new Array<Int32Array>(n);
  const tokens = new Uint32Array(n);
  const oovRates = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const prepared = prepareText(model, texts[i]!, withStatistics);
    ids[i] = prepared.ids;
    tokens[i] = prepared.tokens;
    oovRates[i] = prepared.oovRate;
  }
  return { ids, tokens, oovRates };
}

export const INLINE_PREPROCESSOR: Preprocessor = {
  threads: 0,
  prepare: async (model, texts, withStatistics) => prepareInline(model, texts, withStatistics),
  close: async () => {},
};

export function createPreprocessor(threads: number, log: ServerLog): Preprocessor {
  if (!Number.isInteger(threads) || threads < 0)
    throw new RangeError(`preprocessing threads must be a whole number ≥ 0, not ${threads}`);
  return threads === 0 ? INLINE_PREPROCESSOR : new ThreadedPreprocessor(threads, log);
}

interface Waiter {
  start: number;
  count: number;
  resolve: (prepared: PreparedTexts) => void;
  reject: (error: Error) => void;
}

/** The texts of one event-loop turn for one model (and statistics setting). */
interface Group {
  model: ServableModel;
  key: number;
  withStatistics: boolean;
  texts: string[];
  waiters: Waiter[];
}

interface Job {
  worker: Worker;
  group: Group;
}

export class ThreadedPreprocessor implements Preprocessor {
  private readonly workers: Worker[];
  private readonly keys = new WeakMap<ServableModel, number>();
  private nextKey = 1;
  private nextJob = 1;
  private nextWorker = 0;
  private readonly jobs = new Map<number, Job>();
  private readonly pending = new Map<string, Group>();
  private flushScheduled = false;
  private broken = false;
  private closed = false;

  constructor(
    readonly threads: number,
    private readonly log: ServerLog,
  ) {
    const url = new URL('./preprocess-worker.js', import.meta.url);
    this.workers = Array.from({ length: threads }, () => {
      const worker = new Worker(url);
      worker.on('message', (reply: WorkerReply) => this.onReply(reply));
      worker.on('error', (error) => this.onWorkerLost(worker, error));
      worker.on('exit', (code) => {
        if (!this.closed) this.onWorkerLost(worker, new Error(`exited with code ${code}`));
      });
      return worker;
    });
  }

  prepare(model: ServableModel, texts: string[], withStatistics: boolean): Promise<PreparedTexts> {
    if (this.broken || this.closed || texts.length === 0)
      return Promise.resolve(prepareInline(model, texts, withStatistics));
    const key = this.keyOf(model);
    const id = `${key}:${withStatistics ? 1 : 0}`;
    let group = this.pending.get(id);
    if (!group) {
      group = { model, key, withStatistics, texts: [], waiters: [] };
      this.pending.set(id, group);
    }
    const start = group.texts.length;
    for (const text of texts) group.texts.push(text);
    const waiting = group;
    const promise = new Promise<PreparedTexts>((resolve, reject) => {
      waiting.waiters.push({ start, count: texts.length, resolve, reject });
    });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return promise;
  }

  /** The i-th thread (for tests that kill one). */
  thread(i: number): Worker {
    return this.workers[i]!;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.redoInline(() => true);
  }

  /** The model's key in the threads, registering it with each on first use. */
  private keyOf(model: ServableModel): number {
    let key = this.keys.get(model);
    if (key === undefined) {
      key = this.nextKey++;
      this.keys.set(model, key);
      const message: WorkerRequest = {
        type: 'model',
        key,
        features: model.features,
        knownWords: [...model.vocabulary.knownWords()],
      };
      for (const worker of this.workers) worker.postMessage(message);
    }
    return key;
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const group of this.pending.values()) {
      const worker = this.workers[this.nextWorker++ % this.workers.length]!;
      const id = this.nextJob++;
      this.jobs.set(id, { worker, group });
      const message: WorkerRequest = {
        type: 'job',
        id,
        key: group.key,
        texts: group.texts,
        withStatistics: group.withStatistics,
      };
      worker.postMessage(message);
    }
    this.pending.clear();
  }

  private onReply(reply: WorkerReply): void {
    const job = this.jobs.get(reply.id);
    if (!job) return;
    this.jobs.delete(reply.id);
    if (reply.type === 'failed') {
      const error = new Error(`preprocessing failed: ${reply.error}`);
      for (const waiter of job.group.waiters) waiter.reject(error);
      return;
    }
    const { ids, offsets, tokens, oovRates } = reply;
    for (const { start, count, resolve } of job.group.waiters) {
      const views = new Array<Int32Array>(count);
      for (let i = 0; i < count; i++) views[i] = ids.subarray(offsets[start + i]!, offsets[start + i + 1]!);
      resolve({
        ids: views,
        tokens: tokens.subarray(start, start + count),
        oovRates: oovRates.subarray(start, start + count),
      });
    }
  }

  private onWorkerLost(worker: Worker, error: Error): void {
    if (this.closed) return;
    if (!this.broken) {
      this.broken = true;
      this.log.error('a preprocessing thread failed; preprocessing continues on the main thread', {
        error: error.message,
      });
    }
    this.redoInline((job) => job.worker === worker);
  }

  /** Prepares the texts of the chosen jobs on this thread instead. */
  private redoInline(which: (job: Job) => boolean): void {
    for (const [id, job] of this.jobs) {
      if (!which(job)) continue;
      this.jobs.delete(id);
      const { model, texts, withStatistics, waiters } = job.group;
      for (const { start, count, resolve, reject } of waiters) {
        try {
          resolve(prepareInline(model, texts.slice(start, start + count), withStatistics));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      }
    }
  }
}
