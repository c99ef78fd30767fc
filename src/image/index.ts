/**
 * ledge's daemonless image builder, as a library. The model (`Image`, `Layer`,
 * `ImageIndex`) and pure transforms live at the top; each transport is a folder with the
 * same verbs: `layout/` (OCI image layout: read, write), `tarball/` (docker/podman load:
 * write), `registry/` (distribution API: pull, push).
 *
 *     const store = new BlobStore('.ledge/cache/images');
 *     const base = await pullImage('docker.io/library/node:20-slim', { platform: 'linux/arm64', cache: store });
 *     const app = await buildLayer(filesFromDirectory('dist', { to: '/app' }), { store });
 *     const model = await buildLayer([{ path: '/model/model.onnx', source: 'model.onnx' }], { store });
 *     const image = buildImage({ base, layers: [{ layer: app }, { layer: model }], config: { … } });
 *     await push('registry.example.com/ledge/imdb:3', image);
 */
export { type BlobRef, verified, verifyingStream } from './blob.js';
export { BlobStore } from './blob-store.js';
export { Annotation, type BuildImageSpec, buildImage, buildIndex } from './build-image.js';
export {
  type Blob,
  blobsOf,
  canonicalJson,
  configBlob,
  descriptorOf,
  type Image,
  type ImageFormat,
  type ImageIndex,
  type IndexOptions,
  imageFromConfig,
  imageFromParts,
  indexFromImages,
  indexFromParts,
  type Layer,
  manifestBlob,
  platformOf,
} from './image.js';
export { ImageError, type ImageErrorReason, isImageError } from './image-errors.js';
export {
  type BuiltLayer,
  buildLayer,
  DEFAULT_GZIP_LEVEL,
  type LayerBuildOptions,
  sourceDateEpoch,
} from './layer/build-layer.js';
export { type DirectoryOptions, filesFromDirectory, imagePath, type LayerFile } from './layer/layer-files.js';
export { layerFromTar, type TarLayerOptions } from './layer/layer-from-tar.js';
export { encodeHeader, safeEntryPath, type TarEntryType, type TarHeader } from './layer/tar-format.js';
export { maybeGunzip, readTar, type TarReadEntry } from './layer/tar-reader.js';
export { type TarWriteEntry, writeTar } from './layer/tar-writer.js';
export { layoutTags, type ReadLayoutOptions, readLayout, readLayoutImage } from './layout/read-layout.js';
export {
  type LayoutIo,
  type LayoutResult,
  type WriteLayoutOptions,
  writeLayout,
} from './layout/write-layout.js';
export { isGzipLayer, isImageManifestMediaType, isIndexMediaType, MediaType } from './media-types.js';
export {
  appendLayers,
  type ConfigChanges,
  type HealthcheckSpec,
  isoTime,
  type LayerAddition,
  type MutateOptions,
  scratchImage,
  withAnnotations,
  withConfig,
} from './mutate.js';
export type {
  ContainerConfig,
  Descriptor,
  HealthConfig,
  HistoryEntry,
  ImageConfig,
  ImageManifest,
  IndexManifest,
  Platform,
} from './oci-spec.js';
export { formatPlatform, hostPlatform, parsePlatform, platformMatches } from './platform.js';
export { type PullOptions, pull, pullImage } from './registry/pull.js';
export { DEFAULT_CHUNK_SIZE, type PushOptions, type PushResult, push } from './registry/push.js';
export { formatReference, type ImageReference, parseReference } from './registry/reference.js';
export {
  RegistryClient,
  type RegistryCredentials,
  type RegistryOptions,
} from './registry/registry-client.js';
export { type TarballResult, type WriteTarballOptions, writeTarball } from './tarball/write-tarball.js';
