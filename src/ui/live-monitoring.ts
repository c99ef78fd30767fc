/**
 * Live monitoring of running servers: the dashboard's backend asks each `--server` for
 * `GET /v1/monitoring` (bounded by a timeout) and hands the browser one normalised list, with
 * an error per server that did not answer. Only the configured servers are ever asked: the
 * browser cannot make the dashboard fetch an arbitrary URL.
 */
import { LedgeError } from '../core/errors.js';
import type { LiveServer } from './api-types.js';
import { readSnapshot } from './monitoring-snapshot.js';

export type FetchFunction = (
  url: string,
  init: { signal: AbortSignal; headers: Record<string, string> },
) => Promise<Response>;

/** A `--server` URL, checked and without a trailing slash. */
export function normalizeServerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new LedgeError('usage', `--server '${text}' is not a URL`, {
      hint: 'give the address of a running `ledge serve`, e.g. http://127.0.0.1:8080',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LedgeError('usage', `--server '${text}' must be an http:// or https:// URL`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new LedgeError('usage', `--server '${text}' must not carry credentials, a query or a fragment`);
  }
  return url.toString().replace(/\/+$/, '');
}

/** Why a fetch failed, in one short line: "unreachable: connect ECONNREFUSED 127.0.0.1:9". */
function reasonOf(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `timed out after ${timeoutMs / 1000} s`;
  }
  const cause =
    error instanceof Error ? (error.cause as { message?: unknown; code?: unknown } | undefined) : undefined;
  const detail =
    typeof cause?.message === 'string' && cause.message !== ''
      ? cause.message
      : error instanceof Error
        ? error.message
        : String(error);
  return `unreachable: ${detail}`;
}

/** One server's snapshot, or its error; never throws. */
export async function fetchLiveServer(
  url: string,
  options: { timeoutMs: number; fetch?: FetchFunction | undefined; now?: () => Date },
): Promise<LiveServer> {
  const doFetch: FetchFunction = options.fetch ?? ((target, init) => fetch(target, init));
  const fetchedAt = (options.now?.() ?? new Date()).toISOString();
  const failed = (error: string): LiveServer => ({
    url,
    ok: false,
    error,
    fetchedAt,
    monitoring: true,
    models: [],
  });
  let response: Response;
  const signal = AbortSignal.timeout(options.timeoutMs);
  try {
    response = await doFetch(`${url}/v1/monitoring`, { signal, headers: { accept: 'application/json' } });
  } catch (error) {
    return failed(reasonOf(error, options.timeoutMs));
  }
  let body: unknown;
  try {
    if (!response.ok) {
      await response.body?.cancel();
      return failed(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    }
    body = JSON.parse(await response.text());
  } catch (error) {
    if (error instanceof SyntaxError) return failed('answered with something that is not JSON');
    return failed(reasonOf(error, options.timeoutMs));
  }
  const snapshot = readSnapshot(body);
  return { url, ok: true, error: null, fetchedAt, ...snapshot };
}

/** Every server's snapshot, asked in parallel. */
export function fetchLiveServers(
  urls: readonly string[],
  options: { timeoutMs: number; fetch?: FetchFunction | undefined; now?: () => Date },
): Promise<LiveServer[]> {
  return Promise.all(urls.map((url) => fetchLiveServer(url, options)));
}
