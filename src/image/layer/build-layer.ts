/**
 * Layers made by ledge: a deterministic tar (see `layer-files.ts`), gzip-compressed with a
 * header that carries no name and no time (and a fixed OS byte), or left uncompressed, and
 * stored in a `BlobStore`.
 *
 * gzip level 6 (zlib's default, as Docker uses): on ONNX Runtime's shared library it is
 * within 0.2% of level 9's size at ~60% of its time (on JavaScript within 1%, at 30%). The
 * level is part of what the compressed digest depends on, so it is an option.
 *
 * A rebuild first hashes the uncompressed tar (cheap) and reuses the stored blob that this
 * diffID compressed to last time, so a warm build does not recompress unchanged layers.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Digest } from '../../core/digest.js';
import { LedgeError } from '../../core/errors.js';
import type { BlobRef } from '../blob.js';
import { HashingStream } from '../blob.js';
import type { BlobStore } from '../blob-store.js';
import type { Layer } from '../image.js';
import { MediaType } from '../media-types.js';
import { type LayerFile, layerEntries } from './layer-files.js';
import { writeTar } from './tar-writer.js';

export const DEFAULT_GZIP_LEVEL = 6;

export interface LayerBuildOptions {
  /** Where the compressed blob is written. */
  store: BlobStore;
  /** The mtime of every entry, in seconds since the epoch (default 0; see `sourceDateEpoch`). */
  mtime?: number;
  /**
   * `gzip` (default) or `none`: an uncompressed layer (`…layer.v1.tar`), whose digest is its
   * diffID. For incompressible content (ONNX weights) `none` saves the build's compression
   * time and the device's decompression, for about the same bytes on the wire.
   */
  compression?: 'gzip' | 'none';
  /** gzip level 1–9 (default 6). */
  gzipLevel?: number;
  /** Descriptor annotations, e.g. { 'org.opencontainers.image.title': 'model' }. */
  annotations?: Record<string, string>;
}

/** A layer just built: its blob is in the store; sizes are known. */
export interface BuiltLayer extends Layer {
  /** Bytes of the uncompressed tar. */
  readonly uncompressedSize: number;
  /** Whether the compressed blob was reused from an earlier build of the same content. */
  readonly reused: boolean;
}

/** `SOURCE_DATE_EPOCH` (reproducible-builds.org) as seconds, or 0 when unset. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.SOURCE_DATE_EPOCH;
  if (value === undefined || value === '') return 0;
  if (!/^\d+$/.test(value)) {
    throw new LedgeError('config', `SOURCE_DATE_EPOCH='${value}' is not a number of seconds`, {
      hint: 'set it to a Unix time, e.g. $(git log -1 --format=%ct)',
    });
  }
  return Number(value);
}

/** Builds a layer from files (paths in the image, content in memory or on disk). */
export async function buildLayer(
  files: readonly LayerFile[],
  options: LayerBuildOptions,
): Promise<BuiltLayer> {
  const entries = layerEntries(files, options.mtime ?? 0);
  return layerFromTarStream(() => writeTar(entries), options, true);
}

/**
 * Compresses a tar stream into a stored layer. `tar` is called once, or twice when
 * `replayable` (first to hash the tar and look for a reusable blob, then to compress).
 */
export async function layerFromTarStream(
  tar: () => AsyncIterable<Buffer>,
  options: LayerBuildOptions,
  replayable: boolean,
): Promise<BuiltLayer> {
  const level = options.gzipLevel ?? DEFAULT_GZIP_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 9) {
    throw new LedgeError('usage', `gzip level ${level} is not between 1 and 9`);
  }
  const gzip = (options.compression ?? 'gzip') === 'gzip';
  const recipe = gzip ? `gzip-${level}` : 'none';
  const mediaType = gzip ? MediaType.ociLayerGzip : MediaType.ociLayer;
  const { store } = options;
  const made = (blob: BlobRef, diffId: Digest, size: number, reused: boolean) =>
    makeLayer(store, { mediaType, ...blob }, diffId, size, reused, options.annotations);
  if (replayable) {
    const uncompressed = new HashingStream();
    await pipeline(Readable.from(tar()), uncompressed, devNull());
    const diffId = uncompressed.digest();
    const reused = gzip
      ? store.recall(diffId, recipe)
      : store.has(diffId, uncompressed.bytes)
        ? { digest: diffId, size: uncompressed.bytes }
        : undefined;
    if (reused) return made(reused, diffId, uncompressed.bytes, true);
  }
  const uncompressed = new HashingStream();
  const source = Readable.from(tar()).pipe(uncompressed);
  const blob = await store.write(gzip ? source.pipe(createGzip({ level })).pipe(fixedGzipHeader()) : source);
  const diffId = uncompressed.digest();
  if (gzip) store.remember(diffId, recipe, blob);
  return made(blob, diffId, uncompressed.bytes, false);
}

function makeLayer(
  store: BlobStore,
  blob: BlobRef & { mediaType: string },
  diffId: Digest,
  uncompressedSize: number,
  reused: boolean,
  annotations: Record<string, string> | undefined,
): BuiltLayer {
  const descriptor = { mediaType: blob.mediaType, digest: blob.digest, size: blob.size };
  return {
    descriptor:
      annotations && Object.keys(annotations).length > 0 ? { ...descriptor, annotations } : descriptor,
    diffId,
    uncompressedSize,
    reused,
    open: async () => store.open(descriptor),
  };
}

function devNull(): Transform {
  return new Transform({
    transform(_chunk, _encoding, callback) {
      callback();
    },
  });
}

/**
 * zlib writes mtime 0 and no file name already; this also fixes the OS byte (offset 9) to
 * 255 "unknown", as Go's compress/gzip does, so the header does not depend on the build host.
 */
function fixedGzipHeader(): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (seen <= 9 && seen + chunk.length > 9) {
        const copy = Buffer.from(chunk);
        copy[9 - seen] = 0xff;
        chunk = copy;
      }
      seen += chunk.length;
      callback(null, chunk);
    },
  });
}
