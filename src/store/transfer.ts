/**
 * `ledge push` / `ledge fetch`: moves only the objects the other side lacks, in parallel,
 * verified on arrival. Which objects exist remotely is found by listing when the backend can
 * list and many objects are involved (one request per 1,000 keys), else by existence checks.
 * Every object is complete before it is visible on either side, so an interrupted transfer
 * simply resumes on the next run.
 */

import fs from 'node:fs';
import { forEachLimit, withRetries } from '../core/concurrency.js';
import type { Digest } from '../core/digest.js';
import { isLedgeError, LedgeError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import type { StagedObject } from './object-cache.js';
import { openRemote } from './remote/open-remote.js';
import type { ObjectSource, Remote } from './remote/remote.js';
import { neededObjects, type RemoteKnowledge } from './status.js';
import type { Store } from './store.js';
import type { Tracked } from './tracked-paths.js';

export interface TransferOptions {
  /** Remote name; default: the configured default remote. */
  remote?: string | undefined;
  jobs?: number | undefined;
  progress?: Progress | undefined;
  /** Push: ask the remote what it holds even for versions known to be pushed already. */
  verifyRemote?: boolean | undefined;
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
  /** Tracked paths skipped because this version is known to be on the remote already (push). */
  upToDate?: number;
}

function emptyResult(remote: Remote): TransferResult {
  return {
    remote: remote.name,
    url: remote.url,
    objects: 0,
    skipped: 0,
    transferred: 0,
    bytes: 0,
    missingLocally: 0,
  };
}

/** Objects per batch flush (push to directories, fetch into the cache). */
const BATCH_SIZE = 2048;

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

/** Objects the tracked paths need; and the directory manifests not cached (contents unknown). */
function collectObjects(store: Store, tracked: Tracked[]): { objects: Digest[]; unknownManifests: Digest[] } {
  const objects = new Set<Digest>();
  const unknownManifests: Digest[] = [];
  for (const item of tracked) {
    const needed = neededObjects(store, item);
    if (needed === undefined) {
      objects.add(item.pointer.digest);
      unknownManifests.push(item.pointer.digest);
    } else {
      for (const digest of needed) objects.add(digest);
    }
  }
  return { objects: [...objects], unknownManifests };
}

/**
 * What `status` knows of a remote: by default the local records (versions pushed completely,
 * objects seen there), with no network; with `ask`, a fresh check against the remote itself,
 * which also refreshes those records.
 */
export async function remoteKnowledge(
  store: Store,
  tracked: Tracked[],
  remoteName: string,
  ask: boolean,
): Promise<RemoteKnowledge> {
  if (!ask) {
    return {
      isComplete: (digest) => store.state.isRemoteComplete(remoteName, digest),
      objects: () => store.state.remoteObjects(remoteName),
    };
  }
  const remote = await openNamedRemote(store, remoteName);
  try {
    const present = await remoteHas(
      remote,
      collectObjects(store, tracked).objects,
      store.ws.config.transferJobs,
    );
    store.state.addRemoteObjects(remoteName, present);
    const complete = tracked.filter((t) => neededObjects(store, t)?.every((d) => present.has(d)) ?? false);
    store.state.markRemoteComplete(
      remoteName,
      complete.map((t) => t.pointer.digest),
    );
    return { isComplete: () => false, objects: () => present };
  } finally {
    await remote.close();
  }
}

export async function push(
  store: Store,
  tracked: Tracked[],
  options: TransferOptions = {},
): Promise<TransferResult> {
  const jobs = options.jobs ?? store.ws.config.transferJobs;
  const remote = await openNamedRemote(store, options.remote);
  try {
    // Versions this workspace already pushed completely need no remote round trip at all.
    const pending = options.verifyRemote
      ? tracked
      : tracked.filter((t) => !store.state.isRemoteComplete(remote.name, t.pointer.digest));
    if (pending.length === 0) return { ...emptyResult(remote), upToDate: tracked.length };
    const { objects } = collectObjects(store, pending);
    const cached = store.cache.listAll();
    const local = objects.filter((d) => cached.has(d));
    const present = await remoteHas(remote, local, jobs);
    // Manifests go last: a directory manifest on the remote implies its files are there.
    const manifests = new Set(tracked.filter((t) => t.pointer.type === 'dir').map((t) => t.pointer.digest));
    const toSend = local.filter((d) => !present.has(d));
    const dataObjects = toSend.filter((d) => !manifests.has(d));
    const manifestObjects = toSend.filter((d) => manifests.has(d));
    const result: TransferResult = {
      ...emptyResult(remote),
      objects: objects.length,
      skipped: present.size,
      missingLocally: objects.length - local.length,
      upToDate: tracked.length - pending.length,
    };
    const sent: Digest[] = [];
    const stored = (source: ObjectSource) => {
      sent.push(source.digest);
      result.transferred++;
      result.bytes += source.size;
      options.progress?.advance(1, source.size);
    };
    const sourceOf = (digest: Digest): ObjectSource => store.cache.source(digest);
    options.progress?.start(`pushing to ${remote.name}`, toSend.length, 'objects');
    try {
      for (const batch of [dataObjects, manifestObjects]) {
        if (remote.putBatch) {
          for (let i = 0; i < batch.length; i += BATCH_SIZE) {
            await remote.putBatch(batch.slice(i, i + BATCH_SIZE).map(sourceOf), stored);
          }
          continue;
        }
        await transferAll(batch, jobs, async (digest) => {
          const source = sourceOf(digest);
          await withRetries(() => remote.put(source));
          stored(source);
        });
      }
    } finally {
      options.progress?.stop();
      store.state.addRemoteObjects(remote.name, [...present, ...sent]);
    }
    if (result.missingLocally === 0) {
      // Everything each pending pointer needs is now on the remote (data before manifests).
      store.state.markRemoteComplete(
        remote.name,
        pending
          .filter((t) => t.pointer.type === 'file' || store.cache.has(t.pointer.digest))
          .map((t) => t.pointer.digest),
      );
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
  const result = emptyResult(remote);
  // Downloads are verified into temp files and made visible in batches with one flush each.
  let staged: StagedObject[] = [];
  const commit = () => {
    store.cache.commitBatch(staged, []);
    store.state.addRemoteObjects(
      remote.name,
      staged.map((s) => s.digest),
    );
    staged = [];
  };
  const download = async (digest: Digest) => {
    const object = await withRetries(async () =>
      store.cache.stageStream(
        await remote.get(digest),
        digest,
        `object ${digest} from remote '${remote.name}'`,
      ),
    );
    const bytes = fs.statSync(object.temp).size;
    staged.push(object);
    if (staged.length >= BATCH_SIZE) commit();
    result.transferred++;
    result.bytes += bytes;
    options.progress?.advance(1, bytes);
  };
  const downloadAll = async (digests: Digest[]) => {
    if (remote.localPath) {
      // A directory remote: copy on the hashing workers, verified, one flush per batch.
      for (let i = 0; i < digests.length; i += BATCH_SIZE * 4) {
        const batch = digests.slice(i, i + BATCH_SIZE * 4);
        const items = batch.map((digest) => ({ abs: remote.localPath!(digest), digest }));
        const { imported, failures } = await store.importVerified(items, options.progress);
        store.state.addRemoteObjects(
          remote.name,
          imported.map((r) => r.digest),
        );
        result.transferred += imported.length;
        result.bytes += imported.reduce((sum, r) => sum + r.size, 0);
        if (failures.length > 0)
          throw transferFailure(
            failures.length,
            digests.length,
            new LedgeError(failures[0]!.code, failures[0]!.message, { hint: failures[0]!.hint }),
          );
      }
      return;
    }
    try {
      await transferAll(digests, jobs, download);
    } finally {
      commit();
    }
  };
  try {
    // First the directory manifests we lack, which say what else is needed.
    const first = collectObjects(store, tracked);
    if (first.unknownManifests.length > 0) {
      options.progress?.start(
        `fetching manifests from ${remote.name}`,
        first.unknownManifests.length,
        'objects',
      );
      await downloadAll(first.unknownManifests).finally(() => options.progress?.stop());
    }
    const { objects } = collectObjects(store, tracked);
    const cached = store.cache.listAll();
    const missing = objects.filter((d) => !cached.has(d));
    result.objects = objects.length;
    result.skipped = objects.length - missing.length - result.transferred; // manifests just fetched
    options.progress?.start(`fetching from ${remote.name}`, missing.length, 'objects');
    await downloadAll(missing).finally(() => options.progress?.stop());
    return result;
  } finally {
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
  if (failures.length > 0) throw transferFailure(failures.length, digests.length, failures[0]!.error);
}

function transferFailure(failed: number, total: number, first: unknown): LedgeError {
  const reason = first instanceof Error ? first.message : String(first);
  return new LedgeError(
    isLedgeError(first) ? first.code : 'remote-error',
    `${failed} of ${total} objects failed to transfer; first: ${reason}`,
    { hint: 'run the command again to retry the failed objects', cause: first },
  );
}
