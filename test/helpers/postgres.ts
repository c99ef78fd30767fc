/**
 * A private PostgreSQL cluster for tests: `initdb` into a temp directory and `pg_ctl start` on a
 * free loopback port, as the `postgres` OS user when running as root (initdb refuses root).
 * Stopped and removed when the test ends.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from './free-port.js';

export interface PostgresServer {
  /** `postgres://ledge@127.0.0.1:<port>/ledge` */
  url: string;
  port: number;
}

/** The directory holding initdb and pg_ctl (Debian keeps them out of PATH). */
function binDir(): string {
  for (const candidate of [
    '/usr/lib/postgresql/17/bin',
    '/usr/lib/postgresql/16/bin',
    '/usr/lib/postgresql/15/bin',
  ]) {
    if (fs.existsSync(path.join(candidate, 'initdb'))) return candidate;
  }
  const found = execFileSync('sh', ['-c', 'command -v initdb || true'], { encoding: 'utf8' }).trim();
  if (found) return path.dirname(found);
  throw new Error('PostgreSQL is not installed: apt-get install postgresql (.ci/run does this)');
}

export async function startPostgres(t: TestContext): Promise<PostgresServer> {
  const bin = binDir();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-pg-'));
  const data = path.join(root, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    fs.chmodSync(root, 0o755);
    execFileSync('chown', ['postgres:postgres', root]);
  }
  const run = (command: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : command, asRoot ? ['-u', 'postgres', '--', command, ...args] : args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: root,
    });
  run(path.join(bin, 'initdb'), ['-D', data, '-U', 'ledge', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  run(path.join(bin, 'pg_ctl'), ['-D', data, '-o', options, '-l', path.join(root, 'log'), '-w', 'start']);
  t.after(() => {
    try {
      run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
  run(path.join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'ledge', 'ledge']);
  return { url: `postgres://ledge@127.0.0.1:${port}/ledge`, port };
}
