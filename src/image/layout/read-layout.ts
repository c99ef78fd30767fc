/**
 * Reading images from an OCI image layout directory. Manifests and configs are verified
 * before they are parsed; layers are verified as they stream.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Digest, digestHex } from '../../core/digest.js';
import { LedgeError } from '../../core/errors.js';
import { JSON_BLOB_LIMIT, readAll, verified } from '../blob.js';
import { type Image, type ImageIndex, imageFromParts, indexFromParts, platformOf } from '../image.js';
import { imageNotFound, platformNotFound, unsupportedMediaType } from '../image-errors.js';
import { isImageManifestMediaType, isIndexMediaType } from '../media-types.js';
import {
  checkImageManifest,
  checkIndexManifest,
  type Descriptor,
  type IndexManifest,
  type Platform,
  parseJson,
  REF_NAME_ANNOTATION,
} from '../oci-spec.js';
import { formatPlatform, hostPlatform, parsePlatform, platformMatches } from '../platform.js';

export interface ReadLayoutOptions {
  /** The `org.opencontainers.image.ref.name` to read (default: the layout's only entry). */
  tag?: string;
  /** For `readLayoutImage` on an index: which platform (default: this host's). */
  platform?: Platform | string;
}

function blobPath(dir: string, digest: Digest): string {
  return path.join(dir, 'blobs', 'sha256', digestHex(digest));
}

function openBlob(dir: string, descriptor: Descriptor) {
  const file = blobPath(dir, descriptor.digest);
  if (!fs.existsSync(file)) {
    throw imageNotFound(`blob ${descriptor.digest} in ${dir}`, 'the layout is incomplete; write it again');
  }
  return verified(fs.createReadStream(file, { highWaterMark: 1 << 20 }), descriptor, file);
}

async function readBlob(dir: string, descriptor: Descriptor): Promise<Buffer> {
  return readAll(openBlob(dir, descriptor), JSON_BLOB_LIMIT, blobPath(dir, descriptor.digest));
}

function readTopIndex(dir: string): IndexManifest {
  if (!fs.existsSync(dir)) {
    throw new LedgeError('path-not-found', `OCI layout ${dir} does not exist`, {
      hint: 'check the path, or write the base image there first',
    });
  }
  const marker = path.join(dir, 'oci-layout');
  if (!fs.existsSync(marker)) {
    throw new LedgeError('path-not-found', `${dir} is not an OCI image layout (no oci-layout file)`);
  }
  const where = path.join(dir, 'index.json');
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(where);
  } catch {
    throw new LedgeError('path-not-found', `${dir} is not an OCI image layout (no index.json)`);
  }
  return checkIndexManifest(parseJson(bytes, where), where);
}

/** The tags (ref names) a layout holds. */
export function layoutTags(dir: string): string[] {
  return readTopIndex(path.resolve(dir))
    .manifests.map((entry) => entry.annotations?.[REF_NAME_ANNOTATION])
    .filter((tag): tag is string => tag !== undefined);
}

function entryFor(dir: string, index: IndexManifest, tag: string | undefined): Descriptor {
  if (tag !== undefined) {
    const found = index.manifests.find((entry) => entry.annotations?.[REF_NAME_ANNOTATION] === tag);
    if (!found) {
      const tags = index.manifests.flatMap((entry) => entry.annotations?.[REF_NAME_ANNOTATION] ?? []);
      throw imageNotFound(
        `${dir}:${tag}`,
        tags.length > 0 ? `the layout has ${tags.join(', ')}` : 'the layout has no tags',
      );
    }
    return found;
  }
  if (index.manifests.length !== 1) {
    throw new LedgeError('usage', `${dir} holds ${index.manifests.length} images; say which with a tag`);
  }
  return index.manifests[0]!;
}

async function readImage(dir: string, descriptor: Descriptor, where: string): Promise<Image> {
  const rawManifest = await readBlob(dir, descriptor);
  const { config } = checkImageManifest(parseJson(rawManifest, where), where);
  const rawConfig = await readBlob(dir, config);
  return imageFromParts(
    rawManifest,
    rawConfig,
    (layer, diffId) => ({ descriptor: layer, diffId, open: async () => openBlob(dir, layer) }),
    where,
    descriptor.mediaType,
  );
}

async function readDescriptor(
  dir: string,
  descriptor: Descriptor,
  where: string,
): Promise<Image | ImageIndex> {
  if (isImageManifestMediaType(descriptor.mediaType)) return readImage(dir, descriptor, where);
  if (!isIndexMediaType(descriptor.mediaType)) throw unsupportedMediaType(where, descriptor.mediaType);
  const raw = await readBlob(dir, descriptor);
  const index = checkIndexManifest(parseJson(raw, where), where);
  const images: Image[] = [];
  for (const entry of index.manifests) {
    if (isImageManifestMediaType(entry.mediaType))
      images.push(await readImage(dir, entry, `${where}@${entry.digest}`));
  }
  return indexFromParts(raw, images, where, descriptor.mediaType);
}

/** The image or index stored under `tag` (or the only entry). */
export async function readLayout(dir: string, options: ReadLayoutOptions = {}): Promise<Image | ImageIndex> {
  const root = path.resolve(dir);
  const entry = entryFor(root, readTopIndex(root), options.tag);
  return readDescriptor(root, entry, options.tag ? `${root}:${options.tag}` : root);
}

/** One image: the entry itself, or from an index the image for the wanted platform. */
export async function readLayoutImage(dir: string, options: ReadLayoutOptions = {}): Promise<Image> {
  const subject = await readLayout(dir, options);
  if (subject.kind === 'image') return subject;
  const wanted =
    typeof options.platform === 'string'
      ? parsePlatform(options.platform)
      : (options.platform ?? hostPlatform());
  const found = subject.images.find((image) => platformMatches(platformOf(image), wanted));
  if (!found) {
    const available = subject.images.map((image) => formatPlatform(platformOf(image)));
    throw platformNotFound(path.resolve(dir), formatPlatform(wanted), available);
  }
  return found;
}
