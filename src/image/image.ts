/**
 * The image model every transport shares (in the spirit of go-containerregistry's `v1`
 * package): a `Layer` is a blob plus its diffID, an `Image` is a config, a manifest and its
 * layers, an `ImageIndex` is a list of per-platform images. They are immutable values whose
 * manifest bytes, and so digests, are fixed when they are made; transforms in `mutate.ts`
 * return new values, and transports (`layout/`, `tarball/`, `registry/`) read and write them.
 */
import { Readable } from 'node:stream';
import { type Digest, sha256 } from '../core/digest.js';
import { LedgeError } from '../core/errors.js';
import { malformedJson, unsupportedMediaType } from './image-errors.js';
import { MediaType, ociLayerMediaType } from './media-types.js';
import {
  checkImageConfig,
  checkImageManifest,
  checkIndexManifest,
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
  type IndexManifest,
  type Platform,
  parseJson,
} from './oci-spec.js';

export interface Layer {
  /** mediaType, digest and size of the (compressed) blob; annotations if any. */
  readonly descriptor: Descriptor;
  /** sha256 of the uncompressed tar: what the config's rootfs.diff_ids lists. */
  readonly diffId: Digest;
  /** The blob's bytes, verified against the descriptor as they stream. */
  open(): Promise<Readable>;
}

export interface Image {
  readonly kind: 'image';
  readonly mediaType: string;
  readonly manifest: ImageManifest;
  readonly rawManifest: Buffer;
  readonly digest: Digest;
  readonly config: ImageConfig;
  readonly rawConfig: Buffer;
  readonly layers: readonly Layer[];
}

export interface ImageIndex {
  readonly kind: 'index';
  readonly mediaType: string;
  readonly manifest: IndexManifest;
  readonly rawManifest: Buffer;
  readonly digest: Digest;
  /** The per-platform images, in the index's order. */
  readonly images: readonly Image[];
}

/** `oci`: OCI media types (the default). `docker`: Docker v2 schema 2, for older engines. */
export type ImageFormat = 'oci' | 'docker';

export interface ImageFromConfigOptions {
  format?: ImageFormat;
  /** Manifest annotations (e.g. org.opencontainers.image.base.digest). */
  annotations?: Record<string, string>;
}

/** The serialised form of every JSON document ledge writes: compact, keys in creation order. */
export function canonicalJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function layerMediaType(mediaType: string, format: ImageFormat): string {
  const oci = ociLayerMediaType(mediaType);
  if (format === 'docker' && oci === MediaType.ociLayerGzip) return MediaType.dockerLayerGzip;
  return oci;
}

/** Makes an image from a config and its layers; the manifest is derived, so is the digest. */
export function imageFromConfig(
  config: ImageConfig,
  layers: readonly Layer[],
  options: ImageFromConfigOptions = {},
): Image {
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== layers.length || diffIds.some((id, i) => id !== layers[i]!.diffId)) {
    throw new LedgeError('usage', 'image config rootfs.diff_ids does not match the layers', {
      hint: 'build images with appendLayers/buildImage, which keep them in step',
    });
  }
  const format = options.format ?? 'oci';
  const rawConfig = canonicalJson(config);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: format === 'oci' ? MediaType.ociManifest : MediaType.dockerManifest,
    config: {
      mediaType: format === 'oci' ? MediaType.ociConfig : MediaType.dockerConfig,
      digest: sha256(rawConfig),
      size: rawConfig.length,
    },
    layers: layers.map((layer) => ({
      ...layer.descriptor,
      mediaType: layerMediaType(layer.descriptor.mediaType, format),
    })),
  };
  if (options.annotations && Object.keys(options.annotations).length > 0) {
    manifest.annotations = sortedRecord(options.annotations);
  }
  const rawManifest = canonicalJson(manifest);
  return {
    kind: 'image',
    mediaType: manifest.mediaType!,
    manifest,
    rawManifest,
    digest: sha256(rawManifest),
    config,
    rawConfig,
    layers: layers.map((layer, i) => withDescriptor(layer, manifest.layers[i]!)),
  };
}

function withDescriptor(layer: Layer, descriptor: Descriptor): Layer {
  if (descriptor.mediaType === layer.descriptor.mediaType) return layer;
  return { descriptor, diffId: layer.diffId, open: () => layer.open() };
}

/**
 * An image from stored bytes (a registry, a layout): the bytes are kept as they are, so the
 * digest is the one the source knows. `layers` must follow the manifest's layer list.
 */
export function imageFromParts(
  rawManifest: Buffer,
  rawConfig: Buffer,
  layerFor: (descriptor: Descriptor, diffId: Digest) => Layer,
  where: string,
  mediaTypeHint?: string,
): Image {
  const manifest = checkImageManifest(parseJson(rawManifest, where), where);
  const mediaType = manifest.mediaType ?? mediaTypeHint;
  if (mediaType !== MediaType.ociManifest && mediaType !== MediaType.dockerManifest) {
    throw unsupportedMediaType(where, mediaType);
  }
  if (sha256(rawConfig) !== manifest.config.digest) {
    throw malformedJson(where, 'config bytes do not match the manifest');
  }
  const config = checkImageConfig(parseJson(rawConfig, `${where} config`), `${where} config`);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw malformedJson(where, `${manifest.layers.length} layers but ${diffIds.length} rootfs diff_ids`);
  }
  return {
    kind: 'image',
    mediaType,
    manifest,
    rawManifest,
    digest: sha256(rawManifest),
    config,
    rawConfig,
    layers: manifest.layers.map((descriptor, i) => layerFor(descriptor, diffIds[i]!)),
  };
}

export interface IndexOptions {
  format?: ImageFormat;
  annotations?: Record<string, string>;
}

/** An index of per-platform images, each entry carrying its platform from the image config. */
export function indexFromImages(images: readonly Image[], options: IndexOptions = {}): ImageIndex {
  if (images.length === 0) throw new LedgeError('usage', 'an image index needs at least one image');
  const seen = new Set<string>();
  for (const image of images) {
    const key = JSON.stringify(platformOf(image));
    if (seen.has(key)) {
      throw new LedgeError('usage', `two images in the index are for the same platform ${key}`);
    }
    seen.add(key);
  }
  const manifest: IndexManifest = {
    schemaVersion: 2,
    mediaType: options.format === 'docker' ? MediaType.dockerManifestList : MediaType.ociIndex,
    manifests: images.map((image) => descriptorOf(image, { platform: platformOf(image) })),
  };
  if (options.annotations && Object.keys(options.annotations).length > 0) {
    manifest.annotations = sortedRecord(options.annotations);
  }
  const rawManifest = canonicalJson(manifest);
  return {
    kind: 'index',
    mediaType: manifest.mediaType!,
    manifest,
    rawManifest,
    digest: sha256(rawManifest),
    images,
  };
}

/** An index from stored bytes; `images` are the entries that are images, in order. */
export function indexFromParts(
  rawManifest: Buffer,
  images: readonly Image[],
  where: string,
  mediaTypeHint?: string,
): ImageIndex {
  const manifest = checkIndexManifest(parseJson(rawManifest, where), where);
  const mediaType = manifest.mediaType ?? mediaTypeHint ?? MediaType.ociIndex;
  return { kind: 'index', mediaType, manifest, rawManifest, digest: sha256(rawManifest), images };
}

/** The descriptor pointing at an image or index. */
export function descriptorOf(subject: Image | ImageIndex, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType: subject.mediaType, digest: subject.digest, size: subject.rawManifest.length, ...extra };
}

/** Any blob with its descriptor and a way to stream its bytes. */
export interface Blob {
  readonly descriptor: Descriptor;
  open(): Promise<Readable>;
}

/** The config blob of an image, as a layer-like blob (for writing it anywhere). */
export function configBlob(image: Image): Blob {
  return { descriptor: image.manifest.config, open: async () => Readable.from([image.rawConfig]) };
}

/** A manifest (of an image or index) as a blob. */
export function manifestBlob(subject: Image | ImageIndex): Blob {
  return { descriptor: descriptorOf(subject), open: async () => Readable.from([subject.rawManifest]) };
}

/**
 * Every blob of an image or index once (blobs shared between platforms appear once): configs
 * and layers, and with `manifests` also the manifests (for layouts and archives; registries
 * take manifests through their own endpoint).
 */
export function blobsOf(subject: Image | ImageIndex, options: { manifests: boolean }): Blob[] {
  const blobs = new Map<Digest, Blob>();
  const add = (blob: Blob) => {
    if (!blobs.has(blob.descriptor.digest)) blobs.set(blob.descriptor.digest, blob);
  };
  const images = subject.kind === 'image' ? [subject] : subject.images;
  for (const image of images) {
    add(configBlob(image));
    for (const layer of image.layers) add(layer);
    if (options.manifests) add(manifestBlob(image));
  }
  if (options.manifests && subject.kind === 'index') add(manifestBlob(subject));
  return [...blobs.values()];
}

export function platformOf(image: Image): Platform {
  const { os, architecture, variant } = image.config;
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
