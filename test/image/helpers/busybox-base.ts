/**
 * A tiny base image made here, as the test setup cannot pull from the internet: Debian's
 * static busybox (package `busybox-static`) with applet symlinks, /etc/passwd and /etc/group,
 * assembled with ledge's own layer builder on `scratch`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import {
  appendLayers,
  type BlobStore,
  buildLayer,
  type Image,
  type LayerFile,
  scratchImage,
  withConfig,
} from '../../../src/image/index.js';

/** The static busybox binary of the installed `busybox-static` package. */
export function busyboxBinary(): string {
  let files: string[] = [];
  try {
    files = execFileSync('dpkg', ['-L', 'busybox-static'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .filter((line) => line.endsWith('/busybox'));
  } catch {
    // not installed
  }
  const found = files.find((file) => fs.existsSync(file) && fs.statSync(file).isFile());
  if (!found)
    throw new Error('busybox-static is not installed: apt-get install busybox-static (.ci/run does this)');
  return found;
}

const APPLETS = ['sh', 'cat', 'echo', 'ls', 'id', 'wget', 'sleep', 'env', 'test', 'true'];

export function busyboxRootfs(): LayerFile[] {
  return [
    { path: '/bin/busybox', source: busyboxBinary(), mode: 0o755 },
    ...APPLETS.map((name): LayerFile => ({ path: `/bin/${name}`, type: 'symlink', target: 'busybox' })),
    { path: '/etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/app:/bin/sh\n' },
    { path: '/etc/group', content: 'root:x:0:\napp:x:1000:\n' },
    { path: '/tmp', type: 'directory', mode: 0o1777 },
    { path: '/root', type: 'directory', mode: 0o700 },
  ];
}

/** linux/amd64 busybox image: one layer, `sh` by default. */
export async function busyboxBaseImage(store: BlobStore, architecture = 'amd64'): Promise<Image> {
  const layer = await buildLayer(busyboxRootfs(), { store });
  const image = appendLayers(scratchImage({ os: 'linux', architecture }), [
    { layer, createdBy: 'busybox rootfs' },
  ]);
  return withConfig(image, {
    env: { PATH: '/bin' },
    cmd: ['/bin/sh'],
    labels: { 'org.opencontainers.image.title': 'ledge test base (busybox)' },
  });
}
