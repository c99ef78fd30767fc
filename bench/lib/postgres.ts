/**
 * A private PostgreSQL cluster for benchmarks, started the way test/helpers/postgres.ts starts
 * one for tests (`initdb` into a temp directory, `pg_ctl start` on a free loopback port, as the
 * `postgres` OS user when running as root) but without node:test: the caller stops it, and an
 * exit hook stops and removes it if the caller could not (an error, a signal that exits).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/helpers/free-port.js';

export interface PostgresCluster {
  /** `postgres://ledge@127.0.0.1:<port>/ledge` (trust authentication, no password) */
  url: string;
  port: number;
  /** `postgres (PostgreSQL) 15.x` */
  version: string;
  /** Stops the server and removes its directory; synchronous, safe to call more than once. */
  stop(): void;
}

/** The directory holding initdb and pg_ctl (Debian keeps them out of PATH), if installed. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) {
    const dir = path.join(root, v, 'bin');
    if (fs.existsSync(path.join(dir, 'initdb'))) return dir;
  }
  const found = execFileSync('sh', ['-c', 'command -v initdb || true'], { encoding: 'utf8' }).trim();
  return found ? path.dirname(found) : undefined;
}

/** Starts a cluster with a database `ledge` owned by the superuser `ledge`. */
export async function startPostgresCluster(prefix = 'ledge-bench-pg-'): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (Debian package postgresql)');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const data = path.join(root, 'data');
  const asRoot = process.getuid?.() === 0;
  const pg = (command: string, args: string[]) =>
    execFileSync(
      asRoot ? 'runuser' : path.join(bin, command),
      asRoot ? ['-u', 'postgres', '--', path.join(bin, command), ...args] : args,
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: root, encoding: 'utf8' },
    );
  let started = false;
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', stop);
    try {
      if (started) pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  };
  process.on('exit', stop);
  try {
    if (asRoot) {
      fs.chmodSync(root, 0o755);
      execFileSync('chown', ['postgres:postgres', root]);
    }
    pg('initdb', ['-D', data, '-U', 'ledge', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    const port = await freePort();
    const options = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
    started = true;
    pg('pg_ctl', ['-D', data, '-o', options, '-l', path.join(root, 'log'), '-w', 'start']);
    pg('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'ledge', 'ledge']);
    const version = pg('postgres', ['--version']).trim();
    return { url: `postgres://ledge@127.0.0.1:${port}/ledge`, port, version, stop };
  } catch (error) {
    stop();
    throw error;
  }
}
