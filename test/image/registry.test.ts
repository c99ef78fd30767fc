/**
 * The registry client against a real CNCF distribution registry on loopback: a base image
 * made here is pushed, pulled back and built upon; the build is pushed with monolithic and
 * with chunked uploads and checked independently with skopeo; re-pushes and model-only
 * updates upload only what the registry lacks; indexes; and the failures (corrupt blobs,
 * missing images, an unreachable registry) each end in one line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  BlobStore,
  buildIndex,
  isImageError,
  pull,
  pullImage,
  push,
  readLayoutImage,
  writeLayout,
} from '../../src/image/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { busyboxBaseImage } from './helpers/busybox-base.js';
import { freePort, registryBlobPath, startRegistry } from './helpers/registry-server.js';
import { sampleBuild } from './helpers/sample-build.js';

function skopeo(...args: string[]): string {
  return execFileSync('skopeo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A fetch that counts requests by method (how the client talked to the registry). */
function countingFetch(): { fetch: typeof fetch; methods: Record<string, number> } {
  const methods: Record<string, number> = {};
  return {
    methods,
    fetch: (input, init) => {
      const method = init?.method ?? 'GET';
      methods[method] = (methods[method] ?? 0) + 1;
      return fetch(input, init);
    },
  };
}

describe('registry client (real registry)', () => {
  it('pushes a base, pulls it, builds on it, pushes monolithic and chunked; skopeo agrees', async (t) => {
    const registry = await startRegistry(t);
    const root = tempDir(t);
    const store = new BlobStore(path.join(root, 'blobs'));
    const base = await busyboxBaseImage(store);
    const baseRef = `${registry.host}/ledge-test/busybox:1`;
    const pushedBase = await push(baseRef, base);
    assert.equal(pushedBase.uploaded.length, 2);

    const cache = new BlobStore(path.join(root, 'pull-cache'));
    const pulledBase = await pullImage(baseRef, { cache, platform: 'linux/amd64' });
    assert.equal(pulledBase.digest, base.digest);
    const { image } = await sampleBuild(root, { base: pulledBase, store });

    const monolithic = countingFetch();
    const ref = `${registry.host}/ledge/imdb:1`;
    const result = await push(ref, image, { upload: 'monolithic', fetch: monolithic.fetch });
    assert.equal(result.digest, image.digest);
    assert.equal(result.uploaded.length, 4, 'three layers and the config (no cross-repository mounts)');
    assert.equal(monolithic.methods.PATCH, undefined);
    assert.equal(monolithic.methods.POST, 4);

    assert.equal(
      skopeo('inspect', '--tls-verify=false', '--raw', `docker://${ref}`),
      image.rawManifest.toString(),
    );
    const inspected = JSON.parse(skopeo('inspect', '--tls-verify=false', `docker://${ref}`));
    assert.equal(inspected.Digest, image.digest);
    assert.equal(inspected.Architecture, 'amd64');
    assert.equal(inspected.Labels['dev.ledge.model.name'], 'imdb-sentiment');
    assert.deepEqual(
      inspected.Layers,
      image.manifest.layers.map((layer) => layer.digest),
    );

    const chunked = countingFetch();
    const chunkedRef = `${registry.host}/ledge/imdb-chunked:1`;
    await push(chunkedRef, image, { upload: 'chunked', chunkSize: 64 * 1024, fetch: chunked.fetch });
    const expectedPatches = image.layers
      .map((layer) => Math.ceil(layer.descriptor.size / (64 * 1024)))
      .reduce((a, b) => a + b, Math.ceil(image.rawConfig.length / (64 * 1024)));
    assert.equal(chunked.methods.PATCH, expectedPatches);
    assert.equal(
      JSON.parse(skopeo('inspect', '--tls-verify=false', `docker://${chunkedRef}`)).Digest,
      image.digest,
    );
    // skopeo copy re-verifies every blob it downloads.
    const copy = path.join(root, 'skopeo-copy');
    skopeo('copy', '--src-tls-verify=false', `docker://${chunkedRef}`, `oci:${copy}:copied`);
    assert.equal((await readLayoutImage(copy, { tag: 'copied' })).digest, image.digest);

    // Our own pull of the chunked push, written as a layout, has the model bytes we built.
    const pulled = await pullImage(chunkedRef);
    const layout = path.join(root, 'pulled-layout');
    await writeLayout(layout, pulled, { tag: '1' });
    const modelDigest = image.manifest.layers[2]!.digest.slice(7);
    assert.deepEqual(
      fs.readFileSync(path.join(layout, 'blobs/sha256', modelDigest)),
      fs.readFileSync(store.path(image.manifest.layers[2]!.digest)),
    );
  });

  it('uploads only what the registry lacks: nothing on a re-push, the model and config on a model update', async (t) => {
    const registry = await startRegistry(t);
    const root = tempDir(t);
    const store = new BlobStore(path.join(root, 'blobs'));
    const v1 = await sampleBuild(root, { store });
    const ref = `${registry.host}/ledge/imdb`;
    await push(`${ref}:1`, v1.image);

    const again = countingFetch();
    const repeat = await push(`${ref}:1`, v1.image, { fetch: again.fetch });
    assert.deepEqual(repeat.uploaded, []);
    assert.equal(repeat.skipped.length, 4);
    assert.equal(repeat.bytesUploaded, 0);
    assert.equal(again.methods.POST, undefined);

    const v2 = await sampleBuild(root, { store, base: v1.base, modelVersion: '2' });
    const update = await push(`${ref}:2`, v2.image);
    assert.deepEqual(update.uploaded, [v2.model.descriptor.digest, v2.image.manifest.config.digest].sort());
    assert.equal(update.bytesUploaded, v2.model.descriptor.size + v2.image.rawConfig.length);
    assert.ok(update.bytesUploaded <= 1.1 * v2.model.descriptor.size);
    assert.equal((await pullImage(`${ref}:2`)).digest, v2.image.digest);
  });

  it('pushes and pulls a multi-platform index', async (t) => {
    const registry = await startRegistry(t);
    const root = tempDir(t);
    const store = new BlobStore(path.join(root, 'blobs'));
    const amd64 = (await sampleBuild(root, { store })).image;
    const arm64 = (await sampleBuild(root, { store, architecture: 'arm64' })).image;
    const index = buildIndex([amd64, arm64]);
    const ref = `${registry.host}/ledge/multi:1`;
    const result = await push(ref, index);
    assert.equal(result.digest, index.digest);
    // The two images share the app and model layers: they go up once.
    assert.equal(
      result.uploaded.length,
      new Set([...amd64.manifest.layers, ...arm64.manifest.layers].map((l) => l.digest)).size + 2,
    );

    assert.equal(
      skopeo('inspect', '--tls-verify=false', '--raw', `docker://${ref}`),
      index.rawManifest.toString(),
    );
    const arm = JSON.parse(
      skopeo('inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${ref}`),
    );
    assert.equal(arm.Architecture, 'arm64');

    assert.equal((await pullImage(ref, { platform: 'linux/arm64' })).digest, arm64.digest);
    assert.equal((await pullImage(ref, { platform: 'linux/amd64' })).digest, amd64.digest);
    const whole = await pull(ref);
    assert.equal(whole.kind, 'index');
    assert.deepEqual(whole.kind === 'index' ? whole.images.map((image) => image.digest) : [], [
      amd64.digest,
      arm64.digest,
    ]);
    await assert.rejects(pullImage(ref, { platform: 'linux/s390x' }), (error) => {
      assert.ok(isImageError(error, 'platform-not-found'));
      assert.equal(error.line, `${ref} has no linux/s390x image; it has linux/amd64, linux/arm64`);
      return true;
    });
  });

  it('refuses a blob whose bytes do not match its digest, and keeps nothing of it', async (t) => {
    const registry = await startRegistry(t);
    const root = tempDir(t);
    const { image } = await sampleBuild(root);
    const ref = `${registry.host}/ledge/imdb:1`;
    await push(ref, image);
    // Corrupt the model layer inside the registry's storage (same size, one byte flipped).
    const model = image.manifest.layers[2]!;
    const stored = registryBlobPath(registry, model.digest.slice(7));
    const bytes = fs.readFileSync(stored);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    fs.writeFileSync(stored, bytes);

    const cache = new BlobStore(path.join(root, 'cache'));
    const pulled = await pullImage(ref, { cache });
    const out = path.join(root, 'out');
    fs.mkdirSync(out);
    await assert.rejects(writeLayout(path.join(out, 'layout'), pulled), (error) => {
      assert.ok(isImageError(error, 'digest-mismatch'), String(error));
      assert.equal(error.code, 'corrupt-object');
      assert.match(
        error.line,
        new RegExp(
          `^blob ${registry.host}/ledge/imdb@${model.digest}: content hashes to sha256:[0-9a-f]{64}, expected ${model.digest}; refusing it`,
        ),
      );
      return true;
    });
    assert.deepEqual(fs.readdirSync(out), [], 'no layout and no temporary directory');
    assert.equal(cache.has(model.digest), false, 'the corrupt blob was not cached');

    // A corrupt config is refused by the pull itself.
    const configFile = registryBlobPath(registry, image.manifest.config.digest.slice(7));
    const config = fs.readFileSync(configFile);
    config[config.length - 3] = config[config.length - 3] === 0x31 ? 0x32 : 0x31;
    fs.writeFileSync(configFile, config);
    await assert.rejects(pullImage(ref), (error) => isImageError(error, 'digest-mismatch'));
  });

  it('says in one line when an image or tag is missing or the registry is unreachable', async (t) => {
    const registry = await startRegistry(t);
    const store = new BlobStore(tempDir(t));
    await push(`${registry.host}/ledge/base:1`, await busyboxBaseImage(store));

    for (const missing of [`${registry.host}/ledge/nothing:1`, `${registry.host}/ledge/base:2`]) {
      await assert.rejects(pullImage(missing), (error) => {
        assert.ok(isImageError(error, 'not-found'), String(error));
        assert.equal(error.code, 'remote-not-found');
        assert.equal(
          error.line,
          `${missing} does not exist; check the repository and tag (the registry has no such image)`,
        );
        return true;
      });
    }

    const closed = await freePort();
    await assert.rejects(pullImage(`127.0.0.1:${closed}/ledge/base:1`), (error) => {
      assert.ok(isImageError(error, 'unreachable'), String(error));
      assert.equal(error.code, 'remote-unreachable');
      assert.equal(error.retryable, true);
      assert.match(
        error.line,
        new RegExp(`^cannot reach registry 127\\.0\\.0\\.1:${closed}: connection refused; check the address`),
      );
      return true;
    });
    await assert.rejects(push(`127.0.0.1:${closed}/ledge/base:1`, await busyboxBaseImage(store)), (error) =>
      isImageError(error, 'unreachable'),
    );
    // Speaking HTTPS to a plain-HTTP registry fails the same way, with the hint to say so.
    await assert.rejects(pullImage(`${registry.host}/ledge/base:1`, { plainHttp: false }), (error) => {
      assert.ok(isImageError(error, 'unreachable'), String(error));
      assert.match(error.line, /plainHttp: true for an HTTP registry/);
      assert.ok(!error.line.includes('\n'));
      return true;
    });
    await assert.rejects(pullImage('Not A Reference'), (error) => isImageError(error, 'bad-reference'));
  });
});
