/**
 * The build as one pure function: a base image, layers on top (the model last, so a
 * model-only update changes only the top layer), the execution config, and fixed times.
 * Reading the base and writing the result are the transports' business.
 */
import {
  type Image,
  type ImageFormat,
  type ImageIndex,
  type IndexOptions,
  indexFromImages,
} from './image.js';
import {
  appendLayers,
  type ConfigChanges,
  isoTime,
  type LayerAddition,
  withAnnotations,
  withConfig,
} from './mutate.js';

/** Manifest annotation keys of the OCI image spec that a build fills in. */
export const Annotation = {
  baseDigest: 'org.opencontainers.image.base.digest',
  baseName: 'org.opencontainers.image.base.name',
  created: 'org.opencontainers.image.created',
  title: 'org.opencontainers.image.title',
  version: 'org.opencontainers.image.version',
  revision: 'org.opencontainers.image.revision',
  source: 'org.opencontainers.image.source',
} as const;

export interface BuildImageSpec {
  base: Image;
  /** Layers in stacking order; put the one that changes most often (the model) last. */
  layers: readonly LayerAddition[];
  config?: ConfigChanges;
  /** Fixed creation time in seconds since the epoch (default 0; see `sourceDateEpoch`). */
  created?: number;
  /** The base's reference (recorded as org.opencontainers.image.base.name). */
  baseName?: string;
  /** Extra manifest annotations. */
  annotations?: Record<string, string>;
  format?: ImageFormat;
}

export function buildImage(spec: BuildImageSpec): Image {
  const created = isoTime(spec.created ?? 0);
  const options = { created, ...(spec.format ? { format: spec.format } : {}) };
  let image = appendLayers(spec.base, spec.layers, options);
  image = withConfig(image, spec.config ?? {}, options);
  const annotations: Record<string, string> = { [Annotation.baseDigest]: spec.base.digest };
  if (spec.baseName) annotations[Annotation.baseName] = spec.baseName;
  return withAnnotations(image, { ...annotations, ...(spec.annotations ?? {}) }, options);
}

/** The multi-platform image: one index over per-platform builds. */
export function buildIndex(images: readonly Image[], options: IndexOptions = {}): ImageIndex {
  return indexFromImages(images, options);
}
