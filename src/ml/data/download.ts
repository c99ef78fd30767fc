/**
 * Downloads a URL once into the workspace's content store. The body streams straight into the
 * object cache (hashed on the way, verified against the expected sha256 when one is known,
 * made visible atomically), and a small index under the cache directory remembers which
 * digest each URL gave, so the next call finds it without touching the network.
 *
 * Only `http:` and `https:`; redirects are followed up to a bound. Every failure is one
 * `LedgeError` line naming the URL.
 */
import fs from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { Readable } from 'node:stream';
import { writeFileAtomicSync } from '../../core/atomic-fs.js';
import { type Digest, isDigest } from '../../core/digest.js';
import { fsError, isErrno, isLedgeError, LedgeError } from '../../core/errors.js';
import type { Progress } from '../../core/progress.js';
import type { ObjectCache } from '../../store/object-cache.js';

export interface DownloadOptions {
  /** Where the body is stored: the workspace store's object cache. */
  cache: ObjectCache;
  /** The published sha256 of the body. The download fails (and stores nothing) on a mismatch. */
  digest?: Digest | undefined;
  /** Byte progress of the transfer (the CLI passes a terminal bar, or `silentProgress`). */
  progress?: Progress | undefined;
  /** Redirects followed before giving up (default 5). */
  maxRedirects?: number | undefined;
  /** Fails when the server sends nothing for this long, in milliseconds (default 60,000). */
  timeoutMs?: number | undefined;
  /** The HTTP(S) agent (proxies, custom CAs). Default: a fresh connection per request. */
  agent?: http.Agent | undefined;
}

export interface Downloaded {
  url: string;
  digest: Digest;
  /** The cached object, a read-only file. */
  path: string;
  size: number;
  /** False when the cache already held it and nothing was transferred. */
  downloaded: boolean;
}

/** The URL → digest index, `<cache>/downloads.json`. */
interface DownloadIndex {
  version: 1;
  urls: Record<string, { digest: Digest; size: number; fetched: string }>;
}

const INDEX_NAME = 'downloads.json';
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The digest a URL gave last time, if the index remembers it. */
export function cachedDigestOf(cache: ObjectCache, url: string): Digest | undefined {
  const entry = readIndex(cache).urls[url];
  return entry && isDigest(entry.digest) ? entry.digest : undefined;
}

/** Every downloaded object the index remembers (`ledge gc` keeps them). */
export function downloadedDigests(cache: ObjectCache): Digest[] {
  return Object.values(readIndex(cache).urls)
    .map((entry) => entry.digest)
    .filter(isDigest);
}

/**
 * Returns the cached copy of `url`, downloading it first when the cache lacks it. With
 * `digest`, a cached object of that digest is used whatever URL stored it.
 */
export async function downloadToCache(url: string, options: DownloadOptions): Promise<Downloaded> {
  const { cache } = options;
  const known = options.digest ?? cachedDigestOf(cache, url);
  if (known !== undefined && cache.has(known)) {
    return {
      url,
      digest: known,
      path: cache.ensureLoose(known),
      size: cache.sizeOf(known) ?? 0,
      downloaded: false,
    };
  }
  const response = await openUrl(url, {
    maxRedirects: options.maxRedirects ?? 5,
    timeoutMs: options.timeoutMs ?? 60_000,
    agent: options.agent,
  });
  const total = contentLength(response);
  const progress = options.progress;
  progress?.start(`downloading ${path.posix.basename(new URL(url).pathname) || url}`, total, 'bytes');
  let received = 0;
  const counted = Readable.from(
    (async function* () {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        received += chunk.length;
        progress?.advance(chunk.length, chunk.length);
        yield chunk;
      }
      if (total !== undefined && received !== total) {
        throw new LedgeError(
          'remote-error',
          `download ${url}: connection closed after ${received} of ${total} bytes`,
          {
            hint: 'retry; the local cache was not touched',
            retryable: true,
          },
        );
      }
    })(),
  );
  let digest: Digest;
  try {
    digest = await cache.putStream(counted, options.digest, `download ${url}`);
  } catch (error) {
    response.destroy();
    if (isLedgeError(error)) throw error;
    if (isErrno(error, 'ENOSPC', 'EACCES', 'EPERM', 'EROFS'))
      throw fsError(error, cache.dir, `download ${url}`);
    throw new LedgeError(
      'remote-error',
      `download ${url} failed after ${received} bytes: ${messageOf(error)}`,
      {
        hint: 'retry; the local cache was not touched',
        cause: error,
        retryable: true,
      },
    );
  } finally {
    progress?.stop();
  }
  rememberDownload(cache, url, digest, received);
  return { url, digest, path: cache.ensureLoose(digest), size: received, downloaded: true };
}

interface RequestOptions {
  maxRedirects: number;
  timeoutMs: number;
  agent: http.Agent | undefined;
}

/** GETs `url`, following redirects, and returns the 200 response (its body not yet read). */
async function openUrl(url: string, options: RequestOptions): Promise<IncomingMessage> {
  const { maxRedirects } = options;
  let current = parseHttpUrl(url, url);
  for (let redirects = 0; ; redirects++) {
    const response = await get(current, url, options);
    const status = response.statusCode ?? 0;
    const via = current.href === url ? '' : ` (redirected to ${current.href})`;
    if (REDIRECTS.has(status)) {
      response.resume();
      const location = response.headers.location;
      if (!location) {
        throw new LedgeError(
          'remote-error',
          `download ${url}: HTTP ${status} redirect without a Location${via}`,
        );
      }
      if (redirects >= maxRedirects) {
        throw new LedgeError('remote-error', `download ${url}: more than ${maxRedirects} redirects${via}`, {
          hint: 'the server redirects in a loop; download the file by hand and give its path',
        });
      }
      current = parseHttpUrl(new URL(location, current).href, url);
      continue;
    }
    if (status !== 200) {
      response.resume();
      const what = `download ${url}: HTTP ${status} ${response.statusMessage ?? ''}`.trimEnd() + via;
      if (status === 404 || status === 410) {
        throw new LedgeError('remote-not-found', what, { hint: 'check the URL' });
      }
      if (status === 401 || status === 403) {
        throw new LedgeError('remote-auth', what, { hint: 'the server refuses access; check the URL' });
      }
      throw new LedgeError('remote-error', what, {
        hint: status >= 500 || status === 429 ? 'the server failed; retry later' : 'check the URL',
        retryable: status >= 500 || status === 429,
      });
    }
    return response;
  }
}

function parseHttpUrl(href: string, original: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(href);
  } catch {
    throw new LedgeError('usage', `download ${original}: '${href}' is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new LedgeError(
      'usage',
      `download ${original}: unsupported URL scheme '${parsed.protocol}' in ${href}`,
      {
        hint: 'use an http:// or https:// URL, a file:// URL or a local path',
      },
    );
  }
  return parsed;
}

function get(url: URL, original: string, options: RequestOptions): Promise<IncomingMessage> {
  const { timeoutMs } = options;
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const request = client.get(
      url,
      {
        headers: { 'user-agent': 'ledge', 'accept-encoding': 'identity' },
        timeout: timeoutMs,
        agent: options.agent ?? false,
      },
      (res) => {
        response = res;
        resolve(res);
      },
    );
    let response: IncomingMessage | undefined;
    request.on('timeout', () => {
      // Stalled before or during the body: fail whichever is being read, with the reason.
      const stalled = new Error(`no data for ${timeoutMs / 1000} s`);
      if (response) response.destroy(stalled);
      else request.destroy(stalled);
    });
    request.on('error', (error) => {
      reject(
        new LedgeError('remote-unreachable', `download ${original}: ${messageOf(error)}`, {
          hint: 'check the network and the URL, or give a local copy (a path or file:// URL)',
          cause: error,
          retryable: true,
        }),
      );
    });
  });
}

function contentLength(response: IncomingMessage): number | undefined {
  const header = response.headers['content-length'];
  if (header === undefined || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}

function indexPath(cache: ObjectCache): string {
  return path.join(cache.dir, INDEX_NAME);
}

function readIndex(cache: ObjectCache): DownloadIndex {
  try {
    const parsed = JSON.parse(fs.readFileSync(indexPath(cache), 'utf8')) as DownloadIndex;
    if (parsed?.version === 1 && typeof parsed.urls === 'object' && parsed.urls !== null) return parsed;
  } catch {
    // Absent or damaged: it is only a hint, and the objects it names are verified anyway.
  }
  return { version: 1, urls: {} };
}

function rememberDownload(cache: ObjectCache, url: string, digest: Digest, size: number): void {
  const index = readIndex(cache);
  index.urls[url] = { digest, size, fetched: new Date().toISOString() };
  fs.mkdirSync(cache.dir, { recursive: true });
  writeFileAtomicSync(indexPath(cache), `${JSON.stringify(index, null, 2)}\n`);
}
