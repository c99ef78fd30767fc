/**
 * Layers: the same files give the same bytes wherever and whenever they are built; the tar
 * inside is sorted, owned by root, dated by one fixed time, with parent directories; the
 * gzip header names no file, time or host; existing archives are normalised and checked.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  appendLayers,
  BlobStore,
  buildLayer,
  filesFromDirectory,
  isImageError,
  type LayerFile,
  layerFromTar,
  scratchImage,
  sourceDateEpoch,
  writeLayout,
} from '../../src/image/index.js';
import { tempDir, writeTree } from '../helpers/temp-dir.js';

function tarListing(tarFile: string): string[] {
  return execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', tarFile], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC' },
  })
    .trim()
    .split('\n')
    .map((line) => line.replace(/\s+/g, ' '));
}

/** Writes an app tree with its own timestamps and permissions, as a fresh checkout would. */
function makeSources(root: string, umask: number): string {
  const dir = path.join(root, 'app');
  writeTree(dir, {
    'server.js': 'console.log("serve")\n',
    'lib/util.js': 'export const x = 1;\n',
    'lib/z-last.js': '// z\n',
    'bin/start': '#!/bin/sh\nexec node /app/server.js\n',
  });
  fs.chmodSync(path.join(dir, 'bin/start'), 0o777 & ~umask);
  fs.chmodSync(path.join(dir, 'server.js'), 0o666 & ~umask);
  const when = new Date(Date.now() - Math.floor(Math.random() * 1e9));
  for (const file of ['server.js', 'lib/util.js']) fs.utimesSync(path.join(dir, file), when, when);
  fs.symlinkSync('server.js', path.join(dir, 'main.js'));
  return dir;
}

describe('layers', () => {
  it('the same files give the same digests in different directories, times and permission masks', async (t) => {
    const builds = [];
    for (const umask of [0o022, 0o077]) {
      const root = tempDir(t);
      const sources = makeSources(root, umask);
      const files: LayerFile[] = [
        ...filesFromDirectory(sources, { to: '/app' }),
        { path: '/etc/ledge/model.json', content: '{"name":"imdb"}' },
      ];
      const store = new BlobStore(path.join(root, 'blobs'));
      // Input order does not matter either.
      builds.push(await buildLayer(umask === 0o022 ? files : [...files].reverse(), { store }));
    }
    const [a, b] = builds;
    assert.equal(a!.descriptor.digest, b!.descriptor.digest);
    assert.equal(a!.diffId, b!.diffId);
    assert.equal(a!.descriptor.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  });

  it('writes a sorted, root-owned, epoch-dated tar with parents, under a fixed gzip header', async (t) => {
    const root = tempDir(t);
    const sources = makeSources(root, 0o022);
    const store = new BlobStore(path.join(root, 'blobs'));
    const layer = await buildLayer(
      [
        ...filesFromDirectory(sources, { to: 'app' }),
        { path: '/data', type: 'directory', mode: 0o775, uid: 1000, gid: 1000 },
        { path: '/model/model.onnx', content: Buffer.alloc(1000, 1) },
      ],
      { store },
    );
    const blob = fs.readFileSync(store.path(layer.descriptor.digest));
    assert.equal(blob.length, layer.descriptor.size);
    assert.equal(`sha256:${createHash('sha256').update(blob).digest('hex')}`, layer.descriptor.digest);
    // ID1 ID2, deflate, no flags (no name/comment/extra), mtime 0, XFL 0 (level 6), OS 255.
    assert.equal(blob.subarray(0, 10).toString('hex'), '1f8b08000000000000ff');
    const tar = gunzipSync(blob);
    assert.equal(`sha256:${createHash('sha256').update(tar).digest('hex')}`, layer.diffId);
    assert.equal(tar.length, layer.uncompressedSize);

    const tarFile = path.join(root, 'layer.tar');
    fs.writeFileSync(tarFile, tar);
    assert.deepEqual(tarListing(tarFile), [
      'drwxr-xr-x 0/0 0 1970-01-01 00:00:00 app/',
      'drwxr-xr-x 0/0 0 1970-01-01 00:00:00 app/bin/',
      '-rwxr-xr-x 0/0 35 1970-01-01 00:00:00 app/bin/start',
      'drwxr-xr-x 0/0 0 1970-01-01 00:00:00 app/lib/',
      '-rw-r--r-- 0/0 20 1970-01-01 00:00:00 app/lib/util.js',
      '-rw-r--r-- 0/0 5 1970-01-01 00:00:00 app/lib/z-last.js',
      'lrwxrwxrwx 0/0 0 1970-01-01 00:00:00 app/main.js -> server.js',
      '-rw-r--r-- 0/0 21 1970-01-01 00:00:00 app/server.js',
      'drwxrwxr-x 1000/1000 0 1970-01-01 00:00:00 data/',
      'drwxr-xr-x 0/0 0 1970-01-01 00:00:00 model/',
      '-rw-r--r-- 0/0 1000 1970-01-01 00:00:00 model/model.onnx',
    ]);
  });

  it('dates entries by SOURCE_DATE_EPOCH when asked, and reuses the compressed blob on a rebuild', async (t) => {
    const root = tempDir(t);
    const store = new BlobStore(path.join(root, 'blobs'));
    const mtime = sourceDateEpoch({ SOURCE_DATE_EPOCH: '1700000000' });
    assert.equal(mtime, 1700000000);
    assert.equal(sourceDateEpoch({}), 0);
    assert.throws(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: 'yesterday' }), /SOURCE_DATE_EPOCH='yesterday'/);
    const files = [{ path: 'a.txt', content: 'a' }];
    const first = await buildLayer(files, { store, mtime });
    assert.equal(first.reused, false);
    const tarFile = path.join(root, 'a.tar');
    fs.writeFileSync(tarFile, gunzipSync(fs.readFileSync(store.path(first.descriptor.digest))));
    assert.match(tarListing(tarFile)[0]!, /2023-11-14 22:13:20 a\.txt$/);

    const again = await buildLayer(files, { store, mtime });
    assert.equal(again.reused, true);
    assert.equal(again.descriptor.digest, first.descriptor.digest);
    const otherLevel = await buildLayer(files, { store, mtime, gzipLevel: 9 });
    assert.equal(otherLevel.reused, false);
    assert.equal(otherLevel.diffId, first.diffId);
    const epoch = await buildLayer(files, { store });
    assert.notEqual(epoch.diffId, first.diffId);
  });

  it('builds uncompressed layers (digest = diffID) that umoci unpacks', async (t) => {
    const root = tempDir(t);
    const store = new BlobStore(path.join(root, 'blobs'));
    const weights = Buffer.alloc(200_000, 3);
    const files = [{ path: '/model/model.onnx', content: weights }];
    const layer = await buildLayer(files, { store, compression: 'none' });
    assert.equal(layer.descriptor.mediaType, 'application/vnd.oci.image.layer.v1.tar');
    assert.equal(layer.descriptor.digest, layer.diffId);
    assert.equal(layer.descriptor.size, layer.uncompressedSize);
    assert.equal((await buildLayer(files, { store, compression: 'none' })).reused, true);

    const image = appendLayers(scratchImage({ os: 'linux', architecture: 'amd64' }), [layer]);
    await writeLayout(path.join(root, 'layout'), image, { tag: 'raw' });
    execFileSync('umoci', [
      'unpack',
      '--rootless',
      '--image',
      `${path.join(root, 'layout')}:raw`,
      path.join(root, 'bundle'),
    ]);
    assert.deepEqual(fs.readFileSync(path.join(root, 'bundle/rootfs/model/model.onnx')), weights);
  });

  it('refuses bad entries when building: climbing paths, duplicates, files under files', async (t) => {
    const store = new BlobStore(tempDir(t));
    await assert.rejects(buildLayer([{ path: '/app/../../etc/passwd', content: 'x' }], { store }), (error) =>
      isImageError(error, 'unsafe-path'),
    );
    await assert.rejects(
      buildLayer(
        [
          { path: '/a.txt', content: '1' },
          { path: 'a.txt', content: '2' },
        ],
        { store },
      ),
      /layer entry 'a\.txt': listed twice/,
    );
    await assert.rejects(
      buildLayer(
        [
          { path: 'a', content: '1' },
          { path: 'a/b', content: '2' },
        ],
        { store },
      ),
      /its parent 'a' is not a directory/,
    );
    await assert.rejects(
      buildLayer([{ path: 'x', source: '/nonexistent/file' }], { store }),
      /does not exist/,
    );
  });

  it('normalises an existing tar (GNU tar, gzip) into a reproducible layer, and refuses unsafe ones', async (t) => {
    const root = tempDir(t);
    writeTree(path.join(root, 'rootfs'), { 'etc/hostname': 'edge\n', 'usr/bin/tool': '#!/bin/sh\n' });
    const tarFile = path.join(root, 'rootfs.tar.gz');
    execFileSync('tar', ['-czf', tarFile, '-C', path.join(root, 'rootfs'), '.']);
    const store = new BlobStore(path.join(root, 'blobs'));
    const first = await layerFromTar(tarFile, { store });
    // Touch everything and re-archive: times and names differ, the layer does not.
    const later = new Date(Date.now() + 60_000);
    for (const file of ['etc/hostname', 'usr/bin/tool'])
      fs.utimesSync(path.join(root, 'rootfs', file), later, later);
    execFileSync('tar', ['-czf', tarFile, '-C', path.join(root, 'rootfs'), '.']);
    const second = await layerFromTar(tarFile, { store });
    assert.equal(second.descriptor.digest, first.descriptor.digest);
    const fromStream = await layerFromTar(fs.createReadStream(tarFile), { store });
    assert.equal(fromStream.diffId, first.diffId);

    const out = path.join(root, 'layer.tar');
    fs.writeFileSync(out, gunzipSync(fs.readFileSync(store.path(first.descriptor.digest))));
    const listing = tarListing(out);
    assert.ok(
      listing.every((line) => line.includes(' 1970-01-01 00:00:00 ')),
      listing.join('\n'),
    );
    assert.ok(listing.some((line) => line.endsWith(' etc/hostname')));

    const victim = path.join(root, 'victim');
    fs.writeFileSync(victim, 'x');
    const hostile = path.join(root, 'hostile.tar');
    execFileSync('tar', ['-P', '-cf', hostile, victim]);
    await assert.rejects(layerFromTar(hostile, { store }), (error) => {
      assert.ok(isImageError(error, 'unsafe-path'), String(error));
      assert.equal((error as Error).message.split('\n').length, 1);
      return true;
    });
    // Nothing half-written is left in the store.
    const names = fs.readdirSync(path.join(store.dir, 'sha256'));
    assert.ok(
      names.every((name) => /^[0-9a-f]{64}$/.test(name)),
      names.join(','),
    );
  });
});
