/**
 * The contract every remote backend fulfils. A backend implements a few primitives; listing
 * strategy, parallelism, verification and progress live once in `../transfer.ts`.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../../core/digest.js';

/** An object to upload, read from the local cache. */
export interface ObjectSource {
  digest: Digest;
  size: number;
  /** The object's own file, when it has one (always for objects over 512 KiB). */
  path?: string | undefined;
  /** All bytes at once: for small objects. */
  read(): Buffer;
  /** The bytes as a stream: for any size. */
  open(): Readable;
}

export interface Remote {
  /** The configured name, e.g. `origin`. */
  readonly name: string;
  /** The URL as configured, for messages. Never contains credentials. */
  readonly url: string;
  /**
   * Every digest stored on the remote, when the backend can enumerate cheaply (a directory
   * listing, S3 ListObjectsV2 pages of 1,000 keys). Undefined when it cannot.
   */
  readonly list?: () => AsyncIterable<Digest>;
  /** Whether one object exists. */
  has(digest: Digest): Promise<boolean>;
  /**
   * Stores an object. The backend must make it visible only complete and only if its bytes
   * hash to `source.digest` (use `hashingReader` / `verifyDigest` from `./verify.js`), and
   * must throw `LedgeError('corrupt-object')` otherwise.
   */
  put(source: ObjectSource): Promise<void>;
  /**
   * Optional batch form of `put` for backends where flushing dominates (directories): stores
   * every source with one filesystem flush for the batch. Same guarantees as `put`; calls
   * `onStored` for each object once it is visible, and throws after storing all it could.
   */
  putBatch?(sources: ObjectSource[], onStored: (source: ObjectSource) => void): Promise<void>;
  /**
   * Optional: the path of an object on a filesystem this process can read (directory
   * remotes), letting downloads run on the parallel hashing workers instead of streams.
   */
  localPath?(digest: Digest): string;
  /** Opens an object for reading. Throws `LedgeError('missing-object')` when absent. */
  get(digest: Digest): Promise<Readable>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** Remote settings as they appear under `remotes.NAME` in the config. */
export interface RemoteConfig {
  url: string;
  endpoint?: string | undefined;
  region?: string | undefined;
  access_key_id?: string | undefined;
  secret_access_key?: string | undefined;
  session_token?: string | undefined;
  force_path_style?: boolean | undefined;
}

/** The key of an object below a remote's root: `sha256/ab/cdef…`, the same as the cache. */
export function objectKey(digest: Digest): string {
  const hex = digest.slice('sha256:'.length);
  return `sha256/${hex.slice(0, 2)}/${hex.slice(2)}`;
}

/** The inverse of `objectKey` for a key relative to the root; undefined for foreign keys. */
export function digestOfKey(key: string): Digest | undefined {
  const match = /^sha256\/([0-9a-f]{2})\/([0-9a-f]{62})$/.exec(key);
  return match ? `sha256:${match[1]}${match[2]}` : undefined;
}
