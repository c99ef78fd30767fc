/**
 * The inference server's error catalog: every client mistake it recognises, with a stable code
 * and its HTTP status. Handlers throw these; the app's one error handler turns them into
 * `{"error": "<message>"}` (the Open Inference Protocol's error object) with that status.
 * Anything else that escapes a handler is a bug: logged, and answered 500 `internal error`.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export type ServerErrorCode =
  | 'bad-json'
  | 'not-utf8'
  | 'empty-body'
  | 'body-too-large'
  | 'body-incomplete'
  | 'bad-request'
  | 'too-many-instances'
  | 'model-not-found'
  | 'model-load-failed'
  | 'route-not-found'
  | 'method-not-allowed'
  | 'not-matched';

const STATUS: Record<ServerErrorCode, ContentfulStatusCode> = {
  'bad-json': 400,
  'not-utf8': 400,
  'empty-body': 400,
  'body-too-large': 413,
  'body-incomplete': 400,
  'bad-request': 400,
  'too-many-instances': 413,
  'model-not-found': 404,
  'model-load-failed': 400,
  'route-not-found': 404,
  'method-not-allowed': 405,
  'not-matched': 404,
};

export class ServerError extends Error {
  readonly code: ServerErrorCode;
  readonly status: ContentfulStatusCode;

  constructor(code: ServerErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServerError';
    this.code = code;
    this.status = STATUS[code];
  }
}

/** A request that is malformed in `what` way: 400. */
export const badRequest = (message: string) => new ServerError('bad-request', message);

export const modelNotFound = (name: string, version: string | undefined) =>
  new ServerError(
    'model-not-found',
    version === undefined
      ? `model '${name}' is not loaded`
      : `model '${name}' has no version '${version}' loaded`,
  );

export const tooManyInstances = (count: number, max: number) =>
  new ServerError(
    'too-many-instances',
    `${count} instances in one request, more than the limit of ${max}; split the request`,
  );
