/**
 * Prediction ids, returned with every prediction so a caller can send its true label later
 * (`POST /v1/feedback`). Sortable by time and unique without coordination: 10 base-32
 * characters of milliseconds, 6 of this process's random prefix, and a per-process counter.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford's base 32, lowercase

function base32(value: number, width: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < width; i++) {
    out = ALPHABET[v % 32]! + out;
    v = Math.floor(v / 32);
  }
  return out;
}

export function predictionIds(): () => string {
  const random = randomBytes(4).readUInt32BE(0);
  const prefix = base32(random, 6);
  let counter = 0;
  let lastMs = -1;
  let stamp = '';
  return () => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      stamp = base32(now, 10);
    }
    counter = (counter + 1) % 0x100000000;
    return `${stamp}${prefix}${counter.toString(32)}`;
  };
}
