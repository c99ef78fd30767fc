/**
 * The media types ledge reads and writes. Images are written as OCI (`application/vnd.oci.*`);
 * Docker's v2 schema 2 types are read (Docker Hub serves most base images with them) and mapped
 * to their OCI equivalents when an image is rebuilt: the blobs are byte-for-byte the same.
 */

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** What a registry is asked for when fetching a manifest by tag or digest. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
].join(', ');

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

export function isImageManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest;
}

/** Layer media types whose blobs are gzip streams (both OCI and Docker spellings). */
export function isGzipLayer(mediaType: string): boolean {
  return (
    mediaType === MediaType.ociLayerGzip ||
    mediaType === MediaType.dockerLayerGzip ||
    mediaType === MediaType.dockerForeignLayerGzip ||
    mediaType === MediaType.ociLayerNondistributableGzip
  );
}

/** The OCI spelling of a layer media type (Docker's gzip layer is the OCI gzip layer). */
export function ociLayerMediaType(mediaType: string): string {
  if (mediaType === MediaType.dockerLayerGzip) return MediaType.ociLayerGzip;
  if (mediaType === MediaType.dockerForeignLayerGzip) return MediaType.ociLayerNondistributableGzip;
  return mediaType;
}
