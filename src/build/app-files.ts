/**
 * What the two code layers of a model image hold, as layer files: the runtime's npm
 * dependencies (ONNX Runtime's binaries pruned to the target platforms), and the compiled
 * server modules with a small package.json. Everything goes below `/app` in the image.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../core/version.js';
import { filesFromDirectory, type LayerFile } from '../image/index.js';
import { missingOrtBinaries } from './build-errors.js';
import { dependencyClosure, type InstalledPackage } from './dependency-closure.js';
import { type ModuleGraph, moduleGraph } from './module-graph.js';
import { keepOnnxRuntimeFile } from './platforms.js';

/** Where the app lives in the image. */
export const APP_DIR = '/app';
/** The container entrypoint, relative to the app's root (compiled from src/runtime/server/serve-main.ts). */
export const SERVER_ENTRY = 'dist/src/runtime/server/serve-main.js';
export const ORT_PACKAGE = 'onnxruntime-node';

/** The root of the ledge installation running now (the directory holding dist/ and node_modules/). */
export function installedAppRoot(): string {
  // this file: <root>/dist/src/build/app-files.js
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export interface AppParts {
  appRoot: string;
  graph: ModuleGraph;
  packages: InstalledPackage[];
}

/** The server's modules and the packages they need, read from the installation at `appRoot`. */
export function appParts(appRoot: string): AppParts {
  const root = fs.realpathSync(appRoot);
  const graph = moduleGraph(path.join(root, SERVER_ENTRY), root);
  return { appRoot: root, graph, packages: dependencyClosure(graph.packages, root) };
}

/** The server layer: compiled modules at their paths below /app, and /app/package.json. */
export function serverFiles(parts: AppParts): LayerFile[] {
  const files: LayerFile[] = parts.graph.files.map((file) => ({
    path: `${APP_DIR}/${path.relative(parts.appRoot, file).split(path.sep).join('/')}`,
    source: file,
    mode: 0o644,
  }));
  const manifest = { name: 'ledge-model-server', version: VERSION, private: true, type: 'module' };
  files.push({ path: `${APP_DIR}/package.json`, content: `${JSON.stringify(manifest, null, 2)}\n` });
  return files;
}

export interface DependencyFileOptions {
  /** Node.js architectures whose ONNX Runtime binaries to keep; undefined keeps every platform's. */
  arches?: readonly ('x64' | 'arm64')[] | undefined;
}

/** The dependencies layer: every package of the closure below /app/node_modules. */
export function dependencyFiles(parts: AppParts, options: DependencyFileOptions = {}): LayerFile[] {
  const { arches } = options;
  const files: LayerFile[] = [];
  for (const pkg of parts.packages) {
    const ort = pkg.name === ORT_PACKAGE;
    if (ort && arches) for (const arch of arches) checkOrtBinaries(pkg.dir, arch);
    files.push(
      ...filesFromDirectory(pkg.dir, {
        to: `${APP_DIR}/${pkg.imagePath}`,
        // Nested node_modules hold packages of their own, added (or not) by the closure.
        exclude: (rel) =>
          rel === 'node_modules' || (ort && arches !== undefined && !keepOnnxRuntimeFile(rel, arches)),
      }),
    );
  }
  return files;
}

function checkOrtBinaries(dir: string, arch: 'x64' | 'arm64'): void {
  const bin = path.join(dir, 'bin');
  const napi = fs.existsSync(bin) ? fs.readdirSync(bin).filter((name) => name.startsWith('napi-v')) : [];
  const found = napi.some((name) =>
    fs.existsSync(path.join(bin, name, 'linux', arch, 'onnxruntime_binding.node')),
  );
  if (!found) throw missingOrtBinaries(arch, dir);
}
