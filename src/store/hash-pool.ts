/**
 * Hashes many files in parallel on worker threads (one per core by default), handing out
 * small batches so a few large files cannot leave a core idle. Small jobs stay on the main
 * thread, where starting workers would cost more than it saves.
 */
import { Worker } from 'node:worker_threads';
import type { Progress } from '../core/progress.js';
import {
  type HashFailure,
  type HashJob,
  type HashOptions,
  type HashResult,
  hashFile,
  statSink,
  toFailure,
} from './file-hasher.js';
import type { BatchReply, BatchRequest } from './hash-worker.js';
import { DigestSet, PackWriter, type StagedPack } from './pack-file.js';

export interface HashPoolOptions extends HashOptions {
  workers: number;
  progress?: Progress | undefined;
  /** Stops handing out work after the first failure (add) instead of collecting all (status). */
  failFast?: boolean;
}

export interface HashOutcome {
  results: HashResult[];
  failures: HashFailure[];
  /** Packs holding the results marked `packed`, to be committed by the caller. */
  packs: StagedPack[];
}

const IN_THREAD_MAX_FILES = 64;
const IN_THREAD_MAX_BYTES = 16 << 20;
const BATCH_MAX_FILES = 1024;
const BATCH_MAX_BYTES = 32 << 20;

export async function hashFiles(
  jobs: (HashJob & { size?: number })[],
  options: HashPoolOptions,
): Promise<HashOutcome> {
  const totalBytes = jobs.reduce((sum, job) => sum + (job.size ?? 0), 0);
  if (jobs.length === 0) return { results: [], failures: [], packs: [] };
  if (options.workers <= 1 || (jobs.length <= IN_THREAD_MAX_FILES && totalBytes <= IN_THREAD_MAX_BYTES)) {
    return hashInThread(jobs, options);
  }
  return hashOnWorkers(jobs, options);
}

function hashInThread(jobs: HashJob[], options: HashPoolOptions): HashOutcome {
  const buffer = Buffer.allocUnsafe(8 << 20);
  const outcome: HashOutcome = { results: [], failures: [], packs: [] };
  const pack = options.store && options.packDir ? new PackWriter(options.packDir) : undefined;
  const existing = options.existing ? new DigestSet(options.existing) : undefined;
  const sink = statSink(options, pack);
  if (existing) {
    const stat = sink.exists;
    sink.exists = (hex) => existing.hasHex(hex) || stat(hex);
  }
  for (const job of jobs) {
    try {
      const result = hashFile(job, options, buffer, sink);
      outcome.results.push(result);
      options.progress?.advance(1, result.size);
    } catch (error) {
      outcome.failures.push(toFailure(job.rel, error));
      if (options.failFast) break;
    }
  }
  const staged = pack?.finish();
  if (staged) outcome.packs.push(staged);
  return outcome;
}

/** Splits jobs into batches bounded by count and bytes, so work spreads evenly. */
function makeBatches(jobs: (HashJob & { size?: number })[], workers: number): HashJob[][] {
  const perBatch = Math.max(8, Math.min(BATCH_MAX_FILES, Math.ceil(jobs.length / (workers * 8))));
  const batches: HashJob[][] = [];
  let current: HashJob[] = [];
  let bytes = 0;
  for (const job of jobs) {
    current.push({ abs: job.abs, rel: job.rel });
    bytes += job.size ?? 0;
    if (current.length >= perBatch || bytes >= BATCH_MAX_BYTES) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function hashOnWorkers(
  jobs: (HashJob & { size?: number })[],
  options: HashPoolOptions,
): Promise<HashOutcome> {
  const workerCount = Math.max(1, Math.min(options.workers, Math.ceil(jobs.length / 16)));
  const batches = makeBatches(jobs, workerCount);
  const outcome: HashOutcome = { results: [], failures: [], packs: [] };
  const workerOptions: HashOptions = {
    store: options.store,
    objectsDir: options.objectsDir,
    tempDir: options.tempDir,
    packDir: options.packDir,
    existing: options.existing,
  };
  return new Promise((resolve, reject) => {
    let next = 0;
    let pending = 0;
    let stopped = false;
    const workers: Worker[] = [];
    const finish = (error?: unknown) => {
      if (stopped) return;
      stopped = true;
      for (const worker of workers) void worker.terminate();
      if (error) reject(error);
      else resolve(outcome);
    };
    const dispatch = (worker: Worker) => {
      const stop = options.failFast && outcome.failures.length > 0;
      if (stop || next >= batches.length) {
        if (pending === 0) finish();
        return;
      }
      const request: BatchRequest = { id: next, jobs: batches[next]! };
      next++;
      pending++;
      worker.postMessage(request);
    };
    for (let i = 0; i < workerCount; i++) {
      const worker = new Worker(new URL('./hash-worker.js', import.meta.url), { workerData: workerOptions });
      workers.push(worker);
      worker.on('message', (reply: BatchReply) => {
        pending--;
        for (const result of reply.results) outcome.results.push(result);
        for (const failure of reply.failures) outcome.failures.push(failure);
        if (reply.pack) outcome.packs.push(reply.pack);
        options.progress?.advance(reply.results.length + reply.failures.length, reply.bytes);
        dispatch(worker);
      });
      worker.on('error', (error) => finish(error));
      dispatch(worker);
    }
  });
}
