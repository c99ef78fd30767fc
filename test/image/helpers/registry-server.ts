/**
 * A real CNCF distribution registry (Debian's `docker-registry`) on a free loopback port,
 * storing into a temp directory, with optional htpasswd (basic) or token auth. Stopped and
 * removed when the test ends.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

export interface RegistryServer {
  /** `127.0.0.1:<port>` */
  host: string;
  port: number;
  /** The storage root directory (`docker/registry/v2/…` below it). */
  storage: string;
  /** The registry's log so far (stderr and stdout). */
  log(): string;
}

export interface RegistryAuthConfig {
  htpasswd?: { username: string; password: string };
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

import { freePort } from '../../helpers/free-port.js';

export { freePort };

function registryBinary(): string {
  for (const candidate of ['/usr/bin/docker-registry', '/usr/bin/registry']) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('the CNCF registry is not installed: apt-get install docker-registry (.ci/run does this)');
}

/** A bcrypt htpasswd line (the registry accepts only bcrypt), cost 4 to keep requests fast. */
function htpasswdLine(username: string, password: string): string {
  const hash = execFileSync(
    'python3',
    [
      '-c',
      'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))',
      password,
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, PYTHONWARNINGS: 'ignore' },
    },
  ).trim();
  return `${username}:${hash}\n`;
}

export async function startRegistry(t: TestContext, auth: RegistryAuthConfig = {}): Promise<RegistryServer> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-registry-'));
  const storage = path.join(root, 'storage');
  fs.mkdirSync(storage);
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: ledge-test-upload-secret',
  ];
  if (auth.htpasswd) {
    const file = path.join(root, 'htpasswd');
    fs.writeFileSync(file, htpasswdLine(auth.htpasswd.username, auth.htpasswd.password));
    lines.push('auth:', '  htpasswd:', '    realm: ledge-test', `    path: ${file}`);
  }
  if (auth.token) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${auth.token.realm}`,
      `    service: ${auth.token.service}`,
      `    issuer: ${auth.token.issuer}`,
      `    rootcertbundle: ${auth.token.rootCertBundle}`,
    );
  }
  const config = path.join(root, 'config.yml');
  fs.writeFileSync(config, `${lines.join('\n')}\n`);
  let log = '';
  const child: ChildProcess = spawn(registryBinary(), ['serve', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => {
    log += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    log += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(root, { recursive: true, force: true });
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/v2/`);
      await response.body?.cancel();
      if (response.status === 200 || response.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { host: `127.0.0.1:${port}`, port, storage, log: () => log };
}

/** The file holding a blob in the registry's filesystem storage. */
export function registryBlobPath(server: RegistryServer, hex: string): string {
  return path.join(server.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}
