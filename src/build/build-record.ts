/** What the metadata store keeps of a build (src/metadata/image-builds.ts), from its result. */
import { VERSION } from '../core/version.js';
import type { ImageBuildInput, RecordedOutput } from '../metadata/image-builds.js';
import type { ModelImageBuild } from './build-model-image.js';

export interface RegistryLink {
  /** The model's registry version and its row id, when it is registered. */
  version?: number | null | undefined;
  id?: number | null | undefined;
}

export function buildRecord(
  build: ModelImageBuild,
  outputs: readonly RecordedOutput[],
  options: {
    tag?: string | undefined;
    registered?: RegistryLink | undefined;
    properties?: Record<string, unknown>;
  } = {},
): ImageBuildInput {
  return {
    digest: build.digest,
    mediaType: build.subject.mediaType,
    modelName: build.model.name,
    modelVersion: options.registered?.version ?? null,
    modelVersionId: options.registered?.id ?? null,
    modelDigest: build.model.digest,
    baseRef: build.base.text,
    baseDigest: build.base.digest ?? build.platforms[0]?.base.digest ?? null,
    platforms: build.platforms.map((p) => ({
      platform: p.platform,
      digest: p.digest,
      base: p.base,
      layers: p.layers.map((layer) => ({
        role: layer.role,
        mediaType: layer.mediaType,
        digest: layer.digest,
        diffId: layer.diffId,
        size: layer.size,
        uncompressedSize: layer.uncompressedSize,
      })),
      size: p.size,
      uncompressedSize: p.uncompressedSize,
    })),
    size: build.size,
    tag: options.tag ?? null,
    outputs: [...outputs],
    gitCommit: build.source.commit ?? null,
    gitDirty: build.source.dirty ?? null,
    imageCreated: build.created,
    properties: {
      ledgeVersion: VERSION,
      pruned: build.pruned,
      modelVersion: build.model.version,
      timings: Object.fromEntries(Object.entries(build.timings).map(([k, v]) => [k, Math.round(v)])),
      ...options.properties,
    },
  };
}
