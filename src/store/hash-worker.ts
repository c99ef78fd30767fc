/** Worker thread body for `hash-pool.ts`: hashes (and stores) the batches it is sent. */
import { parentPort, workerData } from 'node:worker_threads';
import {
  type HashFailure,
  type HashJob,
  type HashOptions,
  type HashResult,
  hashFile,
  toFailure,
} from './file-hasher.js';

export interface BatchRequest {
  id: number;
  jobs: HashJob[];
}

export interface BatchReply {
  id: number;
  results: HashResult[];
  failures: HashFailure[];
  bytes: number;
}

const options = workerData as HashOptions;
const buffer = Buffer.allocUnsafe(8 << 20);

parentPort!.on('message', (request: BatchRequest) => {
  const reply: BatchReply = { id: request.id, results: [], failures: [], bytes: 0 };
  for (const job of request.jobs) {
    try {
      const result = hashFile(job, options, buffer);
      reply.results.push(result);
      reply.bytes += result.size;
    } catch (error) {
      reply.failures.push(toFailure(job.rel, error));
    }
  }
  parentPort!.postMessage(reply);
});
