/**
 * `ledge fsck`: re-hashes every cache object and reports those whose bytes no longer match
 * their name; with `repair`, replaces them with verified copies from a remote.
 */
import fs from 'node:fs';
import type { Digest } from '../core/digest.js';
import { LedgeError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import { hashFiles } from './hash-pool.js';
import type { Store } from './store.js';
import { openNamedRemote } from './transfer.js';

export interface FsckOptions {
  repair?: boolean;
  remote?: string | undefined;
  progress?: Progress | undefined;
}

export interface FsckResult {
  checked: number;
  corrupt: Digest[];
  repaired: Digest[];
  /** Corrupt objects the remote could not replace (removed from the cache either way). */
  unrepaired: Digest[];
  /** Temp files of interrupted writes (harmless; `ledge gc` removes them). */
  staleTemps: number;
}

export async function fsck(store: Store, options: FsckOptions = {}): Promise<FsckResult> {
  const objects = [...store.cache.looseObjects()];
  const packedCount = store.cache.packedObjects().length;
  options.progress?.start('verifying', objects.length + packedCount, 'objects');
  const packed = store.cache.verifyPacked((n, bytes) => options.progress?.advance(n, bytes));
  const outcome = await hashFiles(
    objects.map((digest) => ({
      abs: store.cache.pathOf(digest),
      rel: digest,
      size: store.cache.sizeOf(digest) ?? 0,
    })),
    {
      store: false,
      objectsDir: store.cache.objectsDir,
      tempDir: store.cache.tempDir,
      workers: store.ws.config.hashJobs,
      progress: options.progress,
    },
  );
  options.progress?.stop();
  const corrupt: Digest[] = [];
  for (const result of outcome.results) if (result.digest !== result.rel) corrupt.push(result.rel as Digest);
  for (const failure of outcome.failures) corrupt.push(failure.rel as Digest);
  corrupt.push(...packed.corrupt);
  corrupt.sort();
  const result: FsckResult = {
    checked: objects.length + packed.checked,
    corrupt,
    repaired: [],
    unrepaired: [],
    staleTemps: store.cache.staleTemps().length,
  };
  if (!options.repair || corrupt.length === 0) return result;

  // A corrupt object is worse than a missing one: remove it, then fetch a verified copy.
  store.cache.remove(corrupt);
  const remote = await openNamedRemote(store, options.remote);
  try {
    for (const digest of corrupt) {
      try {
        await store.cache.putStream(
          await remote.get(digest),
          digest,
          `object ${digest} from remote '${remote.name}'`,
        );
        result.repaired.push(digest);
      } catch (error) {
        if (error instanceof LedgeError && error.code !== 'missing-object' && error.code !== 'corrupt-object')
          throw error;
        result.unrepaired.push(digest);
      }
    }
  } finally {
    await remote.close();
  }
  fs.mkdirSync(store.cache.objectsDir, { recursive: true });
  return result;
}
