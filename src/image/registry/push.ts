/**
 * Pushing to a registry: every blob the registry lacks (a HEAD per blob decides; blobs
 * shared between the images of an index go once), then the manifests (each image by
 * digest when pushing an index), then the tag. The registry answers each manifest PUT with
 * the digest it computed, which must be ours.
 */
import { forEachLimit, withRetries } from '../../core/concurrency.js';
import type { Digest } from '../../core/digest.js';
import { LedgeError } from '../../core/errors.js';
import { blobsOf, type Image, type ImageIndex } from '../image.js';
import { digestMismatch } from '../image-errors.js';
import { type UploadMode, uploadBlob } from './blob-upload.js';
import { formatReference, type ImageReference, parseReference } from './reference.js';
import { RegistryClient, type RegistryOptions } from './registry-client.js';

export interface PushOptions extends RegistryOptions {
  /**
   * `auto` (default): blobs up to `chunkSize` in one PUT, bigger ones in chunks.
   * `monolithic`/`chunked`: always that way.
   */
  upload?: 'auto' | UploadMode;
  /** Chunk size for chunked uploads, in bytes (default 16 MiB). */
  chunkSize?: number;
  /** Blobs uploaded at once (default 3). */
  concurrency?: number;
  /** Reuse a client (and its tokens) across calls. */
  client?: RegistryClient;
  /** Called after each blob: uploaded, or skipped because the registry had it. */
  onBlob?: (event: { digest: Digest; size: number; uploaded: boolean }) => void;
}

export interface PushResult {
  /** What was pushed, by digest: `registry/repository@sha256:…`. */
  reference: string;
  digest: Digest;
  uploaded: Digest[];
  skipped: Digest[];
  bytesUploaded: number;
}

export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;

export async function push(
  reference: string | ImageReference,
  subject: Image | ImageIndex,
  options: PushOptions = {},
): Promise<PushResult> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  if (ref.digest && ref.digest !== subject.digest) {
    throw new LedgeError('usage', `cannot push ${subject.digest} as ${formatReference(ref)}`, {
      hint: 'push to a tag, or to the digest of what is pushed',
    });
  }
  const client = options.client ?? new RegistryClient(ref.registry, options);
  const name = `${ref.registry}/${ref.repository}`;
  const target = { client, repository: ref.repository, name };
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const result: PushResult = {
    reference: `${name}@${subject.digest}`,
    digest: subject.digest,
    uploaded: [],
    skipped: [],
    bytesUploaded: 0,
  };

  await forEachLimit(blobsOf(subject, { manifests: false }), options.concurrency ?? 3, async (blob) => {
    const { digest, size } = blob.descriptor;
    if (await blobExists(client, ref.repository, name, digest)) {
      result.skipped.push(digest);
      options.onBlob?.({ digest, size, uploaded: false });
      return;
    }
    const mode: UploadMode =
      options.upload === 'monolithic' || options.upload === 'chunked'
        ? options.upload
        : size <= chunkSize
          ? 'monolithic'
          : 'chunked';
    await withRetries(() => uploadBlob(target, { digest, size }, blob.open, mode, chunkSize));
    result.uploaded.push(digest);
    result.bytesUploaded += size;
    options.onBlob?.({ digest, size, uploaded: true });
  });

  if (subject.kind === 'index') {
    for (const image of subject.images) await putManifest(client, ref.repository, name, image, image.digest);
  }
  await putManifest(client, ref.repository, name, subject, ref.digest ?? ref.tag ?? subject.digest);
  result.uploaded.sort();
  result.skipped.sort();
  return result;
}

async function blobExists(
  client: RegistryClient,
  repository: string,
  name: string,
  digest: Digest,
): Promise<boolean> {
  const response = await withRetries(() =>
    client.request(repository, ['pull', 'push'], {
      method: 'HEAD',
      path: `/v2/${repository}/blobs/${digest}`,
      ok: [200, 404],
      what: `blob ${name}@${digest}`,
    }),
  );
  await response.body?.cancel();
  return response.status === 200;
}

async function putManifest(
  client: RegistryClient,
  repository: string,
  name: string,
  subject: Image | ImageIndex,
  tagOrDigest: string,
): Promise<void> {
  const what = `manifest ${name}${tagOrDigest.startsWith('sha256:') ? '@' : ':'}${tagOrDigest}`;
  const response = await withRetries(() =>
    client.request(repository, ['pull', 'push'], {
      method: 'PUT',
      path: `/v2/${repository}/manifests/${tagOrDigest}`,
      headers: { 'content-type': subject.mediaType },
      body: subject.rawManifest,
      ok: [200, 201],
      what,
    }),
  );
  await response.body?.cancel();
  const stored = response.headers.get('docker-content-digest');
  if (stored && stored !== subject.digest) throw digestMismatch(what, subject.digest, stored as Digest);
}
