/**
 * Turns a configured remote into a `Remote`, choosing the backend by URL scheme. Backends
 * with heavy dependencies (the AWS SDK) are loaded only when a remote uses them.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LedgeError } from '../../core/errors.js';
import { LocalRemote } from './local/local-remote.js';
import type { Remote, RemoteConfig } from './remote.js';
import type { S3Location } from './s3/s3-remote.js';

/** Where a remote URL points. */
export type RemoteLocation = ({ kind: 's3' } & S3Location) | { kind: 'local'; root: string };

export interface ParseRemoteUrlOptions {
  /** The remote's name, for messages. */
  name?: string;
  /** Directory that relative paths are resolved against (default: the current directory). */
  baseDir?: string;
}

const SUPPORTED = 'supported: s3://BUCKET[/PREFIX], file:///ABSOLUTE/PATH, or a directory path';
const SCHEME = /^([a-z][a-z0-9+.-]+):/i;
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i;
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,62}$/i;

/** Opens the remote `name` configured as `config`; relative directory URLs resolve against `baseDir`. */
export async function openRemote(name: string, config: RemoteConfig, baseDir?: string): Promise<Remote> {
  const location = parseRemoteUrl(config.url, { name, baseDir });
  const url = redactUrl(config.url);
  if (location.kind === 'local') return new LocalRemote(name, url, location.root);
  const { S3Remote } = await import('./s3/s3-remote.js');
  return new S3Remote(name, url, { bucket: location.bucket, prefix: location.prefix }, config);
}

/** Parses a remote URL; throws LedgeError('config') for unsupported or malformed ones. */
export function parseRemoteUrl(url: string, options: ParseRemoteUrlOptions = {}): RemoteLocation {
  const fail = (problem: string, hint = SUPPORTED) =>
    new LedgeError(
      'config',
      `remote${options.name ? ` '${options.name}'` : ''}: cannot use URL '${redactUrl(url)}': ${problem}`,
      { hint },
    );
  if (USERINFO.test(url)) {
    throw fail(
      'it contains credentials',
      'remove them from the URL and set them in .ledge/config.local.yaml',
    );
  }
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === 's3') {
    const [, bucket = '', prefix = ''] = /^s3:\/\/([^/]*)\/?(.*)$/i.exec(url) ?? [];
    if (!BUCKET.test(bucket)) {
      throw fail(
        bucket ? `invalid bucket name '${bucket}'` : 'no bucket name',
        'write it as s3://BUCKET[/PREFIX]; bucket names have 3 to 63 letters, digits, dots and hyphens',
      );
    }
    return { kind: 's3', bucket, prefix: prefix.replace(/^\/+|\/+$/g, '') };
  }
  if (scheme === 'file') {
    try {
      return { kind: 'local', root: fileURLToPath(url) };
    } catch {
      throw fail('malformed file URL', 'write it as file:///absolute/path');
    }
  }
  if (scheme !== undefined && url.includes('://')) throw fail(`unsupported scheme '${scheme}://'`);
  if (url.trim() === '') throw fail('it is empty');
  return { kind: 'local', root: path.resolve(options.baseDir ?? process.cwd(), url) };
}

/** The URL with any `user:password@` part removed, safe to print. */
export function redactUrl(url: string): string {
  return url.replace(USERINFO, '$1');
}
