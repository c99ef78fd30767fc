/**
 * Registry authentication against the real registry: htpasswd (basic) and the bearer token
 * flow (the registry in `auth: token` mode trusting a token service written here, whose
 * signing certificate comes from the openssl CLI).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlobStore, isImageError, pullImage, push } from '../../src/image/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { busyboxBaseImage } from './helpers/busybox-base.js';
import { startRegistry } from './helpers/registry-server.js';
import { startTokenServer } from './helpers/token-server.js';

describe('registry auth', () => {
  it('basic (htpasswd): anonymous and wrong passwords are refused in one line; the right one pushes and pulls', async (t) => {
    const registry = await startRegistry(t, { htpasswd: { username: 'ledge', password: 's3cret' } });
    const store = new BlobStore(tempDir(t));
    const image = await busyboxBaseImage(store);
    const ref = `${registry.host}/private/base:1`;

    await assert.rejects(push(ref, image), (error) => {
      assert.ok(isImageError(error, 'unauthorized'), String(error));
      assert.equal(error.code, 'remote-auth');
      assert.match(
        error.line,
        new RegExp(`registry ${registry.host} refused to let an anonymous client push to private/base`),
      );
      assert.match(error.line, /give credentials/);
      assert.ok(!error.line.includes('\n'));
      return true;
    });
    await assert.rejects(
      push(ref, image, { credentials: { username: 'ledge', password: 'wrong' } }),
      (error) => {
        assert.ok(isImageError(error, 'unauthorized'));
        assert.match(error.line, /'ledge'.*check the username and password/);
        return true;
      },
    );

    const credentials = { username: 'ledge', password: 's3cret' };
    const result = await push(ref, image, { credentials });
    assert.equal(result.digest, image.digest);
    const pulled = await pullImage(ref, { credentials });
    assert.equal(pulled.digest, image.digest);
    await assert.rejects(pullImage(ref), (error) => isImageError(error, 'unauthorized'));
  });

  it('bearer token flow: token per scope from the realm, cached, refused without credentials', async (t) => {
    const dir = tempDir(t);
    const tokens = await startTokenServer(t, dir, { ledge: 'token-pass' });
    const registry = await startRegistry(t, {
      token: {
        realm: tokens.realm,
        service: tokens.service,
        issuer: tokens.issuer,
        rootCertBundle: tokens.certFile,
      },
    });
    const store = new BlobStore(tempDir(t));
    const image = await busyboxBaseImage(store);
    const ref = `${registry.host}/team/base:1`;

    await assert.rejects(push(ref, image), (error) => {
      assert.ok(isImageError(error, 'unauthorized'), String(error));
      assert.match(
        error.line,
        /token service http:\/\/127\.0\.0\.1:\d+ of 127\.0\.0\.1:\d+ refused anonymous access/,
      );
      assert.match(error.line, /needs credentials/);
      return true;
    });
    await assert.rejects(
      push(ref, image, { credentials: { username: 'ledge', password: 'nope' } }),
      (error) => isImageError(error, 'unauthorized'),
    );

    tokens.requests.length = 0;
    const credentials = { username: 'ledge', password: 'token-pass' };
    const result = await push(ref, image, { credentials });
    assert.equal(result.uploaded.length, 2);
    // One token for the push scope, reused for every HEAD, POST, PUT and the manifest.
    assert.deepEqual(
      tokens.requests.map((request) => [request.scopes, request.service, request.user, request.granted]),
      [[['repository:team/base:pull,push'], tokens.service, 'ledge', true]],
    );

    const pulled = await pullImage(ref, { credentials });
    assert.equal(pulled.digest, image.digest);
    const layer = await pulled.layers[0]!.open();
    let bytes = 0;
    for await (const chunk of layer) bytes += (chunk as Buffer).length;
    assert.equal(bytes, image.layers[0]!.descriptor.size);
    assert.deepEqual(tokens.requests.at(-1)!.scopes, ['repository:team/base:pull']);
    assert.equal(tokens.requests.length, 2, 'the pull asked for its own scope once');
  });
});
