/** Worker thread body for `hash-pool.ts`: hashes (and stores) the batches it is sent. */
import { parentPort, workerData } from 'node:worker_threads';
import {
  type HashFailure,
  type HashJob,
  type HashOptions,
  type HashResult,
  hashFile,
  type ObjectSink,
  statSink,
  toFailure,
} from './file-hasher.js';
import { DigestSet, PackWriter, type StagedPack } from './pack-file.js';

export interface BatchRequest {
  id: number;
  jobs: HashJob[];
}

export interface BatchReply {
  id: number;
  results: HashResult[];
  failures: HashFailure[];
  bytes: number;
  pack?: StagedPack | undefined;
}

const options = workerData as HashOptions;
const buffer = Buffer.allocUnsafe(8 << 20);
const existing = options.existing ? new DigestSet(options.existing) : undefined;
const storedHere = new Set<string>();
const fallback = statSink(options);

parentPort!.on('message', (request: BatchRequest) => {
  const reply: BatchReply = { id: request.id, results: [], failures: [], bytes: 0 };
  const pack = options.store && options.packDir ? new PackWriter(options.packDir) : undefined;
  const sink: ObjectSink = existing
    ? {
        exists: (hex) => storedHere.has(hex) || existing.hasHex(hex),
        remember: (hex) => storedHere.add(hex),
        pack,
      }
    : { ...fallback, pack };
  for (const job of request.jobs) {
    try {
      const result = hashFile(job, options, buffer, sink);
      reply.results.push(result);
      reply.bytes += result.size;
    } catch (error) {
      reply.failures.push(toFailure(job.rel, error));
    }
  }
  try {
    reply.pack = pack?.finish();
  } catch (error) {
    pack?.abandon();
    for (const result of reply.results.filter((r) => r.packed))
      reply.failures.push(toFailure(result.rel, error));
    reply.results = reply.results.filter((r) => !r.packed);
  }
  parentPort!.postMessage(reply);
});
