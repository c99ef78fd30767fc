/**
 * `--base host`: a minimal base image made from this machine's Node.js, for builds with no
 * registry to pull a base from (offline machines, the example pipeline in `npm start`). One layer
 * holds the `node` binary that runs ledge, the shared libraries it and ONNX Runtime's native
 * binding load (as `ldd` lists them: the C and C++ runtimes and the dynamic loader), and the
 * files a non-root user needs (/etc/passwd, /etc/group, /tmp). Like a distroless image it has no
 * shell and no package manager.
 *
 * Its one platform is this machine's, and it is as reproducible as this machine's files: the
 * same Node.js and libraries give the same digest. For images to ship, prefer a maintained base
 * (`node:20-slim`, the default) that gets security updates.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  appendLayers,
  type BlobStore,
  buildLayer,
  formatPlatform,
  hostPlatform,
  type Image,
  type LayerFile,
  type Platform,
  platformMatches,
  scratchImage,
  withConfig,
} from '../image/index.js';
import { badBaseImage } from './build-errors.js';

export const HOST_BASE = 'host';

/** Where `node` goes in the image (on the image's PATH). */
const NODE_PATH = '/usr/local/bin/node';

/** The absolute paths of the shared libraries `ldd` says `binary` loads (the loader included). */
export function parseLdd(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split('\n')) {
    // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match) paths.push(match[1]!);
  }
  return paths;
}

function ldd(binary: string): string[] {
  try {
    return parseLdd(execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch (error) {
    throw badBaseImage(
      HOST_BASE,
      `cannot list the shared libraries of ${binary} with ldd (${(error as Error).message.split('\n')[0]})`,
      'install ldd (Debian: libc-bin) or choose another base image with --base',
      error,
    );
  }
}

/**
 * The host base's files: node, and every library node or `nativeBinaries` load, each at the
 * path the loader looks for it (symlinks resolved: the file's content is copied there).
 */
export function hostBaseFiles(nativeBinaries: readonly string[] = []): LayerFile[] {
  const node = fs.realpathSync(process.execPath);
  const libraries = new Set<string>();
  for (const binary of [node, ...nativeBinaries]) {
    for (const library of ldd(binary)) libraries.add(library);
  }
  const files: LayerFile[] = [{ path: NODE_PATH, source: node, mode: 0o755 }];
  for (const library of [...libraries].sort()) {
    // The binding's own libonnxruntime.so travels with it in the dependencies layer.
    if (nativeBinaries.some((binary) => path.dirname(binary) === path.dirname(library))) continue;
    files.push({ path: library, source: fs.realpathSync(library), mode: 0o755 });
  }
  files.push(
    {
      path: '/etc/passwd',
      content: 'root:x:0:0:root:/root:/sbin/nologin\napp:x:1000:1000:app:/app:/sbin/nologin\n',
    },
    { path: '/etc/group', content: 'root:x:0:\napp:x:1000:\n' },
    { path: '/tmp', type: 'directory', mode: 0o1777 },
    { path: '/root', type: 'directory', mode: 0o700 },
  );
  return files;
}

/** The host base image for `platform`, which must be this machine's. */
export async function hostBaseImage(
  platform: Platform,
  options: { cache: BlobStore; nativeBinaries?: readonly string[] },
): Promise<Image> {
  const host = hostPlatform();
  if (!platformMatches(host, platform)) {
    throw badBaseImage(
      HOST_BASE,
      `is this machine's Node.js, ${formatPlatform(host)}; it cannot be a ${formatPlatform(platform)} base`,
      'build other platforms on a registry base (--base node:20-slim) or on a machine of that platform',
    );
  }
  const layer = await buildLayer(hostBaseFiles(options.nativeBinaries), { store: options.cache });
  const image = appendLayers(scratchImage(host), [
    { layer, createdBy: `ledge build --base host: Node.js ${process.version} and its shared libraries` },
  ]);
  return withConfig(image, {
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', NODE_VERSION: process.version.slice(1) },
    cmd: ['node'],
  });
}
