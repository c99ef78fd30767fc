/**
 * `buildModelImage` on a small base (the image tests' busybox, for linux/amd64 and
 * linux/arm64, in an OCI layout): the same inputs give the same digest from a cold cache; a
 * model-only change moves only the model layer (and the config and manifest); a new commit
 * time changes no layer; several platforms make an index whose arm64 image has no x64
 * binaries; outputs are checked with skopeo; the Dockerfile context holds the same files;
 * bad bases and bundles fail in one line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import {
  type BuildModelImageOptions,
  buildModelImage,
  isBuildError,
  type ModelImageBuild,
  writeDockerContext,
  writeModelImage,
} from '../../src/build/index.js';
import { BlobStore, buildIndex, isGzipLayer, readTar, writeLayout } from '../../src/image/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { busyboxBaseImage } from '../image/helpers/busybox-base.js';
import { modelBytes } from '../image/helpers/sample-build.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** A bundle-shaped directory (the build checks for model.onnx; the server is not run here). */
function fakeBundle(dir: string, seed: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.onnx'), modelBytes(128 * 1024, seed));
  fs.writeFileSync(path.join(dir, 'model-card.json'), JSON.stringify({ name: 'imdb-sentiment', seed }));
  return dir;
}

async function tarEntries(build: ModelImageBuild, platform: string, role: string) {
  const p = build.platforms.find((x) => x.platform === platform)!;
  const index = p.layers.findIndex((layer) => layer.role === role);
  const layer = p.image.layers[index]!;
  const stream = await layer.open();
  const entries: { path: string; type: string }[] = [];
  const source = isGzipLayer(layer.descriptor.mediaType) ? stream.pipe(createGunzip()) : stream;
  for await (const entry of readTar(source, role))
    entries.push({ path: entry.header.path, type: entry.header.type });
  return entries;
}

const tarPaths = async (build: ModelImageBuild, platform: string, role: string) =>
  (await tarEntries(build, platform, role)).map((e) => e.path);

const tarFiles = async (build: ModelImageBuild, platform: string, role: string) =>
  (await tarEntries(build, platform, role)).filter((e) => e.type === 'file').map((e) => e.path);

const roles = (build: ModelImageBuild, platform = 0) =>
  Object.fromEntries(build.platforms[platform]!.layers.map((layer) => [layer.role, layer.digest]));

describe('buildModelImage', () => {
  let root: string;
  let base: string;
  let cache: BlobStore;
  let common: Omit<BuildModelImageOptions, 'model'>;

  after(() => fs.rmSync(root, { recursive: true, force: true }));

  before(async () => {
    root = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'ledge-build-'));
    const store = new BlobStore(path.join(root, 'base-blobs'));
    const index = buildIndex([
      await busyboxBaseImage(store, 'amd64'),
      await busyboxBaseImage(store, 'arm64'),
    ]);
    base = path.join(root, 'base');
    await writeLayout(base, index, { tag: 'multi' });
    await writeLayout(path.join(root, 'amd64-only'), await busyboxBaseImage(store, 'amd64'), { tag: '1' });
    cache = new BlobStore(path.join(root, 'cache'));
    common = {
      base: `oci:${base}:multi`,
      cache,
      appRoot: repo,
      cwd: root,
      source: { commit: 'f'.repeat(40) },
      created: 0,
    };
  });

  it('gives the same digest from a cold cache; a model-only change moves only the model layer', async (t) => {
    const bundle = fakeBundle(path.join(root, 'model-a'), 'a');
    const model = { dir: bundle, name: 'imdb-sentiment', version: '1' };
    const first = await buildModelImage({ ...common, model });
    const cold = await buildModelImage({ ...common, cache: path.join(tempDir(t), 'cold'), model });
    assert.equal(cold.digest, first.digest);
    assert.equal(first.image?.digest, first.digest);
    assert.equal(first.index, undefined);
    assert.deepEqual(
      first.platforms[0]!.layers.map((layer) => layer.role),
      ['base', 'dependencies', 'server', 'model'],
    );
    const top = first.platforms[0]!.layers.at(-1)!;
    assert.equal(top.mediaType, 'application/vnd.oci.image.layer.v1.tar', 'the model is stored uncompressed');
    assert.equal(top.size, top.uncompressedSize);

    const warmStart = performance.now();
    const warm = await buildModelImage({ ...common, model });
    t.diagnostic(
      `warm rebuild: ${Math.round(performance.now() - warmStart)} ms; cold: ${Math.round(first.timings.totalMs)} ms`,
    );
    assert.equal(warm.digest, first.digest);
    assert.ok(warm.platforms[0]!.layers.filter((l) => l.role !== 'base').every((l) => l.reused));

    const next = await buildModelImage({
      ...common,
      model: { dir: fakeBundle(path.join(root, 'model-b'), 'b'), name: 'imdb-sentiment', version: '2' },
    });
    const [a, b] = [roles(first), roles(next)];
    assert.equal(b.base, a.base);
    assert.equal(b.dependencies, a.dependencies);
    assert.equal(b.server, a.server);
    assert.notEqual(b.model, a.model);
    assert.notEqual(
      next.platforms[0]!.image.manifest.config.digest,
      first.platforms[0]!.image.manifest.config.digest,
    );
    assert.notEqual(next.digest, first.digest);

    // Another commit time changes the config only: layers carry fixed mtimes.
    const later = await buildModelImage({
      ...common,
      created: undefined,
      env: { SOURCE_DATE_EPOCH: '1700000000' },
      model,
    });
    assert.equal(later.created, '2023-11-14T22:13:20Z');
    assert.equal(later.platforms[0]!.image.config.created, '2023-11-14T22:13:20Z');
    assert.deepEqual(roles(later), roles(first));
    assert.notEqual(later.digest, first.digest);

    const config = first.platforms[0]!.image.config.config!;
    assert.equal(config.User, '1000:1000');
    assert.deepEqual(Object.keys(config.ExposedPorts ?? {}), ['8080/tcp']);
    assert.equal(config.Labels?.['org.opencontainers.image.revision'], 'f'.repeat(40));
    assert.equal(
      config.Labels?.['ai.ledge.model.digest'],
      top.diffId,
      'an unregistered model is named by its layer',
    );
    assert.equal(config.Healthcheck?.Test?.[0], 'CMD');
    assert.equal(first.platforms[0]!.image.manifest.annotations?.['org.opencontainers.image.version'], '1');
  });

  it("builds an index for linux/amd64 and linux/arm64, each with only its platform's ONNX Runtime", async (t) => {
    const model = { dir: fakeBundle(path.join(root, 'model-a'), 'a'), name: 'imdb-sentiment', version: '1' };
    const build = await buildModelImage({ ...common, model, platforms: 'linux/amd64,linux/arm64' });
    assert.ok(build.index);
    assert.equal(build.digest, build.index.digest);
    assert.deepEqual(
      build.index.manifest.manifests.map((m) => m.platform),
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
    );
    const [amd64, arm64] = [roles(build, 0), roles(build, 1)];
    assert.equal(amd64.server, arm64.server);
    assert.equal(amd64.model, arm64.model);
    assert.notEqual(amd64.dependencies, arm64.dependencies);
    const armFiles = await tarPaths(build, 'linux/arm64', 'dependencies');
    assert.ok(
      armFiles.some((p) => p.endsWith('onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node')),
    );
    assert.ok(!armFiles.some((p) => /onnxruntime-node\/bin\/napi-v\d+\/(linux\/x64|darwin|win32)/.test(p)));
    const amdFiles = await tarPaths(build, 'linux/amd64', 'dependencies');
    assert.ok(!amdFiles.some((p) => /onnxruntime-node\/bin\/napi-v\d+\/(linux\/arm64|darwin|win32)/.test(p)));
    assert.ok(!amdFiles.some((p) => /node_modules\/(better-sqlite3|kysely|pg|commander|@aws-sdk)\//.test(p)));

    const full = await buildModelImage({
      ...common,
      model,
      platforms: 'linux/amd64,linux/arm64',
      pruneOnnxRuntime: false,
    });
    assert.equal(roles(full, 0).dependencies, roles(full, 1).dependencies, 'unpruned: one layer for both');
    const deps = (b: ModelImageBuild, i: number) =>
      b.platforms[i]!.layers.find((l) => l.role === 'dependencies')!;
    const mib = (n: number | null) => `${((n ?? 0) / 1048576).toFixed(1)} MiB`;
    for (const [label, layer] of [
      ['pruned linux/amd64', deps(build, 0)],
      ['pruned linux/arm64', deps(build, 1)],
      ['unpruned (both)', deps(full, 0)],
    ] as const) {
      t.diagnostic(
        `dependencies layer ${label}: ${mib(layer.size)} compressed, ${mib(layer.uncompressedSize)} unpacked`,
      );
    }
    assert.ok(deps(full, 0).size > 3 * deps(build, 0).size, 'pruning removes most of ONNX Runtime');

    // Outputs: a layout with both platforms (skopeo reads each); a tarball holds one platform.
    const layout = path.join(root, 'out-layout');
    await writeModelImage(`oci:${layout}`, build, { tag: 'ledge/imdb-sentiment:1' });
    const inspect = (arch: string) =>
      JSON.parse(
        execFileSync('skopeo', ['inspect', '--override-arch', arch, `oci:${layout}:1`], { encoding: 'utf8' }),
      ) as { Architecture: string; Labels: Record<string, string> };
    assert.equal(inspect('arm64').Architecture, 'arm64');
    assert.equal(inspect('amd64').Labels['ai.ledge.model.name'], 'imdb-sentiment');
    await assert.rejects(
      writeModelImage(`tar:${path.join(root, 'x.tar')}`, build),
      (error: Error) => isBuildError(error, 'bad-output') && /holds one platform/.test(error.message),
    );
  });

  it('writes an equivalent Docker build context, replacing only its own', async (t) => {
    const model = { dir: fakeBundle(path.join(root, 'model-a'), 'a'), name: 'imdb-sentiment', version: '1' };
    const build = await buildModelImage({ ...common, model });
    const dir = path.join(tempDir(t), 'context');
    const written = await writeDockerContext(dir, build, { tag: 'ledge/imdb-sentiment:1' });
    assert.equal(written.from, `oci:${base}:multi`);
    const dockerfile = fs.readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, new RegExp(`# ${build.digest} \\(linux/amd64\\)`));
    assert.ok(fs.existsSync(path.join(dir, 'docker-compose.yml')));
    assert.ok(fs.existsSync(path.join(dir, 'model', 'model.onnx')));
    assert.ok(fs.existsSync(path.join(dir, 'server', 'dist', 'src', 'runtime', 'server', 'serve-main.js')));
    assert.ok(
      fs.existsSync(
        path.join(dir, 'dependencies', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64'),
      ),
    );
    assert.ok(
      !fs.existsSync(
        path.join(dir, 'dependencies', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'darwin'),
      ),
    );
    // The same files as the image's layers.
    for (const [role, sub, strip] of [
      ['server', 'server', 'app/'],
      ['model', 'model', 'model/'],
      ['dependencies', 'dependencies', 'app/'],
    ] as const) {
      const inLayer = (await tarFiles(build, 'linux/amd64', role)).map((p) => p.slice(strip.length)).sort();
      const inContext = (fs.readdirSync(path.join(dir, sub), { recursive: true }) as string[])
        .filter((f) => fs.lstatSync(path.join(dir, sub, f)).isFile())
        .sort();
      assert.deepEqual(inContext, inLayer, role);
    }
    // Written again over itself; a directory ledge did not write is refused.
    await writeDockerContext(dir, build, { tag: 'ledge/imdb-sentiment:1' });
    const foreign = tempDir(t);
    fs.writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
    await assert.rejects(writeDockerContext(foreign, build, { tag: 'x:1' }), (error: Error) =>
      isBuildError(error, 'context-exists'),
    );
    assert.deepEqual(fs.readdirSync(foreign), ['notes.txt']);
  });

  it('refuses a missing base, a base without the platform, and a directory that is no bundle, in one line', async () => {
    const model = { dir: fakeBundle(path.join(root, 'model-a'), 'a'), name: 'imdb-sentiment' };
    const oneLine = (reason: string, pattern: RegExp) => (error: Error & { line?: string }) =>
      isBuildError(error, reason as never) &&
      pattern.test(error.line ?? '') &&
      !(error.line ?? '').includes('\n');
    await assert.rejects(
      buildModelImage({ ...common, model, base: `oci:${path.join(root, 'nowhere')}` }),
      oneLine(
        'base-image',
        /^base image oci:.*nowhere: OCI layout .*nowhere does not exist; .*or choose another base image with --base$/,
      ),
    );
    await assert.rejects(
      buildModelImage({
        ...common,
        model,
        base: `oci:${path.join(root, 'amd64-only')}:1`,
        platforms: 'linux/arm64',
      }),
      oneLine(
        'base-image',
        /has no linux\/arm64 image \(it has linux\/amd64\); choose a base with an image for every --platform/,
      ),
    );
    const empty = path.join(root, 'empty-bundle');
    fs.mkdirSync(empty, { recursive: true });
    await assert.rejects(
      buildModelImage({ ...common, model: { dir: empty, name: 'x' } }),
      oneLine('not-a-bundle', /is not a model bundle: it has no model\.onnx; build a bundle/),
    );
  });
});
