/**
 * A real container engine for a test: `podman system service` serving the Docker Engine API on
 * a unix socket in a temp directory, with its own storage (vfs), run directory and
 * containers.conf (the settings ../shared/PRODUCT.md lists for this machine), and a
 * registries.conf that lets it pull over plain HTTP from the test's loopback registries.
 * Unique per call, so tests run in parallel; torn down when the test ends: the service is
 * stopped, every container and image removed, the directory deleted.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { makePodmanRoot } from '../../helpers/podman-root.js';

export interface PodmanService {
  /** The socket the Engine API is served on. */
  socket: string;
  /** `podman <args>` against the same storage (for checks outside the API); returns stdout. */
  podman(...args: string[]): string;
  /** The service's output so far. */
  log(): string;
}

export interface PodmanServiceOptions {
  /** Registries (`127.0.0.1:5000`) the engine may pull from over plain HTTP. */
  insecureRegistries?: string[];
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

export async function startPodmanService(
  t: TestContext,
  options: PodmanServiceOptions = {},
): Promise<PodmanService> {
  const { dir: root, flags, env: podmanEnv } = makePodmanRoot('ledge-engine-');
  const registries = path.join(root, 'registries.conf');
  fs.writeFileSync(
    registries,
    (options.insecureRegistries ?? [])
      .map((location) => `[[registry]]\nlocation = "${location}"\ninsecure = true\n`)
      .join('\n'),
  );
  const env = { ...podmanEnv, CONTAINERS_REGISTRIES_CONF: registries };
  const socket = path.join(root, 'podman.sock');
  let output = '';
  const child: ChildProcess = spawn(
    'podman',
    [...flags, 'system', 'service', '--time=0', `unix://${socket}`],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const podman = (...args: string[]): string => {
    const result = spawnSync('podman', [...flags, ...args], { encoding: 'utf8', env });
    if (result.status !== 0) throw new Error(`podman ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  t.after(async () => {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    spawnSync('podman', [...flags, 'rm', '--all', '--force', '--time', '0'], { env, stdio: 'ignore' });
    spawnSync('podman', [...flags, 'rmi', '--all', '--force'], { env, stdio: 'ignore' });
    fs.rmSync(root, { recursive: true, force: true });
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const failed = await Promise.race([
      spawnError,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 50)),
    ]);
    if (failed) throw new Error(`podman is not installed: apt-get install podman runc (${failed.message})`);
    if (child.exitCode !== null) throw new Error(`podman system service exited: ${output}`);
    if (await ping(socket)) break;
    if (Date.now() > deadline)
      throw new Error(`podman system service did not answer on ${socket}: ${output}`);
  }
  return { socket, podman, log: () => output };
}
