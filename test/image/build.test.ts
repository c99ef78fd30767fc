/**
 * Image assembly and the local outputs: the config a build writes, reproducible digests
 * (twice here, and once more in another process with another time zone and umask),
 * multi-platform indexes, the OCI layout (checked with umoci and skopeo), the docker/podman
 * tarball (checked with skopeo's docker-archive and oci-archive readers), and a full disk.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  appendLayers,
  BlobStore,
  buildIndex,
  buildLayer,
  isImageError,
  type LayoutIo,
  layoutTags,
  MediaType,
  readLayout,
  readLayoutImage,
  scratchImage,
  writeLayout,
  writeTarball,
} from '../../src/image/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { busyboxBaseImage } from './helpers/busybox-base.js';
import { modelBytes, sampleBuild } from './helpers/sample-build.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Leftover temporaries (`.tmp-…`) or anything else in a directory. */
function listing(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** A 512 KiB tmpfs (root can mount one); undefined where mounting is not allowed. */
function tinyDisk(t: TestContext): string | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-tmpfs-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', dir], { stdio: 'ignore' });
  t.after(() => {
    if (mounted.status === 0) spawnSync('umount', [dir], { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return mounted.status === 0 ? dir : undefined;
}

/** Where a tmpfs cannot be mounted: files that fail with ENOSPC after 64 KiB in total. */
function fullDiskIo(): LayoutIo {
  let written = 0;
  return {
    createWriteStream(file: string) {
      const out = fs.createWriteStream(file, { flags: 'wx' });
      return new Writable({
        write(chunk: Buffer, _encoding, callback) {
          written += chunk.length;
          if (written > 64 * 1024) {
            const error = Object.assign(new Error(`ENOSPC: no space left on device, write`), {
              code: 'ENOSPC',
            });
            callback(error);
            return;
          }
          out.write(chunk, callback);
        },
        final(callback) {
          out.end(callback);
        },
        destroy(error, callback) {
          out.destroy();
          callback(error);
        },
      });
    },
  };
}

describe('image builds', () => {
  it('writes the execution config, history and annotations a deployable image needs', async (t) => {
    const { image, base, app, model } = await sampleBuild(tempDir(t));
    assert.equal(image.mediaType, MediaType.ociManifest);
    assert.equal(image.manifest.config.mediaType, MediaType.ociConfig);
    assert.deepEqual(
      image.manifest.layers.map((layer) => layer.mediaType),
      [MediaType.ociLayerGzip, MediaType.ociLayerGzip, MediaType.ociLayerGzip],
    );
    // The model is the top layer, alone.
    assert.equal(image.manifest.layers[2]!.digest, model.descriptor.digest);
    assert.equal(image.manifest.layers[2]!.annotations?.['org.opencontainers.image.title'], 'model');
    assert.deepEqual(image.config.rootfs.diff_ids, [
      ...base.config.rootfs.diff_ids,
      app.diffId,
      model.diffId,
    ]);
    assert.equal(image.config.created, '1970-01-01T00:00:00Z');
    assert.deepEqual(
      image.config.history?.map((entry) => [entry.created, entry.created_by]),
      [
        ['1970-01-01T00:00:00Z', 'busybox rootfs'],
        ['1970-01-01T00:00:00Z', 'ledge build: app'],
        ['1970-01-01T00:00:00Z', 'ledge build: model imdb-sentiment'],
      ],
    );
    const config = image.config.config!;
    assert.deepEqual(config.Entrypoint, ['/bin/sh', '/app/bin/start']);
    assert.equal(config.Cmd, null);
    assert.deepEqual(config.Env, ['PATH=/bin', 'NODE_ENV=production', 'LEDGE_MODEL=/model']);
    assert.equal(config.WorkingDir, '/app');
    assert.equal(config.User, '1000:1000');
    assert.deepEqual(config.ExposedPorts, { '8080/tcp': {} });
    assert.deepEqual(config.Healthcheck, {
      Test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/v2/health/ready'],
      Interval: 10_000_000_000,
      Timeout: 2_000_000_000,
      StartPeriod: 5_000_000_000,
      Retries: 3,
    });
    assert.equal(config.Labels?.['org.opencontainers.image.title'], 'imdb-sentiment');
    assert.equal(config.Labels?.['org.opencontainers.image.version'], '1');
    assert.deepEqual(image.manifest.annotations, {
      'org.opencontainers.image.base.digest': base.digest,
      'org.opencontainers.image.base.name': 'ledge-test/busybox:1',
      'org.opencontainers.image.version': '1',
    });
  });

  it('is reproducible: two builds in different directories and another process agree on the digest', async (t) => {
    const first = await sampleBuild(tempDir(t));
    const second = await sampleBuild(tempDir(t));
    assert.equal(second.image.digest, first.image.digest);
    assert.deepEqual(second.image.rawManifest, first.image.rawManifest);

    const root = tempDir(t);
    const script = path.join(here, 'helpers', 'sample-build-main.js');
    const child = spawnSync('sh', ['-c', 'umask 077; exec "$0" "$@"', process.execPath, script, root], {
      encoding: 'utf8',
      cwd: root,
      env: { ...process.env, TZ: 'Pacific/Chatham', LANG: 'C' },
    });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), first.image.digest);

    // A different model changes only the top layer.
    const next = await sampleBuild(tempDir(t), { modelVersion: '2' });
    assert.notEqual(next.image.digest, first.image.digest);
    assert.deepEqual(next.image.manifest.layers.slice(0, 2), first.image.manifest.layers.slice(0, 2));
    assert.notEqual(next.image.manifest.layers[2]!.digest, first.image.manifest.layers[2]!.digest);
  });

  it('writes an OCI layout that umoci unpacks and skopeo reads, and reads it back', async (t) => {
    const root = tempDir(t);
    const { image } = await sampleBuild(root);
    const layout = path.join(root, 'out', 'imdb-layout');
    const result = await writeLayout(layout, image, { tag: 'v1' });
    assert.equal(result.digest, image.digest);
    assert.deepEqual(listing(path.join(root, 'out')), ['imdb-layout']);
    assert.deepEqual(listing(layout), ['blobs', 'index.json', 'oci-layout']);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(layout, 'oci-layout'), 'utf8')), {
      imageLayoutVersion: '1.0.0',
    });
    assert.deepEqual(layoutTags(layout), ['v1']);

    const back = await readLayoutImage(layout, { tag: 'v1' });
    assert.equal(back.digest, image.digest);
    assert.deepEqual(back.rawConfig, image.rawConfig);

    // skopeo: same manifest bytes, same digest.
    const raw = run('skopeo', ['inspect', '--raw', `oci:${layout}:v1`]);
    assert.equal(raw, image.rawManifest.toString('utf8'));
    const inspected = JSON.parse(run('skopeo', ['inspect', `oci:${layout}:v1`])) as Record<string, unknown>;
    assert.equal(inspected.Digest, image.digest);
    assert.equal(inspected.Architecture, 'amd64');
    assert.equal((inspected.Labels as Record<string, string>)['dev.ledge.model.version'], '1');

    // umoci: unpacks the layers into a runtime bundle with our config.
    const stat = JSON.parse(run('umoci', ['stat', '--json', '--image', `${layout}:v1`])) as {
      history: { created_by: string }[];
    };
    assert.deepEqual(
      stat.history.map((entry) => entry.created_by),
      ['busybox rootfs', 'ledge build: app', 'ledge build: model imdb-sentiment'],
    );
    const bundle = path.join(root, 'bundle');
    run('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, bundle]);
    const rootfs = path.join(bundle, 'rootfs');
    assert.deepEqual(
      fs.readFileSync(path.join(rootfs, 'model/model.onnx')),
      modelBytes(256 * 1024, 'imdb-1'),
    );
    assert.equal(fs.readFileSync(path.join(rootfs, 'model/model.txt'), 'utf8'), 'imdb-sentiment v1\n');
    assert.equal(fs.statSync(path.join(rootfs, 'app/bin/start')).mode & 0o777, 0o755);
    assert.equal(fs.readlinkSync(path.join(rootfs, 'bin/sh')), 'busybox');
    const runtime = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as {
      process: { args: string[]; cwd: string; env: string[]; user: { uid: number; gid: number } };
    };
    assert.deepEqual(runtime.process.args, ['/bin/sh', '/app/bin/start']);
    assert.equal(runtime.process.cwd, '/app');
    assert.deepEqual(runtime.process.user, { uid: 1000, gid: 1000 });
    assert.ok(runtime.process.env.includes('NODE_ENV=production'));

    // Writing again replaces the layout in one step.
    await writeLayout(layout, image, { tag: 'v1-again' });
    assert.deepEqual(layoutTags(layout), ['v1-again']);
    assert.deepEqual(listing(path.join(root, 'out')), ['imdb-layout']);
  });

  it('builds a multi-platform index and picks the platform back out of it', async (t) => {
    const root = tempDir(t);
    const store = new BlobStore(path.join(root, 'blobs'));
    const amd64 = (await sampleBuild(root, { store })).image;
    const arm64 = (await sampleBuild(root, { store, architecture: 'arm64' })).image;
    const index = buildIndex([amd64, arm64]);
    assert.equal(index.mediaType, MediaType.ociIndex);
    assert.deepEqual(
      index.manifest.manifests.map((entry) => [entry.digest, entry.platform]),
      [
        [amd64.digest, { os: 'linux', architecture: 'amd64' }],
        [arm64.digest, { os: 'linux', architecture: 'arm64' }],
      ],
    );
    assert.equal(buildIndex([amd64, arm64]).digest, index.digest);
    assert.throws(() => buildIndex([amd64, amd64]), /same platform/);

    const layout = path.join(root, 'multi');
    await writeLayout(layout, index, { tag: 'latest' });
    const back = await readLayout(layout, { tag: 'latest' });
    assert.equal(back.kind, 'index');
    assert.equal(back.digest, index.digest);
    assert.equal((await readLayoutImage(layout, { platform: 'linux/arm64' })).digest, arm64.digest);
    assert.equal((await readLayoutImage(layout, { platform: 'linux/amd64' })).digest, amd64.digest);
    await assert.rejects(readLayoutImage(layout, { platform: 'linux/riscv64' }), (error) => {
      assert.ok(isImageError(error, 'platform-not-found'));
      assert.match(error.line, /has no linux\/riscv64 image; it has linux\/amd64, linux\/arm64$/);
      return true;
    });
    // Shared layers (the model, the app) are stored once.
    const blobs = fs.readdirSync(path.join(layout, 'blobs', 'sha256'));
    assert.equal(blobs.length, new Set(blobs).size);
    // skopeo reads the index (its digest) and picks the arm64 image's config from it.
    assert.equal(
      run('skopeo', ['inspect', '--raw', `oci:${layout}:latest`]),
      index.rawManifest.toString('utf8'),
    );
    const picked = JSON.parse(run('skopeo', ['inspect', '--override-arch', 'arm64', `oci:${layout}:latest`]));
    assert.equal(picked.Digest, index.digest);
    assert.equal(picked.Architecture, 'arm64');
  });

  it('writes a tarball that both docker-archive and oci-archive readers load', async (t) => {
    const root = tempDir(t);
    const { image } = await sampleBuild(root);
    const file = path.join(root, 'imdb.tar');
    const result = await writeTarball(file, image, { tag: 'localhost/ledge/imdb:1' });
    assert.equal(result.digest, image.digest);
    const names = run('tar', ['-tf', file]).trim().split('\n');
    assert.deepEqual(names.slice(-3), ['index.json', 'manifest.json', 'oci-layout']);
    const manifest = JSON.parse(run('tar', ['-xOf', file, 'manifest.json'])) as {
      Config: string;
      RepoTags: string[];
      Layers: string[];
    }[];
    assert.deepEqual(manifest, [
      {
        Config: `blobs/sha256/${image.manifest.config.digest.slice(7)}`,
        RepoTags: ['localhost/ledge/imdb:1'],
        Layers: image.manifest.layers.map((layer) => `blobs/sha256/${layer.digest.slice(7)}`),
      },
    ]);
    // The Docker reader decompresses the layers and checks them against the config's diff_ids.
    const copy = path.join(root, 'docker-copy');
    run('skopeo', ['copy', `docker-archive:${file}`, `dir:${copy}`]);
    for (const diffId of image.config.rootfs.diff_ids)
      assert.ok(fs.existsSync(path.join(copy, diffId.slice(7))));
    // The OCI reader sees our manifest unchanged.
    assert.equal(JSON.parse(run('skopeo', ['inspect', `oci-archive:${file}`])).Digest, image.digest);
    // Same image, same tarball bytes.
    const again = path.join(root, 'again.tar');
    await writeTarball(again, image, { tag: 'localhost/ledge/imdb:1' });
    assert.deepEqual(fs.readFileSync(again), fs.readFileSync(file));
  });

  for (const mode of ['a 512 KiB tmpfs', 'an injected ENOSPC'] as const) {
    it(`leaves no half-written layout on a full disk (${mode}), and keeps the layout that was there`, async (t) => {
      const root = tempDir(t);
      const store = new BlobStore(path.join(root, 'blobs'));
      const small = appendLayers(scratchImage({ os: 'linux', architecture: 'amd64' }), [
        await buildLayer([{ path: 'hello.txt', content: 'hi' }], { store }),
      ]);
      const big = await busyboxBaseImage(store); // ~1 MiB: more than the disk holds
      // Where mounting is not allowed, the tmpfs case falls back to the injected failure.
      const disk = mode === 'a 512 KiB tmpfs' ? tinyDisk(t) : undefined;
      const io = disk ? undefined : fullDiskIo();
      const parent = disk ?? tempDir(t);
      const layout = path.join(parent, 'layout');
      await writeLayout(layout, small, { tag: 'small' });

      await assert.rejects(writeLayout(layout, big, { tag: 'big', ...(io ? { io } : {}) }), (error) => {
        assert.ok(isImageError(error, 'write-failed'), String(error));
        assert.equal(error.code, 'io');
        assert.match(
          error.line,
          /^cannot write .*layout: no space left on device; free disk space and retry/,
        );
        return true;
      });
      assert.deepEqual(listing(parent), ['layout'], 'no temporary directory is left behind');
      assert.equal((await readLayoutImage(layout)).digest, small.digest);

      const fresh = path.join(parent, 'fresh');
      await assert.rejects(writeLayout(fresh, big, io ? { io: fullDiskIo() } : {}), (error) =>
        isImageError(error, 'write-failed'),
      );
      assert.deepEqual(listing(parent), ['layout']);
    });
  }

  it('refuses a layout whose blobs were altered, and writes nothing from it', async (t) => {
    const root = tempDir(t);
    const { image } = await sampleBuild(root);
    const layout = path.join(root, 'layout');
    await writeLayout(layout, image);
    const modelBlob = path.join(layout, 'blobs', 'sha256', image.manifest.layers[2]!.digest.slice(7));
    const bytes = fs.readFileSync(modelBlob);
    bytes[bytes.length - 100]! ^= 0xff;
    fs.writeFileSync(modelBlob, bytes);

    const copy = await readLayoutImage(layout);
    await assert.rejects(writeLayout(path.join(root, 'copy'), copy), (error) => {
      assert.ok(isImageError(error, 'digest-mismatch'), String(error));
      assert.match(
        error.line,
        /content hashes to sha256:[0-9a-f]{64}, expected sha256:[0-9a-f]{64}; refusing it/,
      );
      return true;
    });
    assert.ok(!fs.existsSync(path.join(root, 'copy')));
    assert.ok(listing(root).every((name) => !name.startsWith('.tmp-')));

    await assert.rejects(readLayout(path.join(root, 'nowhere')), /OCI layout .*nowhere does not exist/);
    await assert.rejects(readLayout(layout, { tag: 'v9' }), (error) => {
      assert.ok(isImageError(error, 'not-found'));
      assert.match(error.line, /layout:v9 does not exist; the layout has no tags/);
      return true;
    });
  });
});
