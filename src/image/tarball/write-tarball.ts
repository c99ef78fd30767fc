/**
 * A tarball for `docker load` and `podman load`, in the format `docker save` writes since
 * Docker 25: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) plus Docker's
 * `manifest.json` (`Config`, `RepoTags`, `Layers`) pointing at the same blobs, so both
 * readers of OCI archives and of Docker archives load it. Layers stay gzip-compressed (Docker
 * and Podman decompress them on load). Written to a temporary file and renamed into place.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fsyncFile, tempPathIn } from '../../core/atomic-fs.js';
import { type Digest, digestHex } from '../../core/digest.js';
import { LedgeError } from '../../core/errors.js';
import { blobsOf, canonicalJson, descriptorOf, type Image } from '../image.js';
import { ImageError, writeFailed } from '../image-errors.js';
import { type TarWriteEntry, writeTar } from '../layer/tar-writer.js';
import { MediaType } from '../media-types.js';
import { OCI_LAYOUT_FILE, REF_NAME_ANNOTATION } from '../oci-spec.js';
import { parseReference } from '../registry/reference.js';

export interface WriteTarballOptions {
  /** The name the loaded image gets, e.g. `ledge/imdb:3` or `127.0.0.1:5000/ledge/imdb:3`. */
  tag?: string;
}

export interface TarballResult {
  file: string;
  digest: Digest;
  bytes: number;
}

function blobName(digest: Digest): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

function fileEntry(name: string, size: number, body: AsyncIterable<Buffer>): TarWriteEntry {
  return { header: { path: name, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime: 0 }, body };
}

function dirEntry(name: string): TarWriteEntry {
  return { header: { path: name, type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 } };
}

function jsonEntry(name: string, value: unknown): TarWriteEntry {
  const bytes = canonicalJson(value);
  return fileEntry(name, bytes.length, Readable.from([bytes]));
}

async function* entries(image: Image, tag: string | undefined): AsyncGenerator<TarWriteEntry> {
  yield dirEntry('blobs');
  yield dirEntry('blobs/sha256');
  for (const blob of blobsOf(image, { manifests: true })) {
    yield fileEntry(blobName(blob.descriptor.digest), blob.descriptor.size, await blob.open());
  }
  const annotations: Record<string, string> = {};
  if (tag) {
    const reference = parseReference(tag);
    annotations['io.containerd.image.name'] =
      `${reference.registry}/${reference.repository}:${reference.tag ?? 'latest'}`;
    annotations[REF_NAME_ANNOTATION] = reference.tag ?? 'latest';
  }
  const descriptor = descriptorOf(image, Object.keys(annotations).length > 0 ? { annotations } : {});
  yield jsonEntry('index.json', { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [descriptor] });
  yield jsonEntry('manifest.json', [
    {
      Config: blobName(image.manifest.config.digest),
      RepoTags: tag ? [tag] : [],
      Layers: image.layers.map((layer) => blobName(layer.descriptor.digest)),
    },
  ]);
  yield jsonEntry('oci-layout', OCI_LAYOUT_FILE);
}

/** Writes `image` as a loadable tarball at `file` (all or nothing). */
export async function writeTarball(
  file: string,
  image: Image,
  options: WriteTarballOptions = {},
): Promise<TarballResult> {
  if (options.tag) parseReference(options.tag); // refuse a bad tag before writing anything
  const target = path.resolve(file);
  let temp: string | undefined;
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    temp = tempPathIn(path.dirname(target));
    await pipeline(
      Readable.from(writeTar(entries(image, options.tag))),
      fs.createWriteStream(temp, { flags: 'wx' }),
    );
    fsyncFile(temp);
    fs.renameSync(temp, target);
    temp = undefined;
    return { file: target, digest: image.digest, bytes: fs.statSync(target).size };
  } catch (error) {
    if (temp) fs.rmSync(temp, { force: true });
    if (error instanceof ImageError || error instanceof LedgeError) throw error;
    throw writeFailed(target, error);
  }
}
