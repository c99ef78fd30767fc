/**
 * Blob uploads (distribution spec "pushing blobs"): open a session with POST, then either
 * send everything in the final PUT (monolithic) or PATCH it in chunks with `Content-Range`
 * and close with an empty PUT carrying the digest (chunked). Memory stays bounded: the
 * monolithic body streams, and a chunk is at most `chunkSize` bytes.
 */
import type { Readable } from 'node:stream';
import { LedgeError } from '../../core/errors.js';
import type { BlobRef } from '../blob.js';
import { ImageError } from '../image-errors.js';
import type { RegistryClient } from './registry-client.js';

export type UploadMode = 'monolithic' | 'chunked';

export interface UploadTarget {
  client: RegistryClient;
  repository: string;
  /** `127.0.0.1:5000/ledge/app`, for messages. */
  name: string;
}

function location(response: Response, target: UploadTarget): string {
  const value = response.headers.get('location');
  if (!value) {
    throw new ImageError(
      'registry-error',
      'remote-error',
      `${target.name}: upload response without a Location`,
    );
  }
  return value;
}

async function startUpload(target: UploadTarget, blob: BlobRef): Promise<{ url: string; minChunk: number }> {
  const response = await target.client.request(target.repository, ['pull', 'push'], {
    method: 'POST',
    path: `/v2/${target.repository}/blobs/uploads/`,
    headers: { 'content-length': '0' },
    ok: [202],
    what: `upload of ${blob.digest} to ${target.name}`,
  });
  await response.body?.cancel();
  const minChunk = Number(response.headers.get('oci-chunk-min-length') ?? 0);
  return { url: location(response, target), minChunk: Number.isFinite(minChunk) ? minChunk : 0 };
}

function withDigest(client: RegistryClient, url: string, blob: BlobRef): string {
  const target = client.url(url);
  target.searchParams.set('digest', blob.digest);
  return target.toString();
}

/** Uploads one blob whose bytes `open()` streams. */
export async function uploadBlob(
  target: UploadTarget,
  blob: BlobRef,
  open: () => Promise<Readable>,
  mode: UploadMode,
  chunkSize: number,
): Promise<void> {
  const { client, repository } = target;
  const what = `upload of ${blob.digest} to ${target.name}`;
  const session = await startUpload(target, blob);
  let url = session.url;
  const source = await open();
  try {
    if (mode === 'monolithic') {
      const response = await client.request(repository, ['pull', 'push'], {
        method: 'PUT',
        path: withDigest(client, url, blob),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
        body: source,
        ok: [201],
        what,
      });
      await response.body?.cancel();
      return;
    }
    const size = Math.max(chunkSize, session.minChunk, 1);
    let offset = 0;
    const send = async (chunk: Buffer) => {
      const response = await client.request(repository, ['pull', 'push'], {
        method: 'PATCH',
        path: url,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(chunk.length),
          'content-range': `${offset}-${offset + chunk.length - 1}`,
        },
        body: chunk,
        ok: [202],
        what,
      });
      await response.body?.cancel();
      url = location(response, target);
      offset += chunk.length;
    };
    // One chunk buffer, refilled only after the previous PATCH has completed.
    const buffer = Buffer.allocUnsafe(size);
    let filled = 0;
    for await (const piece of source) {
      const bytes = piece as Buffer;
      let read = 0;
      while (read < bytes.length) {
        const n = Math.min(size - filled, bytes.length - read);
        bytes.copy(buffer, filled, read, read + n);
        filled += n;
        read += n;
        if (filled === size) {
          await send(buffer);
          filled = 0;
        }
      }
    }
    if (filled > 0) await send(buffer.subarray(0, filled));
    if (offset !== blob.size) {
      throw new LedgeError(
        'corrupt-object',
        `${what}: sent ${offset} bytes, the descriptor says ${blob.size}`,
      );
    }
    const response = await client.request(repository, ['pull', 'push'], {
      method: 'PUT',
      path: withDigest(client, url, blob),
      headers: { 'content-length': '0' },
      ok: [201],
      what,
    });
    await response.body?.cancel();
  } catch (error) {
    source.destroy();
    // Best effort: tell the registry to drop the session.
    await client
      .request(repository, ['pull', 'push'], { method: 'DELETE', path: url, ok: [204, 404], what })
      .then((response) => response.body?.cancel())
      .catch(() => undefined);
    throw error;
  }
}
