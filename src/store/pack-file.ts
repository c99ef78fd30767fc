/**
 * Packs: many small objects in one file. Creating a file costs ~30x more than appending to
 * one on common filesystems, so `ledge add` of thousands of small files appends them to a
 * few pack files instead of creating one cache file each. A pack `<id>.pack` is the objects'
 * bytes back to back; its index `<id>.idx` lists (digest, offset, size) and is written last,
 * atomically: a pack without an index does not exist as far as readers are concerned.
 *
 * Index format (little-endian): magic `LEDGEIDX` (8 bytes), version u32 = 1, count u32, then
 * `count` records of 32-byte sha256, u64 offset, u64 size.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempPathIn, writeFileAtomicSync } from '../core/atomic-fs.js';
import { type Digest, digestFromHex } from '../core/digest.js';
import { isErrno, LedgeError } from '../core/errors.js';

const MAGIC = Buffer.from('LEDGEIDX');
const HEADER = 16;
const RECORD = 48;

/** Objects up to this size go into packs; larger ones get a file of their own. */
export const PACK_MAX_OBJECT = 512 << 10;
/** A pack is closed once it holds this many bytes. */
export const PACK_MAX_BYTES = 64 << 20;

export interface PackEntry {
  digest: Digest;
  offset: number;
  size: number;
}

export function encodeIndex(entries: PackEntry[]): Buffer {
  const out = Buffer.alloc(HEADER + RECORD * entries.length);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(1, 8);
  out.writeUInt32LE(entries.length, 12);
  entries.forEach((entry, i) => {
    const at = HEADER + i * RECORD;
    out.write(entry.digest.slice(7), at, 32, 'hex');
    out.writeBigUInt64LE(BigInt(entry.offset), at + 32);
    out.writeBigUInt64LE(BigInt(entry.size), at + 40);
  });
  return out;
}

/** Validates an index's header and length; returns its record count. */
function indexCount(data: Buffer, where: string): number {
  if (data.length < HEADER || !data.subarray(0, 8).equals(MAGIC) || data.readUInt32LE(8) !== 1) {
    throw new LedgeError('corrupt-object', `${where} is not a ledge pack index`, {
      hint: 'run `ledge fsck --repair`',
    });
  }
  const count = data.readUInt32LE(12);
  if (data.length !== HEADER + count * RECORD) {
    throw new LedgeError('corrupt-object', `${where} is truncated`, { hint: 'run `ledge fsck --repair`' });
  }
  return count;
}

export function decodeIndex(data: Buffer, where: string): PackEntry[] {
  const count = indexCount(data, where);
  const entries: PackEntry[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = HEADER + i * RECORD;
    entries[i] = {
      digest: digestFromHex(data.toString('hex', at, at + 32)),
      offset: Number(data.readBigUInt64LE(at + 32)),
      size: Number(data.readBigUInt64LE(at + 40)),
    };
  }
  return entries;
}

/**
 * A pack being written by one thread. Small objects are gathered in memory and written with
 * one call per megabyte instead of one per object; the file appears under a temp name and is
 * committed by the caller.
 */
export class PackWriter {
  readonly temp: string;
  readonly entries: PackEntry[] = [];
  private fd: number | undefined;
  private length = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(packDir: string) {
    this.temp = tempPathIn(packDir);
  }

  append(data: Uint8Array, digest: Digest): void {
    this.pending.push(Buffer.from(data)); // a copy: callers reuse their read buffer
    this.pendingBytes += data.length;
    this.entries.push({ digest, offset: this.length, size: data.length });
    this.length += data.length;
    if (this.pendingBytes >= 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    if (this.fd === undefined) {
      try {
        this.fd = fs.openSync(this.temp, 'wx', 0o444);
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
        fs.mkdirSync(path.dirname(this.temp), { recursive: true });
        this.fd = fs.openSync(this.temp, 'wx', 0o444);
      }
    }
    const data = Buffer.concat(this.pending, this.pendingBytes);
    let written = 0;
    while (written < data.length) written += fs.writeSync(this.fd, data, written, data.length - written);
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Writes what is pending and closes; returns the staged pack, or undefined when empty. */
  finish(): StagedPack | undefined {
    if (this.entries.length === 0) return undefined;
    this.flush();
    fs.closeSync(this.fd!);
    this.fd = undefined;
    return { temp: this.temp, entries: this.entries };
  }

  /** Drops the temp file (on failure). */
  abandon(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    this.pending = [];
    fs.rmSync(this.temp, { force: true });
  }
}

/** A complete pack under a temp name, waiting to be committed. */
export interface StagedPack {
  temp: string;
  entries: PackEntry[];
}

/** Moves a flushed pack into place and writes its index, which makes it visible. */
export function commitPack(packDir: string, staged: StagedPack, id: string): void {
  fs.renameSync(staged.temp, path.join(packDir, `${id}.pack`));
  writeFileAtomicSync(path.join(packDir, `${id}.idx`), encodeIndex(staged.entries), {
    mode: 0o444,
    durable: false,
  });
}

/**
 * A sorted set of sha256 digests in shared memory, so worker threads can ask "is this object
 * already stored?" without a message round trip or a stat per file.
 */
export class DigestSet {
  readonly buffer: SharedArrayBuffer;
  private readonly view: Buffer;
  private readonly count: number;

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.view = Buffer.from(buffer);
    this.count = buffer.byteLength / 32;
  }

  static from(digests: Iterable<Digest>): DigestSet {
    const hexes = [...digests].map((d) => d.slice(7)).sort();
    const buffer = new SharedArrayBuffer(hexes.length * 32);
    const view = Buffer.from(buffer);
    hexes.forEach((hex, i) => {
      view.write(hex, i * 32, 32, 'hex');
    });
    return new DigestSet(buffer);
  }

  hasHex(hex: string): boolean {
    const needle = Buffer.from(hex, 'hex');
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const cmp = this.view.compare(needle, 0, 32, mid * 32, mid * 32 + 32);
      if (cmp === 0) return true;
      if (cmp > 0) hi = mid - 1;
      else lo = mid + 1;
    }
    return false;
  }
}

/** Where a packed object lives. */
export interface PackedLocation {
  pack: string;
  offset: number;
  size: number;
}

/**
 * The in-memory index of every pack: digest → (pack, offset, size), kept in flat arrays so
 * 100,000 objects cost one map entry each and no per-object allocation.
 */
export class PackIndex {
  private readonly slots = new Map<Digest, number>();
  private readonly packIds: string[] = [];
  private readonly packOf: number[] = [];
  private readonly offsets: number[] = [];
  private readonly sizes: number[] = [];

  get size(): number {
    return this.slots.size;
  }

  /** Adds the entries of an index file's bytes (first entry for a digest wins). */
  addIndexFile(packId: string, data: Buffer, where: string): void {
    const count = indexCount(data, where);
    const pack = this.packIds.push(packId) - 1;
    for (let i = 0; i < count; i++) {
      const at = HEADER + i * RECORD;
      const digest = digestFromHex(data.toString('hex', at, at + 32));
      if (this.slots.has(digest)) continue;
      this.slots.set(digest, this.packOf.length);
      this.packOf.push(pack);
      this.offsets.push(Number(data.readBigUInt64LE(at + 32)));
      this.sizes.push(Number(data.readBigUInt64LE(at + 40)));
    }
  }

  add(packId: string, entries: PackEntry[]): void {
    const pack = this.packIds.push(packId) - 1;
    for (const entry of entries) {
      if (this.slots.has(entry.digest)) continue;
      this.slots.set(entry.digest, this.packOf.length);
      this.packOf.push(pack);
      this.offsets.push(entry.offset);
      this.sizes.push(entry.size);
    }
  }

  has(digest: Digest): boolean {
    return this.slots.has(digest);
  }

  get(digest: Digest): PackedLocation | undefined {
    const slot = this.slots.get(digest);
    if (slot === undefined) return undefined;
    return { pack: this.packIds[this.packOf[slot]!]!, offset: this.offsets[slot]!, size: this.sizes[slot]! };
  }

  keys(): IterableIterator<Digest> {
    return this.slots.keys();
  }

  *entries(): IterableIterator<PackedLocation & { digest: Digest }> {
    for (const [digest, slot] of this.slots) {
      yield {
        digest,
        pack: this.packIds[this.packOf[slot]!]!,
        offset: this.offsets[slot]!,
        size: this.sizes[slot]!,
      };
    }
  }
}
