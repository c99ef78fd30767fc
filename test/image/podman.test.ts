/**
 * The images run: Podman (storage in temp directories, vfs driver, the settings
 * ../shared/PRODUCT.md lists) loads the tarball and pulls the pushed image from the local
 * registry, and `podman run` executes the app layer's script as the non-root user, reading
 * the model layer.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { push, writeTarball } from '../../src/image/index.js';
import { makePodmanRoot } from '../helpers/podman-root.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startRegistry } from './helpers/registry-server.js';
import { sampleBuild } from './helpers/sample-build.js';

type Podman = (...args: string[]) => string;

function podmanIn(t: TestContext): Podman {
  const { dir: root, flags: base, env } = makePodmanRoot();
  const podman: Podman = (...args) => {
    const result = spawnSync('podman', [...base, ...args], { encoding: 'utf8', env });
    if (result.error)
      throw new Error(`podman is not installed: apt-get install podman runc (${result.error.message})`);
    assert.equal(result.status, 0, `podman ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  t.after(() => {
    spawnSync('podman', [...base, 'rm', '--all', '--force'], { env, stdio: 'ignore' });
    spawnSync('podman', [...base, 'rmi', '--all', '--force'], { env, stdio: 'ignore' });
    fs.rmSync(root, { recursive: true, force: true });
  });
  return podman;
}

const EXPECTED = 'app ok as 1000:1000 in /app, model: imdb-sentiment v1';

describe('podman runs the images', () => {
  it('loads the tarball and runs it; pulls the pushed image from the registry and runs it', async (t) => {
    const root = tempDir(t);
    const { image } = await sampleBuild(root);
    const podman = podmanIn(t);

    const tarball = path.join(root, 'imdb.tar');
    await writeTarball(tarball, image, { tag: 'localhost/ledge-test/imdb:1' });
    assert.match(podman('load', '--input', tarball), /Loaded image: localhost\/ledge-test\/imdb:1/);
    const [loaded] = JSON.parse(podman('image', 'inspect', 'localhost/ledge-test/imdb:1')) as {
      Digest: string;
      Config: { User: string; ExposedPorts: Record<string, unknown> };
    }[];
    assert.equal(loaded!.Digest, image.digest);
    assert.equal(loaded!.Config.User, '1000:1000');
    assert.deepEqual(Object.keys(loaded!.Config.ExposedPorts), ['8080/tcp']);
    assert.equal(podman('run', '--rm', '--network=host', 'localhost/ledge-test/imdb:1').trim(), EXPECTED);

    const registry = await startRegistry(t);
    const ref = `${registry.host}/ledge/imdb:1`;
    await push(ref, image);
    podman('pull', '--tls-verify=false', ref);
    const [pulled] = JSON.parse(podman('image', 'inspect', ref)) as { Digest: string }[];
    assert.equal(pulled!.Digest, image.digest);
    assert.equal(podman('run', '--rm', '--network=host', ref).trim(), EXPECTED);
  });
});
