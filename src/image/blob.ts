/**
 * Blob bytes in motion: every blob read from a layout, a cache or a registry passes through
 * `verifyingStream`, which hashes while streaming and fails the stream, before its end is
 * signalled, when the size or the digest differs from the descriptor. A consumer that writes
 * only after a clean end therefore never keeps a corrupt blob.
 */
import { createHash } from 'node:crypto';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { type Digest, digestFromHex } from '../core/digest.js';
import { digestMismatch, sizeMismatch, tooLarge } from './image-errors.js';

export interface BlobRef {
  digest: Digest;
  size: number;
}

/** A Transform that passes bytes through and checks them against `expected` at the end. */
export function verifyingStream(expected: BlobRef, where: string): Transform {
  const hash = createHash('sha256');
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > expected.size) {
        callback(sizeMismatch(where, expected.size, seen));
        return;
      }
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      if (seen !== expected.size) {
        callback(sizeMismatch(where, expected.size, seen));
        return;
      }
      const actual = digestFromHex(hash.digest('hex'));
      callback(actual === expected.digest ? null : digestMismatch(where, expected.digest, actual));
    },
  });
}

/** Pipes `source` through a verifier; errors on either side end up on the returned stream. */
export function verified(source: Readable, expected: BlobRef, where: string): Readable {
  const check = verifyingStream(expected, where);
  source.on('error', (error) => check.destroy(error));
  check.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  return source.pipe(check);
}

/** A Transform that hashes and counts what flows through it, readable after the end. */
export class HashingStream extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  /** Only after the stream has ended. */
  digest(): Digest {
    return digestFromHex(this.hash.copy().digest('hex'));
  }
}

/** Reads a whole (small) stream into memory, refusing more than `limit` bytes. */
export async function readAll(
  source: AsyncIterable<Uint8Array>,
  limit: number,
  where: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > limit) throw tooLarge(where, limit);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** Manifests, indexes and configs are small; anything bigger is refused before parsing. */
export const JSON_BLOB_LIMIT = 8 * 1024 * 1024;
