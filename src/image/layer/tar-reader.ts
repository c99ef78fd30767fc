/**
 * Reading tar archives (plain or gzip) as a stream of entries, with the safety checks a layer
 * needs: an entry whose path is absolute or climbs out with `..` (or a hard link pointing
 * there) is refused with a one-line error before any of its bytes are used. Understands
 * ustar, PAX (`x`, `g`) and GNU long names (`L`, `K`); refuses sparse and unknown entries.
 */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { malformedTar } from '../image-errors.js';
import {
  BLOCK,
  decodeBlock,
  padding,
  parsePax,
  type RawHeader,
  safeEntryPath,
  type TarHeader,
  typeOfFlag,
} from './tar-format.js';

export interface TarReadEntry {
  header: TarHeader;
  /** The entry's content; skipped automatically if not read before the next entry. */
  body: AsyncIterable<Buffer>;
}

/** Pulls exact byte counts out of a chunked stream. */
class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private buffer: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.iterator =
      Symbol.asyncIterator in source
        ? source[Symbol.asyncIterator]()
        : (async function* () {
            yield* source;
          })();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.iterator.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    this.buffer =
      this.buffer.length === 0 ? Buffer.from(next.value) : Buffer.concat([this.buffer, next.value]);
    return true;
  }

  /** Exactly `n` bytes, or undefined at a clean end (nothing left); throws when cut short. */
  async exact(n: number, fail: (problem: string) => Error): Promise<Buffer | undefined> {
    while (this.buffer.length < n) {
      if (!(await this.fill())) {
        if (this.buffer.length === 0) return undefined;
        throw fail('archive is truncated');
      }
    }
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  /** Up to `max` (>0) bytes; throws at the end. */
  async some(max: number, fail: (problem: string) => Error): Promise<Buffer> {
    if (this.buffer.length === 0 && !(await this.fill())) throw fail('archive is truncated');
    const n = Math.min(max, this.buffer.length);
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  async skip(n: number, fail: (problem: string) => Error): Promise<void> {
    let left = n;
    while (left > 0) left -= (await this.some(left, fail)).length;
  }
}

/** Gunzips the stream when it starts with the gzip magic bytes; passes it through otherwise. */
export async function* maybeGunzip(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) return;
  const head = Buffer.from(first.value);
  const rest = (async function* () {
    yield head;
    for (let next = await iterator.next(); !next.done; next = await iterator.next())
      yield Buffer.from(next.value);
  })();
  if (head[0] === 0x1f && head[1] === 0x8b) {
    yield* Readable.from(rest).pipe(createGunzip()) as AsyncIterable<Buffer>;
  } else {
    yield* rest;
  }
}

const GNU_LONG_LIMIT = 1024 * 1024;

/** The entries of a tar archive, in archive order (`where` names it in errors). */
export async function* readTar(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  where: string,
): AsyncGenerator<TarReadEntry> {
  const fail = (problem: string) => malformedTar(where, problem);
  const reader = new ByteReader(source);
  let global = new Map<string, string>();
  let pending = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;

  for (;;) {
    const block = await reader.exact(BLOCK, fail);
    if (!block) return;
    const raw = decodeBlock(Buffer.from(block), fail);
    if (!raw) return; // end-of-archive marker
    const flag = raw.typeflag;

    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (raw.size > GNU_LONG_LIMIT) throw fail(`extended header of ${raw.size} bytes`);
      const body = raw.size === 0 ? Buffer.alloc(0) : Buffer.from((await reader.exact(raw.size, fail))!);
      await reader.skip(padding(raw.size), fail);
      if (flag === 'x') pending = new Map([...pending, ...parsePax(body, fail)]);
      else if (flag === 'g') global = new Map([...global, ...parsePax(body, fail)]);
      else {
        const text = body.toString('utf8').replace(/\0+$/, '');
        if (flag === 'L') longName = text;
        else longLink = text;
      }
      continue;
    }
    if (flag === 'V') {
      await reader.skip(raw.size + padding(raw.size), fail);
      continue;
    }
    const type = typeOfFlag(flag);
    if (!type) throw fail(`unsupported entry type '${flag}' at '${raw.name}'`);

    const pax = new Map([...global, ...pending]);
    const header = applyExtensions(raw, pax, longName, longLink, fail);
    pending = new Map();
    longName = undefined;
    longLink = undefined;

    // The archive's root (`./`) is a directory entry with nothing to check or keep.
    if (type === 'directory' && /^(\.?\/)*\.?$/.test(header.name) && header.name !== '') {
      await reader.skip(header.size + padding(header.size), fail);
      continue;
    }
    const path = safeEntryPath(header.name, where);
    if (type === 'hardlink') safeEntryPath(header.linkname, where);
    const size = type === 'file' ? header.size : 0;
    const dataSize = type === 'directory' || type === 'symlink' || type === 'hardlink' ? 0 : header.size;

    let left = dataSize;
    const body = (async function* () {
      while (left > 0) {
        const chunk = await reader.some(Math.min(left, 1 << 20), fail);
        left -= chunk.length;
        yield Buffer.from(chunk);
      }
    })();
    const entry: TarHeader = {
      path,
      type,
      mode: header.mode,
      uid: header.uid,
      gid: header.gid,
      size,
      mtime: header.mtime,
      uname: header.uname,
      gname: header.gname,
    };
    if (type === 'symlink' || type === 'hardlink') entry.linkpath = header.linkname;
    if (type === 'char' || type === 'block') {
      entry.devmajor = header.devmajor;
      entry.devminor = header.devminor;
    }
    yield { header: entry, body };
    if (left > 0) await reader.skip(left, fail);
    await reader.skip(padding(dataSize), fail);
  }
}

function applyExtensions(
  raw: RawHeader,
  pax: Map<string, string>,
  longName: string | undefined,
  longLink: string | undefined,
  fail: (problem: string) => Error,
): RawHeader {
  const header = { ...raw };
  if (longName !== undefined) header.name = longName;
  if (longLink !== undefined) header.linkname = longLink;
  const number = (key: string): number | undefined => {
    const value = pax.get(key);
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < 0) throw fail(`bad PAX ${key} '${value}'`);
    return parsed;
  };
  header.name = pax.get('path') ?? header.name;
  header.linkname = pax.get('linkpath') ?? header.linkname;
  header.uname = pax.get('uname') ?? header.uname;
  header.gname = pax.get('gname') ?? header.gname;
  header.size = number('size') ?? header.size;
  header.uid = number('uid') ?? header.uid;
  header.gid = number('gid') ?? header.gid;
  header.mtime = Math.floor(number('mtime') ?? header.mtime);
  if (!Number.isSafeInteger(header.size)) throw fail(`bad size for '${header.name}'`);
  return header;
}
