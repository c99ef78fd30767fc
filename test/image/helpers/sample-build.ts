/**
 * The build the image tests share: busybox base + an "app" layer (from a source directory
 * written fresh, with its own timestamps) + a "model" layer last, with the execution config
 * `ledge build` will write (entrypoint, port, healthcheck, non-root user, labels).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  BlobStore,
  type BuiltLayer,
  buildImage,
  buildLayer,
  filesFromDirectory,
  type Image,
} from '../../../src/image/index.js';
import { busyboxBaseImage } from './busybox-base.js';

/** Deterministic pseudo-random bytes (incompressible, like ONNX weights). */
export function modelBytes(size: number, seed = 'imdb-v1'): Buffer {
  const out = Buffer.alloc(size);
  let block = Buffer.from(seed);
  for (let offset = 0; offset < size; offset += 32) {
    block = createHash('sha256').update(block).digest();
    block.copy(out, offset, 0, Math.min(32, size - offset));
  }
  return out;
}

export function writeAppSources(root: string): string {
  const dir = path.join(root, 'app-src');
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'bin', 'start'),
    '#!/bin/sh\necho "app ok as $(id -u):$(id -g) in $(pwd), model: $(cat /model/model.txt)"\n',
  );
  fs.chmodSync(path.join(dir, 'bin', 'start'), 0o755);
  fs.writeFileSync(path.join(dir, 'server.js'), '// the model server would be here\n');
  const when = new Date(Date.now() - Math.floor(Math.random() * 1e9));
  fs.utimesSync(path.join(dir, 'server.js'), when, when);
  return dir;
}

export interface SampleBuild {
  store: BlobStore;
  base: Image;
  app: BuiltLayer;
  model: BuiltLayer;
  image: Image;
}

export async function modelLayer(store: BlobStore, version: string, size = 256 * 1024): Promise<BuiltLayer> {
  return buildLayer(
    [
      { path: '/model/model.onnx', content: modelBytes(size, `imdb-${version}`) },
      { path: '/model/model.txt', content: `imdb-sentiment v${version}\n` },
    ],
    { store, annotations: { 'org.opencontainers.image.title': 'model' } },
  );
}

export async function sampleBuild(
  root: string,
  options: { base?: Image; store?: BlobStore; modelVersion?: string; architecture?: string } = {},
): Promise<SampleBuild> {
  const store = options.store ?? new BlobStore(path.join(root, 'blobs'));
  const base = options.base ?? (await busyboxBaseImage(store, options.architecture));
  const app = await buildLayer(filesFromDirectory(writeAppSources(root), { to: '/app' }), { store });
  const version = options.modelVersion ?? '1';
  const model = await modelLayer(store, version);
  const image = buildImage({
    base,
    baseName: 'ledge-test/busybox:1',
    layers: [
      { layer: app, createdBy: 'ledge build: app' },
      { layer: model, createdBy: 'ledge build: model imdb-sentiment', comment: `model version ${version}` },
    ],
    config: {
      entrypoint: ['/bin/sh', '/app/bin/start'],
      cmd: null,
      env: { NODE_ENV: 'production', LEDGE_MODEL: '/model' },
      workingDir: '/app',
      user: '1000:1000',
      exposedPorts: [8080],
      healthcheck: {
        test: ['wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/v2/health/ready'],
        intervalMs: 10_000,
        timeoutMs: 2_000,
        startPeriodMs: 5_000,
        retries: 3,
      },
      labels: {
        'org.opencontainers.image.title': 'imdb-sentiment',
        'org.opencontainers.image.version': version,
        'org.opencontainers.image.revision': '0123456789abcdef0123456789abcdef01234567',
        'dev.ledge.model.name': 'imdb-sentiment',
        'dev.ledge.model.version': version,
      },
    },
    annotations: { 'org.opencontainers.image.version': version },
  });
  return { store, base, app, model, image };
}
