/**
 * Writes a tar stream from entries already in their final order. Content comes from memory,
 * from a file (streamed; a file whose size changed since it was listed is refused), or from
 * another stream (when re-writing an archive).
 */
import fs from 'node:fs';
import { LedgeError } from '../../core/errors.js';
import { oneLine } from '../image-errors.js';
import { END_OF_ARCHIVE, encodeHeader, padding, type TarHeader } from './tar-format.js';

export interface TarWriteEntry {
  header: TarHeader;
  content?: Uint8Array;
  /** A file to stream the content from. */
  source?: string;
  /** A stream of the content (exactly header.size bytes). */
  body?: AsyncIterable<Buffer>;
}

function changed(path: string, expected: number, actual: number): LedgeError {
  return new LedgeError('file-changed', `${oneLine(path)} changed while the layer was built`, {
    hint: `it had ${expected} bytes when listed and ${actual} when read; rebuild when nothing writes to it`,
  });
}

export async function* writeTar(
  entries: Iterable<TarWriteEntry> | AsyncIterable<TarWriteEntry>,
): AsyncGenerator<Buffer> {
  for await (const entry of entries) {
    const { header } = entry;
    yield encodeHeader(header);
    if (header.type !== 'file' || header.size === 0) {
      if (entry.body) for await (const _ of entry.body); // drain
      continue;
    }
    let written = 0;
    if (entry.content) {
      written = entry.content.length;
      yield Buffer.from(entry.content);
    } else if (entry.source) {
      for await (const chunk of fs.createReadStream(entry.source, { highWaterMark: 1 << 20 })) {
        written += (chunk as Buffer).length;
        if (written > header.size) throw changed(entry.source, header.size, written);
        yield chunk as Buffer;
      }
    } else if (entry.body) {
      for await (const chunk of entry.body) {
        written += chunk.length;
        yield chunk;
      }
    }
    if (written !== header.size) throw changed(entry.source ?? header.path, header.size, written);
    const pad = padding(written);
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield END_OF_ARCHIVE;
}
