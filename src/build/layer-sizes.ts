/**
 * Uncompressed sizes of layers made elsewhere (a pulled base image), for the size figures:
 * counted once by streaming the blob through gunzip, then remembered beside the blob store.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { writeFileAtomicSync } from '../core/atomic-fs.js';
import { digestHex } from '../core/digest.js';
import { type BlobStore, isGzipLayer, type Layer, MediaType } from '../image/index.js';

export async function uncompressedSize(layer: Layer, store: BlobStore): Promise<number | null> {
  const { mediaType, digest, size } = layer.descriptor;
  if (mediaType === MediaType.ociLayer) return size;
  if (!isGzipLayer(mediaType)) return null;
  const memo = path.join(store.dir, 'uncompressed-sizes', digestHex(digest));
  try {
    const text = fs.readFileSync(memo, 'utf8').trim();
    if (/^\d+$/.test(text)) return Number(text);
  } catch {
    // not counted yet
  }
  let bytes = 0;
  await pipeline(
    await layer.open(),
    createGunzip(),
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        callback();
      },
    }),
  );
  fs.mkdirSync(path.dirname(memo), { recursive: true });
  writeFileAtomicSync(memo, `${bytes}\n`, { durable: false });
  return bytes;
}
