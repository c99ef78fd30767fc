import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { type Digest, digestFromHex } from '../../core/digest.js';
import { LedgeError } from '../../core/errors.js';

/** Hashes a file by streaming it (constant memory). */
export async function hashFile(path: string): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(path, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
  return digestFromHex(hash.digest('hex'));
}

/** Throws a corrupt-object error when `actual` differs from `expected`. */
export function verifyDigest(expected: Digest, actual: Digest, where: string): void {
  if (expected !== actual) {
    throw new LedgeError('corrupt-object', `${where}: content hashes to ${actual}, expected ${expected}`, {
      hint: 'the source object is corrupt; run ledge fsck --repair',
    });
  }
}
