/**
 * Podman in a private root for one test (storage and run directories in a temp directory,
 * the vfs driver, and the containers.conf this machine needs: ../shared/PRODUCT.md). Every
 * container and image is removed, and the directory deleted, when the test ends.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type { TestContext } from 'node:test';
import { makePodmanRoot } from '../../helpers/podman-root.js';

export interface Podman {
  /** Runs podman; resolves with its output, rejects with its stderr on a non-zero exit. */
  (...args: string[]): Promise<string>;
  /** Runs podman; resolves with the exit code and output whatever they are. */
  status(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export function podmanIn(t: TestContext): Podman {
  const { dir: root, flags: base, env } = makePodmanRoot();
  const status: Podman['status'] = (...args) =>
    new Promise((resolve, reject) => {
      const child = spawn('podman', [...base, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
      });
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      child.on('error', (error) =>
        reject(new Error(`podman is not installed: apt-get install podman runc (${error.message})`)),
      );
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const podman = (async (...args: string[]) => {
    const result = await status(...args);
    if (result.code !== 0)
      throw new Error(`podman ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result.stdout;
  }) as Podman;
  podman.status = status;
  t.after(() => {
    spawnSync('podman', [...base, 'rm', '--all', '--force', '--time', '0'], { env, stdio: 'ignore' });
    spawnSync('podman', [...base, 'rmi', '--all', '--force'], { env, stdio: 'ignore' });
    fs.rmSync(root, { recursive: true, force: true });
  });
  return podman;
}
