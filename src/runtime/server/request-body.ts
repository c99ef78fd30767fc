/**
 * Request bodies as JSON, with the limits enforced while reading: a declared Content-Length over
 * the limit is refused before a byte is read, and a body streamed past it (chunked, or lying
 * about its length) is refused as soon as it crosses it, without buffering the rest. The bytes
 * must be UTF-8 (checked, not replaced), and the text JSON.
 */
import type { IncomingMessage } from 'node:http';
import { ServerError } from './http-errors.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

const tooLarge = (limit: number) =>
  new ServerError('body-too-large', `request body is larger than the limit of ${limit} bytes`);

/** Reads a Node request body up to `limit` bytes. */
function readIncoming(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (incoming.destroyed) {
      reject(
        new ServerError('body-incomplete', 'the client closed the connection before sending the whole body'),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onAbort);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop collecting; the stream stays flowing, so the rest is read and dropped and the
        // client gets its 413 instead of a reset connection.
        cleanup();
        chunks.length = 0;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onAbort = () => {
      cleanup();
      reject(
        new ServerError('body-incomplete', 'the client closed the connection before sending the whole body'),
      );
    };
    const onClose = () => {
      if (incoming.readableEnded) onEnd();
      else onAbort();
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onAbort);
    incoming.on('close', onClose);
  });
}

/** Reads a web Request body up to `limit` bytes (used when there is no Node request: app.request()). */
async function readWeb(request: Request, limit: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/**
 * The body of `request` (from `incoming` when served by Node's HTTP server) parsed as JSON.
 * Throws a ServerError: 413 over `limit`, 400 when empty, not UTF-8 or not JSON.
 */
export async function readJsonBody(
  request: Request,
  incoming: IncomingMessage | undefined,
  limit: number,
): Promise<unknown> {
  // From Node's request when there is one: a web Request's headers are built on first access.
  const declared = incoming ? incoming.headers['content-length'] : request.headers.get('content-length');
  if (declared != null && Number(declared) > limit) throw tooLarge(limit);
  const bytes =
    incoming && !incoming.readableDidRead
      ? await readIncoming(incoming, limit)
      : await readWeb(request, limit);
  if (bytes.byteLength === 0) throw new ServerError('empty-body', 'request body is empty; expected JSON');
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new ServerError('not-utf8', 'body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ServerError(
      'bad-json',
      `body is not valid JSON: ${detail.length > 200 ? `${detail.slice(0, 200)}…` : detail}`,
    );
  }
}
