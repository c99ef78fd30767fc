/** Shared fixtures of the IMDB data tests: the bundled archives, small made-up archives, a loopback server. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';
import { writeTree } from '../../helpers/temp-dir.js';

/** The repository root (this file runs from dist/test/ml/data). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** 2,000 reviews of the train split, ids 0–999 per class, in the official layout. */
export const SAMPLE_ARCHIVE = path.join(repoRoot, 'examples', 'imdb', 'data', 'aclImdb_sample.tar.gz');

/**
 * The full 25,000-review train split, outside the repository: `$LEDGE_IMDB_TRAIN_ARCHIVE`, else
 * ../shared/datasets/imdb/ next to the checkout (where CI and this machine keep it), else
 * /work/shared/datasets/imdb/ (for clones made elsewhere on the same machine).
 */
export const FULL_TRAIN_ARCHIVE = ((): string => {
  const name = path.join('datasets', 'imdb', 'aclImdb_train.tar.gz');
  const candidates = [
    process.env.LEDGE_IMDB_TRAIN_ARCHIVE,
    path.resolve(repoRoot, '..', 'shared', name),
    path.join('/work', 'shared', name),
  ].filter((p): p is string => Boolean(p));
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0]!;
})();

export function sha256File(file: string): `sha256:${string}` {
  return `sha256:${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
}

/** Writes `files` under a scratch folder and packs them into `archive` (gzip unless it ends in .tar). */
export async function makeArchive(
  archive: string,
  files: Record<string, string | Buffer>,
  options: { gzip?: boolean } = {},
): Promise<string> {
  const staging = `${archive}.staging`;
  writeTree(staging, files);
  const top = [...new Set(Object.keys(files).map((f) => f.split('/')[0]!))].sort();
  await tar.c({ gzip: options.gzip ?? true, file: archive, cwd: staging, portable: true }, top);
  fs.rmSync(staging, { recursive: true, force: true });
  return archive;
}

export interface LoopbackServer {
  url: string;
  /** Requests per path, e.g. hits['/a.tar.gz']. */
  hits: Record<string, number>;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 with one handler per path; unknown paths get 404. */
export async function serve(
  t: TestContext,
  routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>,
): Promise<LoopbackServer> {
  const hits: Record<string, number> = {};
  const server = http.createServer((req, res) => {
    const route = new URL(req.url ?? '/', 'http://x').pathname;
    hits[route] = (hits[route] ?? 0) + 1;
    const handler = routes[route];
    if (handler) handler(req, res);
    else res.writeHead(404, 'Not Found').end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  t.after(close);
  return { url: `http://127.0.0.1:${port}`, hits, close };
}

/** Sends `body` as a download. */
export function sendBytes(body: Buffer) {
  return (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/x-gzip', 'content-length': body.length });
    res.end(body);
  };
}
