/**
 * Where the IMDB reviews come from: a local path (the archive, or a directory holding
 * `aclImdb/`), a `file://` URL, or an `http(s)://` URL downloaded once into the content store.
 * Without an explicit source, `LEDGE_IMDB` names one; without that, the official archive,
 * verified against its published sha256.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Digest, parseDigest, sha256 } from '../../core/digest.js';
import { fsError, LedgeError } from '../../core/errors.js';
import type { Progress } from '../../core/progress.js';
import type { ObjectCache } from '../../store/object-cache.js';
import { type DownloadOptions, downloadToCache } from './download.js';

/** The official archive (Maas et al., ACL 2011): train and test splits, 84,125,825 bytes. */
export const IMDB_ARCHIVE_URL = 'https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz';
export const IMDB_ARCHIVE_SHA256: Digest =
  'sha256:c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe';

/** The environment variable naming the source when none is given. */
export const IMDB_ENV = 'LEDGE_IMDB';

/** Published digests, so a known URL is verified even when given explicitly. */
const KNOWN_DIGESTS: ReadonlyMap<string, Digest> = new Map([[IMDB_ARCHIVE_URL, IMDB_ARCHIVE_SHA256]]);

export interface ImdbSource {
  /** A path (absolute or relative to `cwd`), a `file://` URL, or an `http(s)://` URL. */
  location: string;
  /** The expected sha256 of a downloaded body. */
  digest?: Digest | undefined;
  /** Where the location came from, for error messages. */
  origin: 'argument' | 'env' | 'default';
}

export interface ResolveSourceOptions {
  /** Default `process.env`. */
  env?: NodeJS.ProcessEnv | undefined;
  /** The expected sha256 of a download, overriding the published one. */
  sha256?: string | undefined;
}

/** The source to read: `explicit` when given, else `$LEDGE_IMDB`, else the official archive. */
export function resolveImdbSource(explicit?: string, options: ResolveSourceOptions = {}): ImdbSource {
  const fromEnv = (options.env ?? process.env)[IMDB_ENV];
  const given = explicit?.trim() ? explicit : undefined;
  const envValue = fromEnv?.trim() ? fromEnv : undefined;
  const location = given ?? envValue ?? IMDB_ARCHIVE_URL;
  const origin = given !== undefined ? 'argument' : envValue !== undefined ? 'env' : 'default';
  const digest = options.sha256
    ? parseDigest(withPrefix(options.sha256), 'sha256')
    : KNOWN_DIGESTS.get(location);
  return { location, digest, origin };
}

function withPrefix(sha: string): string {
  return sha.startsWith('sha256:') ? sha : `sha256:${sha.toLowerCase()}`;
}

export interface FetchSourceOptions {
  /** Where downloads are stored; required for `http(s)://` sources. */
  cache?: ObjectCache | undefined;
  progress?: Progress | undefined;
  /** Relative paths resolve against this (default the current directory). */
  cwd?: string | undefined;
  maxRedirects?: number | undefined;
  timeoutMs?: number | undefined;
  agent?: DownloadOptions['agent'];
}

/** A source made local: a file (an archive) or a directory, and how to name it to the user. */
export interface LocalSource {
  path: string;
  kind: 'file' | 'directory';
  /** The location as the user gave it (the URL for downloads), for messages. */
  display: string;
  /** Set for downloads: the verified digest of the cached archive. */
  digest?: Digest | undefined;
  /** True when this call transferred the bytes (false: local, or found in the cache). */
  downloaded: boolean;
}

const URL_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

/** Resolves a source to a local file or directory, downloading (once) when it is a URL. */
export async function fetchImdbSource(
  source: ImdbSource,
  options: FetchSourceOptions = {},
): Promise<LocalSource> {
  const where = describeImdbSource(source);
  if (!URL_SCHEME.test(source.location)) {
    return verified(
      localPath(path.resolve(options.cwd ?? process.cwd(), source.location), source.location, where),
      source,
    );
  }
  let url: URL;
  try {
    url = new URL(source.location);
  } catch {
    throw new LedgeError('usage', `IMDB source ${where} is not a valid URL`, {
      hint: 'give a path, a file:// URL or an https:// URL',
    });
  }
  if (url.protocol === 'file:') {
    let file: string;
    try {
      file = fileURLToPath(url);
    } catch (error) {
      throw new LedgeError('usage', `IMDB source ${where} is not a valid file URL`, {
        hint: 'write it as file:///absolute/path',
        cause: error,
      });
    }
    return verified(localPath(file, source.location, where), source);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LedgeError('usage', `IMDB source ${where} has an unsupported URL scheme '${url.protocol}'`, {
      hint: 'give a path, a file:// URL or an http(s):// URL',
    });
  }
  if (!options.cache) {
    throw new LedgeError(
      'usage',
      `IMDB source ${where} must be downloaded, and no cache was given to store it`,
      {
        hint: 'pass the workspace cache (options.cache), or download the archive and give its path',
      },
    );
  }
  const got = await downloadToCache(source.location, {
    cache: options.cache,
    digest: source.digest,
    progress: options.progress,
    maxRedirects: options.maxRedirects,
    timeoutMs: options.timeoutMs,
    agent: options.agent,
  });
  return {
    path: got.path,
    kind: 'file',
    display: source.location,
    digest: got.digest,
    downloaded: got.downloaded,
  };
}

/** A local archive checked against the digest the caller expects, when it gave one. */
function verified(local: LocalSource, source: ImdbSource): LocalSource {
  if (!source.digest || local.kind !== 'file') return local;
  const actual = sha256(fs.readFileSync(local.path));
  if (actual !== source.digest) {
    throw new LedgeError(
      'corrupt-object',
      `IMDB source ${describeImdbSource(source)} hashes to ${actual}, not the expected ${source.digest}`,
      { hint: 'the file is damaged or a different version; get it again, or fix the expected sha256' },
    );
  }
  return { ...local, digest: actual };
}

function localPath(file: string, display: string, where: string): LocalSource {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    const translated = fsError(error, display, 'IMDB source');
    if (translated instanceof LedgeError && translated.code === 'path-not-found') {
      throw new LedgeError('path-not-found', `IMDB source ${where} does not exist`, {
        hint: 'give the aclImdb_v1.tar.gz archive, a directory holding aclImdb/, or a URL',
        cause: error,
      });
    }
    throw translated;
  }
  if (!stat.isFile() && !stat.isDirectory()) {
    throw new LedgeError('invalid-dataset', `IMDB source ${where} is not a file or directory`, {
      hint: 'give the aclImdb_v1.tar.gz archive or a directory holding aclImdb/',
    });
  }
  return { path: file, kind: stat.isDirectory() ? 'directory' : 'file', display, downloaded: false };
}

/** `'x'`, `'x' (from LEDGE_IMDB)`: the location as the user will recognise it. */
export function describeImdbSource(source: ImdbSource): string {
  return source.origin === 'env' ? `'${source.location}' (from ${IMDB_ENV})` : `'${source.location}'`;
}
