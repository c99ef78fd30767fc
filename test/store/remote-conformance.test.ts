import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { forEachLimit } from '../../src/core/concurrency.js';
import { type Digest, digestFromHex, sha256 } from '../../src/core/digest.js';
import { isLedgeError, type LedgeError } from '../../src/core/errors.js';
import { LocalRemote } from '../../src/store/remote/local/local-remote.js';
import { openRemote, parseRemoteUrl } from '../../src/store/remote/open-remote.js';
import type { ObjectSource, Remote, RemoteConfig } from '../../src/store/remote/remote.js';
import { S3Remote } from '../../src/store/remote/s3/s3-remote.js';
import { type S3Server, startS3Server } from '../helpers/s3-server.js';
import { tempDir } from '../helpers/temp-dir.js';

const MiB = 1024 * 1024;

interface Backend {
  name: string;
  open(t: TestContext): Promise<Remote>;
}

const backends: Backend[] = [
  { name: 'local directory', open: (t) => opened(t, { url: path.join(tempDir(t), 'remote') }) },
  {
    name: 'file:// URL',
    open: (t) => opened(t, { url: pathToFileURL(path.join(tempDir(t), 'remote')).href }),
  },
  { name: 'S3 (s3rver)', open: async (t) => opened(t, s3Config(await startS3Server(t))) },
];

async function opened(t: TestContext, config: RemoteConfig): Promise<Remote> {
  const remote = await openRemote('origin', config);
  t.after(() => remote.close());
  return remote;
}

function s3Config(server: S3Server, overrides: Partial<RemoteConfig> = {}): RemoteConfig {
  return {
    url: `s3://${server.bucket}/team/data`,
    endpoint: server.endpoint,
    region: 'us-east-1',
    access_key_id: server.accessKeyId,
    secret_access_key: server.secretAccessKey,
    force_path_style: true,
    ...overrides,
  };
}

/** Writes `content` to a temp file and describes it as a cache object with `digest`. */
function cacheObject(t: TestContext, content: Buffer, digest: Digest = sha256(content)): ObjectSource {
  const file = path.join(tempDir(t, 'ledge-cache-'), 'object');
  fs.writeFileSync(file, content);
  return {
    digest,
    size: content.length,
    path: file,
    read: () => fs.readFileSync(file),
    open: () => fs.createReadStream(file),
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function collect(remote: Remote): Promise<Digest[]> {
  const digests: Digest[] = [];
  for await (const digest of remote.list!()) digests.push(digest);
  return digests.sort();
}

function code(expected: string) {
  return (error: unknown) => {
    assert.ok(isLedgeError(error), `expected a LedgeError, got ${String(error)}`);
    assert.equal(error.code, expected, error.line);
    return true;
  };
}

for (const backend of backends) {
  describe(`remote conformance: ${backend.name}`, () => {
    it('round-trips an object through put, has and get', async (t) => {
      const remote = await backend.open(t);
      const content = randomBytes(100_000);
      const source = cacheObject(t, content);
      assert.equal(await remote.has(source.digest), false);
      await remote.put(source);
      assert.equal(await remote.has(source.digest), true);
      assert.deepEqual(await readAll(await remote.get(source.digest)), content);
    });

    it('round-trips an empty object', async (t) => {
      const remote = await backend.open(t);
      const source = cacheObject(t, Buffer.alloc(0));
      await remote.put(source);
      assert.equal((await readAll(await remote.get(source.digest))).length, 0);
    });

    it('lists exactly the objects put', async (t) => {
      const remote = await backend.open(t);
      assert.deepEqual(await collect(remote), []);
      const sources = Array.from({ length: 50 }, (_, i) => cacheObject(t, Buffer.from(`object ${i}`)));
      await Promise.all(sources.map((source) => remote.put(source)));
      assert.deepEqual(await collect(remote), sources.map((source) => source.digest).sort());
    });

    it('refuses an object whose bytes do not match its digest, leaving nothing visible', async (t) => {
      const remote = await backend.open(t);
      const source = cacheObject(t, Buffer.from('rotten bytes'), sha256('the real content'));
      await assert.rejects(remote.put(source), code('corrupt-object'));
      assert.equal(await remote.has(source.digest), false);
      assert.deepEqual(await collect(remote), []);
    });

    it('reports a missing object', async (t) => {
      const remote = await backend.open(t);
      await remote.put(cacheObject(t, Buffer.from('something else')));
      const missing = sha256('never stored');
      assert.equal(await remote.has(missing), false);
      await assert.rejects(remote.get(missing), code('missing-object'));
    });

    it('accepts putting the same object twice', async (t) => {
      const remote = await backend.open(t);
      const content = Buffer.from('same bytes');
      await remote.put(cacheObject(t, content));
      await remote.put(cacheObject(t, content));
      assert.deepEqual(await collect(remote), [sha256(content)]);
      assert.deepEqual(await readAll(await remote.get(sha256(content))), content);
    });

    it('round-trips a 70 MiB object (S3: multipart upload)', async (t) => {
      const remote = await backend.open(t);
      const content = randomBytes(70 * MiB);
      const source = cacheObject(t, content);
      await remote.put(source);
      const hash = createHash('sha256');
      for await (const chunk of await remote.get(source.digest)) hash.update(chunk as Buffer);
      assert.equal(digestFromHex(hash.digest('hex')), source.digest);
    });
  });
}

describe('local remote specifics', () => {
  it('treats a missing root as empty and creates it on put', async (t) => {
    const root = path.join(tempDir(t), 'not', 'yet');
    const remote = await opened(t, { url: root });
    assert.deepEqual(await collect(remote), []);
    assert.equal(await remote.has(sha256('x')), false);
    await assert.rejects(remote.get(sha256('x')), code('missing-object'));
    assert.equal(fs.existsSync(root), false);
    await remote.put(cacheObject(t, Buffer.from('x')));
    assert.deepEqual(await collect(remote), [sha256('x')]);
  });

  it('stores read-only objects and leaves no temp file after a refused put', async (t) => {
    const root = tempDir(t);
    const remote = await opened(t, { url: root });
    const source = cacheObject(t, Buffer.from('kept'));
    await remote.put(source);
    const hex = source.digest.slice('sha256:'.length);
    assert.equal(fs.statSync(path.join(root, 'sha256', hex.slice(0, 2), hex.slice(2))).mode & 0o777, 0o444);
    await assert.rejects(
      remote.put(cacheObject(t, Buffer.from('bad'), sha256('good'))),
      code('corrupt-object'),
    );
    assert.deepEqual(fs.readdirSync(path.join(root, 'tmp')), []);
  });

  it('ignores foreign files in the layout', async (t) => {
    const root = tempDir(t);
    const remote = await opened(t, { url: root });
    await remote.put(cacheObject(t, Buffer.from('real')));
    fs.writeFileSync(path.join(root, 'sha256', 'README'), 'not an object');
    fs.mkdirSync(path.join(root, 'sha256', 'zz'));
    fs.writeFileSync(path.join(root, 'sha256', sha256('real').slice(7, 9), '.tmp-123'), '');
    assert.deepEqual(await collect(remote), [sha256('real')]);
  });

  it('rejects a root that is a file', async (t) => {
    const file = path.join(tempDir(t), 'file');
    fs.writeFileSync(file, '');
    const remote = await opened(t, { url: file });
    await assert.rejects(collect(remote), code('remote-unreachable'));
    await assert.rejects(remote.has(sha256('x')), code('remote-unreachable'));
    await assert.rejects(remote.get(sha256('x')), code('remote-unreachable'));
    await assert.rejects(remote.put(cacheObject(t, Buffer.from('x'))), code('remote-unreachable'));
  });
});

describe('S3 remote failures', () => {
  it('reports an unreachable endpoint quickly', async (t) => {
    const server = await startS3Server(t);
    const remote = await opened(t, s3Config(server, { endpoint: `http://127.0.0.1:${await closedPort()}` }));
    const started = Date.now();
    await assert.rejects(collect(remote), code('remote-unreachable'));
    await assert.rejects(
      remote.has(sha256('x')),
      (error) => code('remote-unreachable')(error) && (error as LedgeError).retryable,
    );
    await assert.rejects(remote.put(cacheObject(t, Buffer.from('x'))), code('remote-unreachable'));
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });

  it('reports wrong credentials without echoing them', async (t) => {
    const server = await startS3Server(t);
    const secret = 'very-secret-value';
    const remote = await opened(
      t,
      s3Config(server, { access_key_id: 'WRONGKEY', secret_access_key: secret }),
    );
    const authError = (error: unknown) =>
      code('remote-auth')(error) && !(error as Error).message.includes(secret);
    await assert.rejects(collect(remote), authError);
    await assert.rejects(remote.has(sha256('x')), authError);
    await assert.rejects(remote.get(sha256('x')), authError);
    await assert.rejects(remote.put(cacheObject(t, Buffer.from('x'))), authError);
  });

  it('reports a missing bucket', async (t) => {
    const server = await startS3Server(t);
    const remote = await opened(t, s3Config(server, { url: 's3://no-such-bucket/data' }));
    await assert.rejects(collect(remote), code('remote-not-found'));
    await assert.rejects(remote.has(sha256('x')), code('remote-not-found'));
    await assert.rejects(remote.get(sha256('x')), code('remote-not-found'));
    await assert.rejects(remote.put(cacheObject(t, Buffer.from('x'))), code('remote-not-found'));
  });

  it('lists page after page (continuation tokens)', async (t) => {
    const server = await startS3Server(t);
    const config = s3Config(server);
    const location = { bucket: server.bucket, prefix: 'team/data' };
    const remote = new S3Remote('origin', config.url, location, config, { listPageSize: 7 });
    t.after(() => remote.close());
    const sources = Array.from({ length: 300 }, (_, i) => cacheObject(t, Buffer.from(`many ${i}`)));
    await forEachLimit(sources, 16, (source) => remote.put(source));
    assert.deepEqual(await collect(remote), sources.map((source) => source.digest).sort());
  });

  it('aborts a multipart upload whose bytes do not match the digest', async (t) => {
    const server = await startS3Server(t);
    const config = s3Config(server);
    const location = { bucket: server.bucket, prefix: 'team/data' };
    const remote = new S3Remote('origin', config.url, location, config, {
      multipartThreshold: MiB,
      partSize: 5 * MiB,
    });
    t.after(() => remote.close());
    const good = cacheObject(t, randomBytes(12 * MiB));
    await remote.put(good);
    assert.equal(await remote.has(good.digest), true);
    const bad = cacheObject(t, randomBytes(12 * MiB), sha256('expected'));
    await assert.rejects(remote.put(bad), code('corrupt-object'));
    assert.equal(await remote.has(bad.digest), false);
    assert.deepEqual(await collect(remote), [good.digest]);
  });
});

describe('openRemote', () => {
  it('resolves relative directories against the base directory', async (t) => {
    const base = tempDir(t);
    const remote = await openRemote('origin', { url: 'store' }, base);
    assert.ok(remote instanceof LocalRemote);
    assert.equal(remote.root, path.join(base, 'store'));
    assert.deepEqual(parseRemoteUrl('../store', { baseDir: base }), {
      kind: 'local',
      root: path.resolve(base, '../store'),
    });
    assert.deepEqual(parseRemoteUrl('s3://bucket/a/b/'), { kind: 's3', bucket: 'bucket', prefix: 'a/b' });
    assert.deepEqual(parseRemoteUrl('s3://bucket'), { kind: 's3', bucket: 'bucket', prefix: '' });
  });

  it('rejects unsupported and malformed URLs with a config error', async () => {
    for (const url of ['gs://bucket/x', 'https://example.com/x', 's3://', 's3://key:secret@bucket/x']) {
      await assert.rejects(
        openRemote('origin', { url }),
        (error) => code('config')(error) && /origin/.test((error as Error).message),
      );
    }
    await assert.rejects(openRemote('origin', { url: 's3://key:secret@bucket/x' }), (error) => {
      return !(error as Error).message.includes('secret');
    });
  });
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
