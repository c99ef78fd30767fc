/**
 * `ledge push` / `ledge fetch`: moves only the objects the other side lacks, in parallel,
 * verified on arrival. Which objects exist remotely is found by listing when the backend can
 * list and many objects are involved (one request per 1,000 keys), else by existence checks.
 * Every object is complete before it is visible on either side, so an interrupted transfer
 * simply resumes on the next run.
 */

import { forEachLimit, withRetries } from '../core/concurrency.js';
import type { Digest } from '../core/digest.js';
import { isLedgeError, LedgeError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import { openRemote } from './remote/open-remote.js';
import type { Remote } from './remote/remote.js';
import type { Store } from './store.js';
import type { Tracked } from './tracked-paths.js';

export interface TransferOptions {
  /** Remote name; default: the configured default remote. */
  remote?: string | undefined;
  jobs?: number | undefined;
  progress?: Progress | undefined;
}

export interface TransferResult {
  remote: string;
  url: string;
  /** Distinct objects the selected paths need. */
  objects: number;
  /** Objects already on the receiving side. */
  skipped: number;
  transferred: number;
  bytes: number;
  /** Objects that could not be sent because the local cache lacks them (push only). */
  missingLocally: number;
}

/** Listing beats one existence check per object from this many objects on. */
const LIST_THRESHOLD = 64;

/** Errors that doom every other object too: stop at once instead of failing N times. */
function isFatal(error: unknown): boolean {
  return (
    isLedgeError(error) &&
    ['remote-unreachable', 'remote-auth', 'remote-not-found', 'config'].includes(error.code)
  );
}

export async function openNamedRemote(store: Store, name?: string): Promise<Remote> {
  const config = store.ws.config;
  const chosen = name ?? config.remote;
  if (!chosen) {
    throw new LedgeError('config', 'no remote given and no default remote configured', {
      hint: 'add one with `ledge remote add NAME URL --default`, or pass --remote NAME',
    });
  }
  const settings = config.remotes[chosen];
  if (!settings) {
    const known = Object.keys(config.remotes);
    throw new LedgeError('config', `unknown remote '${chosen}'`, {
      hint: known.length
        ? `configured remotes: ${known.join(', ')}`
        : 'add one with `ledge remote add NAME URL`',
    });
  }
  return openRemote(chosen, settings, store.ws.root);
}

/** Which of `digests` the remote holds. */
export async function remoteHas(remote: Remote, digests: Digest[], jobs: number): Promise<Set<Digest>> {
  const wanted = new Set(digests);
  const present = new Set<Digest>();
  if (remote.list && wanted.size >= LIST_THRESHOLD) {
    for await (const digest of remote.list()) if (wanted.has(digest)) present.add(digest);
    return present;
  }
  await forEachLimit([...wanted], jobs, async (digest) => {
    if (await withRetries(() => remote.has(digest))) present.add(digest);
  });
  return present;
}

/** Objects the tracked paths need, manifests first; and the directory manifests not cached. */
function neededObjects(store: Store, tracked: Tracked[]): { objects: Digest[]; unknownManifests: Digest[] } {
  const objects = new Set<Digest>();
  const unknownManifests: Digest[] = [];
  for (const item of tracked) {
    objects.add(item.pointer.digest);
    if (item.pointer.type !== 'dir') continue;
    if (!store.cache.has(item.pointer.digest)) {
      unknownManifests.push(item.pointer.digest);
      continue;
    }
    for (const entry of store.readManifest(item.pointer.digest)) objects.add(entry.digest);
  }
  return { objects: [...objects], unknownManifests };
}

export async function push(
  store: Store,
  tracked: Tracked[],
  options: TransferOptions = {},
): Promise<TransferResult> {
  const jobs = options.jobs ?? store.ws.config.transferJobs;
  const remote = await openNamedRemote(store, options.remote);
  try {
    const { objects } = neededObjects(store, tracked);
    const cached = store.cache.listAll();
    const local = objects.filter((d) => cached.has(d));
    const present = await remoteHas(remote, local, jobs);
    // Manifests go last: a directory manifest on the remote implies its files are there.
    const manifests = new Set(tracked.filter((t) => t.pointer.type === 'dir').map((t) => t.pointer.digest));
    const toSend = local.filter((d) => !present.has(d));
    toSend.sort((a, b) => Number(manifests.has(a)) - Number(manifests.has(b)));
    const dataObjects = toSend.filter((d) => !manifests.has(d));
    const manifestObjects = toSend.filter((d) => manifests.has(d));
    const result: TransferResult = {
      remote: remote.name,
      url: remote.url,
      objects: objects.length,
      skipped: present.size,
      transferred: 0,
      bytes: 0,
      missingLocally: objects.length - local.length,
    };
    const sent: Digest[] = [];
    options.progress?.start(`pushing to ${remote.name}`, toSend.length, 'objects');
    try {
      for (const batch of [dataObjects, manifestObjects]) {
        await transferAll(batch, jobs, async (digest) => {
          const size = store.cache.sizeOf(digest) ?? 0;
          await withRetries(() => remote.put({ digest, size, path: store.cache.pathOf(digest) }));
          sent.push(digest);
          result.transferred++;
          result.bytes += size;
          options.progress?.advance(1, size);
        });
      }
    } finally {
      options.progress?.stop();
      store.state.addRemoteObjects(remote.name, [...present, ...sent]);
    }
    return result;
  } finally {
    await remote.close();
  }
}

export async function fetch(
  store: Store,
  tracked: Tracked[],
  options: TransferOptions = {},
): Promise<TransferResult> {
  const jobs = options.jobs ?? store.ws.config.transferJobs;
  const remote = await openNamedRemote(store, options.remote);
  const received: Digest[] = [];
  const result: TransferResult = {
    remote: remote.name,
    url: remote.url,
    objects: 0,
    skipped: 0,
    transferred: 0,
    bytes: 0,
    missingLocally: 0,
  };
  const download = async (digest: Digest) => {
    const bytes = await withRetries(async () => {
      const stream = await remote.get(digest);
      await store.cache.putStream(stream, digest, `object ${digest} from remote '${remote.name}'`);
      return store.cache.sizeOf(digest) ?? 0;
    });
    received.push(digest);
    result.transferred++;
    result.bytes += bytes;
    options.progress?.advance(1, bytes);
  };
  try {
    // First the directory manifests we lack, which say what else is needed.
    const first = neededObjects(store, tracked);
    if (first.unknownManifests.length > 0) {
      options.progress?.start(
        `fetching manifests from ${remote.name}`,
        first.unknownManifests.length,
        'objects',
      );
      await transferAll(first.unknownManifests, jobs, download).finally(() => options.progress?.stop());
    }
    const { objects } = neededObjects(store, tracked);
    const cached = store.cache.listAll();
    const missing = objects.filter((d) => !cached.has(d));
    result.objects = objects.length;
    result.skipped = objects.length - missing.length;
    options.progress?.start(`fetching from ${remote.name}`, missing.length, 'objects');
    await transferAll(missing, jobs, download).finally(() => options.progress?.stop());
    return result;
  } finally {
    store.state.addRemoteObjects(remote.name, received);
    await remote.close();
  }
}

/**
 * Transfers every object, continuing past per-object failures so one bad object does not
 * block the rest; fatal errors (unreachable, unauthorised) stop everything at once.
 */
async function transferAll(
  digests: Digest[],
  jobs: number,
  one: (digest: Digest) => Promise<void>,
): Promise<void> {
  const failures: { digest: Digest; error: unknown }[] = [];
  await forEachLimit(digests, jobs, async (digest) => {
    try {
      await one(digest);
    } catch (error) {
      if (isFatal(error)) throw error;
      failures.push({ digest, error });
    }
  });
  if (failures.length > 0) {
    const first = failures[0]!;
    const reason = first.error instanceof Error ? first.error.message : String(first.error);
    throw new LedgeError(
      isLedgeError(first.error) ? first.error.code : 'remote-error',
      `${failures.length} of ${digests.length} objects failed to transfer; first: ${reason}`,
      { hint: 'run the command again to retry the failed objects', cause: first.error },
    );
  }
}
