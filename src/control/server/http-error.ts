/**
 * The control server's HTTP errors, and the one place errors become responses: one-line JSON
 * `{"error": "…"}` with a 4xx for the caller's mistakes and 500 otherwise.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { LedgeError } from '../../core/errors.js';

export class ControlHttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 503,
    message: string,
  ) {
    super(message);
    this.name = 'ControlHttpError';
  }
}

export function errorResponse(error: unknown): { status: ContentfulStatusCode; body: { error: string } } {
  if (error instanceof ControlHttpError) return { status: error.status, body: { error: error.message } };
  if (error instanceof LedgeError) {
    if (error.code === 'usage') return { status: 400, body: { error: error.line } };
    if (error.retryable) return { status: 503, body: { error: error.line } };
    return { status: 500, body: { error: error.line } };
  }
  return {
    status: 500,
    body: { error: `internal error: ${error instanceof Error ? error.message : String(error)}` },
  };
}
