/**
 * The error catalog shared by every component. Libraries throw `LedgeError`s; the CLI and the
 * HTTP layer turn them into output in exactly one place each.
 */

/** Stable, documented error codes. The CLI maps `usage` to exit code 2, everything else to 1. */
export type ErrorCode =
  | 'usage'
  | 'not-a-workspace'
  | 'path-not-found'
  | 'path-outside-workspace'
  | 'path-inside-ledge'
  | 'path-not-tracked'
  | 'unsupported-file-type'
  | 'symlink-loop'
  | 'file-changed'
  | 'unreadable'
  | 'corrupt-pointer'
  | 'corrupt-lock'
  | 'invalid-model'
  | 'invalid-dataset'
  | 'stage-failed'
  | 'interrupted'
  | 'corrupt-object'
  | 'missing-object'
  | 'config'
  | 'lock-timeout'
  | 'uncommitted-changes'
  | 'remote-unreachable'
  | 'remote-auth'
  | 'remote-not-found'
  | 'remote-error'
  | 'git'
  | 'io';

export interface LedgeErrorOptions {
  /** How to fix it, appended to the message after a semicolon. */
  hint?: string;
  cause?: unknown;
  /** Whether retrying the same operation may succeed (network blips, busy servers). */
  retryable?: boolean;
}

export class LedgeError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: LedgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LedgeError';
    this.code = code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? false;
  }

  /** The one line a user sees: what went wrong, where, and how to fix it. */
  get line(): string {
    return this.hint ? `${this.message}; ${this.hint}` : this.message;
  }
}

export function isLedgeError(error: unknown, code?: ErrorCode): error is LedgeError {
  return error instanceof LedgeError && (code === undefined || error.code === code);
}

/** Node's system errors carry a `code` such as ENOENT; this narrows to them. */
export function isErrno(error: unknown, ...codes: string[]): error is NodeJS.ErrnoException {
  if (!(error instanceof Error) || !('code' in error)) return false;
  return codes.length === 0 || codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

/** Turns an fs error on `path` into a user-facing LedgeError, leaving other errors alone. */
export function fsError(error: unknown, path: string, action: string): unknown {
  if (isErrno(error, 'ENOENT')) {
    return new LedgeError('path-not-found', `${action}: '${path}' does not exist`, { cause: error });
  }
  if (isErrno(error, 'EACCES', 'EPERM')) {
    return new LedgeError('unreadable', `${action}: permission denied on '${path}'`, {
      hint: 'check the file permissions',
      cause: error,
    });
  }
  if (isErrno(error, 'ELOOP')) {
    return new LedgeError('symlink-loop', `${action}: symlink loop at '${path}'`, {
      hint: 'remove or fix the symlink',
      cause: error,
    });
  }
  if (isErrno(error, 'ENOSPC')) {
    return new LedgeError('io', `${action}: no space left on device while writing '${path}'`, {
      hint: 'free disk space (ledge gc drops unreferenced cache objects) and retry',
      cause: error,
    });
  }
  return error;
}
