/**
 * A content-addressed directory of blobs (`<dir>/sha256/<hex>`): where built layers are
 * written and pulled layers are cached, so a warm build neither recompresses nor re-downloads.
 * A blob appears under its name only complete (temp file, then rename), and is verified
 * against its digest every time it is read.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tempPathIn, writeFileAtomicSync } from '../core/atomic-fs.js';
import { type Digest, digestHex, isDigest } from '../core/digest.js';
import { type BlobRef, HashingStream, verified } from './blob.js';
import { digestMismatch, sizeMismatch, writeFailed } from './image-errors.js';

export class BlobStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  path(digest: Digest): string {
    return path.join(this.dir, 'sha256', digestHex(digest));
  }

  /** Whether the blob is stored (with the expected size, when given). */
  has(digest: Digest, size?: number): boolean {
    try {
      const stat = fs.statSync(this.path(digest));
      return stat.isFile() && (size === undefined || stat.size === size);
    } catch {
      return false;
    }
  }

  /** The blob's bytes, verified against `ref` as they stream. */
  open(ref: BlobRef): Readable {
    const file = this.path(ref.digest);
    return verified(fs.createReadStream(file, { highWaterMark: 1 << 20 }), ref, file);
  }

  /**
   * Stores a stream and returns its digest and size. With `expected`, refuses (and discards)
   * bytes that do not match it.
   */
  async write(
    source: Readable | AsyncIterable<Uint8Array>,
    expected?: BlobRef,
    where = 'blob',
  ): Promise<BlobRef> {
    const dir = path.join(this.dir, 'sha256');
    fs.mkdirSync(dir, { recursive: true });
    const temp = tempPathIn(dir);
    const hashing = new HashingStream();
    try {
      await pipeline(source, hashing, fs.createWriteStream(temp, { flags: 'wx' }));
      const ref: BlobRef = { digest: hashing.digest(), size: hashing.bytes };
      if (expected && ref.size !== expected.size) throw sizeMismatch(where, expected.size, ref.size);
      if (expected && ref.digest !== expected.digest)
        throw digestMismatch(where, expected.digest, ref.digest);
      fs.renameSync(temp, this.path(ref.digest));
      return ref;
    } catch (error) {
      fs.rmSync(temp, { force: true });
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw writeFailed(dir, error);
      throw error;
    }
  }

  /**
   * Remembers that the uncompressed layer `diffId`, compressed by `recipe` (e.g. `gzip-6`),
   * is the stored blob `blob`: a rebuild of the same content then skips compression.
   */
  remember(diffId: Digest, recipe: string, blob: BlobRef): void {
    const file = this.memoPath(diffId, recipe);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomicSync(file, `${blob.digest} ${blob.size}\n`, { durable: false });
  }

  /** The blob remembered for `diffId` and `recipe`, if it is still stored. */
  recall(diffId: Digest, recipe: string): BlobRef | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.memoPath(diffId, recipe), 'utf8');
    } catch {
      return undefined;
    }
    const [digest, size] = text.trim().split(' ');
    if (!isDigest(digest) || !size || !/^\d+$/.test(size)) return undefined;
    const ref = { digest, size: Number(size) };
    return this.has(ref.digest, ref.size) ? ref : undefined;
  }

  private memoPath(diffId: Digest, recipe: string): string {
    return path.join(this.dir, 'compressed', recipe, digestHex(diffId));
  }
}
