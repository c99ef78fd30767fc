import { createHash } from 'node:crypto';
import { LedgeError } from './errors.js';

/** A content digest in the OCI form `sha256:<64 lowercase hex>`. */
export type Digest = `sha256:${string}`;

const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_PATTERN.test(value);
}

export function parseDigest(value: string, where = 'digest'): Digest {
  if (!isDigest(value)) {
    throw new LedgeError('usage', `${where}: '${value}' is not a digest`, {
      hint: 'write it as sha256:<64 lowercase hex digits>',
    });
  }
  return value;
}

export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

export function digestFromHex(hex: string): Digest {
  return `sha256:${hex}`;
}

export function sha256(data: string | Uint8Array): Digest {
  return digestFromHex(createHash('sha256').update(data).digest('hex'));
}

/** Short form for human output: `sha256:0123456789ab`. */
export function shortDigest(digest: Digest): string {
  return digest.slice(0, 'sha256:'.length + 12);
}
