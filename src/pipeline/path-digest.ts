/**
 * The version a workspace path stands for, as a digest: the one ledge.lock records for it (a
 * stage's out, metrics file or dependency), else the one its pointer file records, else the
 * one it hashes to now.
 */
import path from 'node:path';
import type { Digest } from '../core/digest.js';
import { LedgeError } from '../core/errors.js';
import { dataPathFor, pointerPathFor, readPointer } from '../store/pointer-file.js';
import type { Store } from '../store/store.js';
import { POINTER_SUFFIX } from '../store/workspace.js';
import { lockPathFor, readLockFile } from './lock-file.js';
import { PIPELINE_FILE } from './pipeline-file.js';
import { versionOf } from './stage-state.js';

export type DigestSource = 'ledge.lock' | 'pointer' | 'workspace';

export interface PathDigest {
  path: string;
  digest: Digest;
  /** Where the digest came from. */
  source: DigestSource;
}

/** Resolves a workspace-relative path to the digest of its version (see above). */
export async function digestOfPath(store: Store, rel: string): Promise<PathDigest> {
  const lockFile = lockPathFor(PIPELINE_FILE);
  const lock = readLockFile(path.join(store.ws.root, lockFile), lockFile);
  for (const kind of ['outs', 'metrics', 'deps'] as const) {
    for (const stage of Object.values(lock.stages)) {
      const entry = stage[kind].find((version) => version.path === rel);
      if (entry) return { path: rel, digest: entry.digest, source: 'ledge.lock' };
    }
  }
  // `data.ledge` stands for `data`, like `data` itself.
  const dataPath = rel.endsWith(POINTER_SUFFIX) ? dataPathFor(rel) : rel;
  const pointerPath = pointerPathFor(dataPath);
  const pointer = readPointer(store.ws.absolutePath(pointerPath), pointerPath);
  if (pointer) return { path: dataPath, digest: pointer.digest, source: 'pointer' };
  const version = await versionOf(store, rel, { store: false });
  if (!version) {
    throw new LedgeError(
      'path-not-found',
      `'${rel}' is not in ${lockFile}, has no pointer file and does not exist`,
      {
        hint: 'give a path a stage reads or writes, a tracked path, or a sha256: digest',
      },
    );
  }
  return { path: rel, digest: version.digest, source: 'workspace' };
}
