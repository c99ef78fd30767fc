/**
 * Pulling from a registry: the manifest (or index, then the wanted platform's manifest), the
 * config, and lazily the layers. Every byte is checked against its digest: manifests and
 * configs before they are parsed, layers while they stream (a mismatch fails the stream, so
 * nothing downstream keeps the blob). With a `cache`, layers are stored once and reused.
 */
import { Readable } from 'node:stream';
import { withRetries } from '../../core/concurrency.js';
import { type Digest, sha256 } from '../../core/digest.js';
import { JSON_BLOB_LIMIT, readAll, verified } from '../blob.js';
import type { BlobStore } from '../blob-store.js';
import { type Image, type ImageIndex, imageFromParts, indexFromParts, type Layer } from '../image.js';
import {
  digestMismatch,
  imageNotFound,
  platformNotFound,
  tooLarge,
  unsupportedMediaType,
} from '../image-errors.js';
import { isImageManifestMediaType, isIndexMediaType, MANIFEST_ACCEPT } from '../media-types.js';
import {
  checkImageManifest,
  checkIndexManifest,
  type Descriptor,
  type Platform,
  parseJson,
} from '../oci-spec.js';
import { formatPlatform, hostPlatform, parsePlatform, platformMatches } from '../platform.js';
import { formatReference, type ImageReference, parseReference } from './reference.js';
import { RegistryClient, type RegistryOptions } from './registry-client.js';

export interface PullOptions extends RegistryOptions {
  /** Which image of an index (default: the platform this process runs on). */
  platform?: Platform | string;
  /** Store layers here as they are first read, and read them from here afterwards. */
  cache?: BlobStore;
  /** Reuse a client (and its tokens) across calls. */
  client?: RegistryClient;
}

interface Fetched {
  bytes: Buffer;
  mediaType: string | undefined;
  digest: Digest;
}

function clientFor(reference: ImageReference, options: PullOptions): RegistryClient {
  return options.client ?? new RegistryClient(reference.registry, options);
}

async function fetchManifest(
  client: RegistryClient,
  reference: ImageReference,
  ref: string,
): Promise<Fetched> {
  const name = `${reference.registry}/${reference.repository}`;
  const what = `${name}${ref.startsWith('sha256:') ? '@' : ':'}${ref}`;
  const response = await withRetries(() =>
    client.request(reference.repository, ['pull'], {
      method: 'GET',
      path: `/v2/${reference.repository}/manifests/${ref}`,
      headers: { accept: MANIFEST_ACCEPT },
      what,
      notFound: () =>
        imageNotFound(
          what,
          `check the repository and ${ref.startsWith('sha256:') ? 'digest' : 'tag'} (the registry has no such image)`,
        ),
    }),
  );
  const bytes = Buffer.from(await response.arrayBuffer());
  if (bytes.length > JSON_BLOB_LIMIT) throw tooLarge(what, JSON_BLOB_LIMIT);
  const digest = sha256(bytes);
  // By digest, the bytes must hash to it; by tag, to what the registry says it served.
  const expected = ref.startsWith('sha256:') ? ref : response.headers.get('docker-content-digest');
  if (expected && expected !== digest) throw digestMismatch(`manifest ${what}`, expected as Digest, digest);
  const contentType = response.headers.get('content-type')?.split(';')[0]?.trim();
  let mediaType = contentType;
  try {
    const declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    if (typeof declared === 'string') mediaType = declared;
  } catch {
    // parsed (and reported) properly below
  }
  return { bytes, mediaType, digest };
}

async function fetchBlob(
  client: RegistryClient,
  reference: ImageReference,
  descriptor: Descriptor,
): Promise<Readable> {
  const what = `${reference.registry}/${reference.repository}@${descriptor.digest}`;
  const response = await withRetries(() =>
    client.request(reference.repository, ['pull'], {
      method: 'GET',
      path: `/v2/${reference.repository}/blobs/${descriptor.digest}`,
      // The digest is of the bytes as stored: no transparent decompression on the way.
      headers: { 'accept-encoding': 'identity' },
      what: `blob ${what}`,
      notFound: () =>
        imageNotFound(`blob ${what}`, 'the registry lost a blob its manifest lists; re-push the image'),
    }),
  );
  const body = response.body
    ? Readable.fromWeb(response.body as import('node:stream/web').ReadableStream)
    : Readable.from([]);
  return verified(body, descriptor, `blob ${what}`);
}

function remoteLayer(
  client: RegistryClient,
  reference: ImageReference,
  descriptor: Descriptor,
  diffId: Digest,
  cache: BlobStore | undefined,
): Layer {
  return {
    descriptor,
    diffId,
    open: async () => {
      if (!cache) return fetchBlob(client, reference, descriptor);
      if (!cache.has(descriptor.digest, descriptor.size)) {
        await cache.write(
          await fetchBlob(client, reference, descriptor),
          descriptor,
          `blob ${descriptor.digest}`,
        );
      }
      return cache.open(descriptor);
    },
  };
}

async function imageFromManifest(
  client: RegistryClient,
  reference: ImageReference,
  manifest: Fetched,
  what: string,
  cache: BlobStore | undefined,
): Promise<Image> {
  const { config } = checkImageManifest(parseJson(manifest.bytes, what), what);
  const rawConfig = await readAll(
    await fetchBlob(client, reference, config),
    JSON_BLOB_LIMIT,
    `config of ${what}`,
  );
  return imageFromParts(
    manifest.bytes,
    rawConfig,
    (descriptor, diffId) => remoteLayer(client, reference, descriptor, diffId, cache),
    what,
    manifest.mediaType,
  );
}

/** Whatever the reference names: an image, or an index with all its images. */
export async function pull(
  reference: string | ImageReference,
  options: PullOptions = {},
): Promise<Image | ImageIndex> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  const client = clientFor(ref, options);
  const what = formatReference(ref);
  const top = await fetchManifest(client, ref, ref.digest ?? ref.tag!);
  if (isImageManifestMediaType(top.mediaType))
    return imageFromManifest(client, ref, top, what, options.cache);
  if (!isIndexMediaType(top.mediaType)) throw unsupportedMediaType(what, top.mediaType);
  const index = checkIndexManifest(parseJson(top.bytes, what), what);
  const images: Image[] = [];
  for (const entry of index.manifests) {
    if (!isImageManifestMediaType(entry.mediaType)) continue;
    const child = await fetchManifest(client, ref, entry.digest);
    images.push(await imageFromManifest(client, ref, child, `${what}@${entry.digest}`, options.cache));
  }
  return indexFromParts(top.bytes, images, what, top.mediaType);
}

/** One image: the reference's image, or from its index the entry for the wanted platform. */
export async function pullImage(
  reference: string | ImageReference,
  options: PullOptions = {},
): Promise<Image> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  const client = clientFor(ref, options);
  const what = formatReference(ref);
  const top = await fetchManifest(client, ref, ref.digest ?? ref.tag!);
  if (isImageManifestMediaType(top.mediaType))
    return imageFromManifest(client, ref, top, what, options.cache);
  if (!isIndexMediaType(top.mediaType)) throw unsupportedMediaType(what, top.mediaType);
  const index = checkIndexManifest(parseJson(top.bytes, what), what);
  const wanted =
    typeof options.platform === 'string'
      ? parsePlatform(options.platform)
      : (options.platform ?? hostPlatform());
  const entry = index.manifests.find(
    (candidate) =>
      isImageManifestMediaType(candidate.mediaType) &&
      candidate.platform !== undefined &&
      platformMatches(candidate.platform, wanted),
  );
  if (!entry) {
    const available = index.manifests.flatMap((m) => (m.platform ? [formatPlatform(m.platform)] : []));
    throw platformNotFound(what, formatPlatform(wanted), available);
  }
  const child = await fetchManifest(client, ref, entry.digest);
  return imageFromManifest(client, ref, child, `${what}@${entry.digest}`, options.cache);
}
