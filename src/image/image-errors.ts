/**
 * The image component's error catalog: every error it throws is made here, with a stable
 * `reason` (for callers and tests) on top of the core code the CLI maps to an exit status.
 * Messages are one line: what went wrong, where, and (in the hint) what to do.
 */
import type { Digest } from '../core/digest.js';
import { type ErrorCode, LedgeError, type LedgeErrorOptions } from '../core/errors.js';

export type ImageErrorReason =
  | 'unsafe-path'
  | 'bad-entry'
  | 'malformed-tar'
  | 'malformed-json'
  | 'unsupported-media-type'
  | 'digest-mismatch'
  | 'too-large'
  | 'platform-not-found'
  | 'not-found'
  | 'unauthorized'
  | 'denied'
  | 'unreachable'
  | 'registry-error'
  | 'bad-reference'
  | 'write-failed';

export class ImageError extends LedgeError {
  readonly reason: ImageErrorReason;

  constructor(reason: ImageErrorReason, code: ErrorCode, message: string, options: LedgeErrorOptions = {}) {
    super(code, message, options);
    this.name = 'ImageError';
    this.reason = reason;
  }
}

export function isImageError(error: unknown, reason?: ImageErrorReason): error is ImageError {
  return error instanceof ImageError && (reason === undefined || error.reason === reason);
}

/** A path inside an image or archive that is absolute or climbs out with `..`. */
export function unsafePath(path: string, where: string): ImageError {
  return new ImageError('unsafe-path', 'corrupt-object', `${where}: refusing entry '${oneLine(path)}'`, {
    hint: 'entries must be relative paths inside the archive (no leading / and no ..)',
  });
}

/** A layer entry the caller described wrongly (duplicate, missing content, bad type). */
export function badEntry(path: string, problem: string): ImageError {
  return new ImageError('bad-entry', 'usage', `layer entry '${oneLine(path)}': ${problem}`);
}

export function malformedTar(where: string, problem: string): ImageError {
  return new ImageError('malformed-tar', 'corrupt-object', `${where}: not a valid tar archive (${problem})`);
}

export function malformedJson(where: string, problem: string): ImageError {
  return new ImageError('malformed-json', 'corrupt-object', `${where}: ${problem}`, {
    hint: 'the image is malformed; rebuild or re-push it',
  });
}

export function unsupportedMediaType(where: string, mediaType: string | undefined): ImageError {
  return new ImageError(
    'unsupported-media-type',
    'corrupt-object',
    `${where}: unsupported media type '${mediaType ?? '(none)'}'`,
    { hint: 'ledge reads OCI and Docker v2 schema 2 images and indexes' },
  );
}

export function digestMismatch(where: string, expected: Digest, actual: Digest): ImageError {
  return new ImageError(
    'digest-mismatch',
    'corrupt-object',
    `${where}: content hashes to ${actual}, expected ${expected}; refusing it`,
    { hint: 'the blob is corrupt at its source or was altered in transit' },
  );
}

export function sizeMismatch(where: string, expected: number, actual: number): ImageError {
  return new ImageError(
    'digest-mismatch',
    'corrupt-object',
    `${where}: ${actual} bytes where the descriptor says ${expected}; refusing it`,
    { hint: 'the blob is corrupt at its source or was altered in transit' },
  );
}

export function tooLarge(where: string, limit: number): ImageError {
  return new ImageError('too-large', 'corrupt-object', `${where}: larger than the ${limit}-byte limit`);
}

export function platformNotFound(where: string, wanted: string, available: string[]): ImageError {
  return new ImageError('platform-not-found', 'remote-not-found', `${where} has no ${wanted} image`, {
    hint: available.length > 0 ? `it has ${available.join(', ')}` : 'the index lists no platforms',
  });
}

export function imageNotFound(where: string, hint: string): ImageError {
  return new ImageError('not-found', 'remote-not-found', `${where} does not exist`, { hint });
}

export function writeFailed(target: string, cause: unknown): ImageError {
  const errno = (cause as NodeJS.ErrnoException).code;
  const problem =
    errno === 'ENOSPC' ? 'no space left on device' : ((cause as Error).message ?? String(cause));
  return new ImageError('write-failed', 'io', `cannot write ${target}: ${oneLine(problem)}`, {
    hint:
      errno === 'ENOSPC'
        ? 'free disk space and retry; nothing was left half-written'
        : 'nothing was left half-written',
    cause,
  });
}

/** Keeps user-controlled text on one line. */
export function oneLine(text: string): string {
  return text.replace(/[\r\n\0]+/g, ' ').slice(0, 300);
}
