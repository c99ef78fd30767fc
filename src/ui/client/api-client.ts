/** The browser's side of the JSON API: typed GETs that throw the server's error message. */
import type { ApiError } from '../api-types.js';

export class ApiRequestError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiRequestError';
    this.status = status;
  }
}

/** GET `/api/<path>` with query parameters (empty ones left out). */
export async function getJson<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value);
  const search = params.toString();
  let response: Response;
  try {
    response = await fetch(`/api/${path}${search ? `?${search}` : ''}`, {
      headers: { accept: 'application/json' },
    });
  } catch {
    throw new ApiRequestError(0, 'the dashboard server does not answer (was `ledge ui` stopped?)');
  }
  const body = (await response.json().catch(() => null)) as T | ApiError | null;
  if (!response.ok) {
    const message =
      body && typeof body === 'object' && 'error' in body ? body.error : `HTTP ${response.status}`;
    throw new ApiRequestError(response.status, message);
  }
  return body as T;
}

/**
 * POST `/api/<path>` with a JSON body; `csrf` is the session's token from `/api/session`, which
 * the control server asks of every write a signed-in browser makes.
 */
export async function postJson<T>(path: string, body: unknown, csrf: string | null): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/${path}`, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/json',
        ...(csrf ? { 'x-ledge-csrf': csrf } : {}),
      },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiRequestError(0, 'the control server does not answer (was `ledge server` stopped?)');
  }
  const answer = (await response.json().catch(() => null)) as T | ApiError | null;
  if (!response.ok) {
    const message =
      answer && typeof answer === 'object' && 'error' in answer ? answer.error : `HTTP ${response.status}`;
    throw new ApiRequestError(response.status, message);
  }
  return answer as T;
}
