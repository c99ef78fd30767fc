/**
 * `ledge build` as users run it, against real things: a workspace with a registered model, a
 * Node.js base image made from Debian packages and the npm registry (test/helpers/
 * node-base-image.ts) served by one loopback registry (anonymous), a second registry with
 * htpasswd auth to push to, Podman to run what was built, and skopeo to check what was
 * pushed. The container answers `POST /v1/models/<name>:predict` from the host; the emitted
 * Dockerfile builds with `podman build` and serves too; every build is recorded (`ledge build
 * list|show`); bad input fails in one line with the right exit code.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildIndex, imageFromConfig, push, writeTarball } from '../../src/image/index.js';
import { runLedge } from '../helpers/cli.js';
import { type NodeBase, nodeBaseImage } from '../helpers/node-base-image.js';
import { freePort, type RegistryServer, startRegistry } from '../image/helpers/registry-server.js';
import { type TrainedModel, trainTestModel } from '../runtime/server/server-fixture.js';
import { type Podman, podmanIn } from './helpers/podman.js';

const USER = { username: 'builder', password: 'build-secret' };

interface BuildJson {
  build: number;
  digest: string;
  tag: string;
  model: { name: string; version: string; digest: string };
  base: { text: string; name: string; digest: string };
  platforms: {
    platform: string;
    digest: string;
    size: number;
    uncompressedSize: number;
    layers: { role: string; digest: string; size: number }[];
  }[];
  labels: Record<string, string>;
  outputs: { kind: string; location: string; digest: string; uploaded?: number }[];
  timings: { totalMs: number };
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@t',
    },
  }).trim();
}

/** Waits until the server in the container answers ready on the host. */
async function waitReady(port: number, podman: Podman, container: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/v2/health/ready`);
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`the container did not get ready: ${(await podman.status('logs', container)).stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Runs an image with the host's network on a free port; checks it serves; stops it gracefully. */
async function serveAndPredict(podman: Podman, image: string, texts: string[]): Promise<void> {
  const port = await freePort();
  const name = `ledge-build-${port}`;
  await podman('run', '-d', '--name', name, '--network=host', '-e', `LEDGE_PORT=${port}`, image);
  await waitReady(port, podman, name);
  const response = await fetch(`http://127.0.0.1:${port}/v1/models/imdb-sentiment:predict`, {
    method: 'POST',
    body: JSON.stringify({ instances: texts.slice(0, 3) }),
  });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { predictions: { label: string; score: number }[] };
  assert.equal(body.predictions.length, 3);
  for (const p of body.predictions) {
    assert.ok(['neg', 'pos'].includes(p.label));
    assert.ok(p.score >= 0 && p.score <= 1);
  }
  // The image's health check, as the engine runs it (no curl in the image).
  assert.equal(
    (await podman.status('exec', name, 'node', '/app/dist/src/runtime/server/serve-main.js', '--health'))
      .code,
    0,
  );
  assert.equal((await podman('exec', name, 'node', '-e', 'console.log(process.getuid())')).trim(), '1000');
  await podman('stop', '--time', '10', name);
  assert.equal(
    (await podman('inspect', name, '--format', '{{.State.ExitCode}}')).trim(),
    '0',
    'SIGTERM: a clean exit',
  );
  const logs = await podman.status('logs', name);
  assert.match(logs.stderr + logs.stdout, /"msg":"shutting down: finishing requests in flight"/);
  await podman('rm', name);
}

describe('ledge build', () => {
  let trained: TrainedModel;
  let ws: string;
  let base: NodeBase;
  let baseRegistry: RegistryServer;
  let target: RegistryServer;
  let baseRef: string;
  let commit: string;
  // startRegistry stops its server when the context ends: give it the suite's lifetime.
  const cleanups: (() => unknown)[] = [];
  const suite = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as Parameters<
    typeof startRegistry
  >[0];

  before(async () => {
    trained = await trainTestModel();
    ws = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-build-cli-'));
    git(ws, 'init', '-q');
    fs.writeFileSync(path.join(ws, 'README'), 'build test\n');
    git(ws, 'add', 'README');
    git(ws, 'commit', '-q', '-m', 'first');
    commit = git(ws, 'rev-parse', 'HEAD');
    fs.cpSync(trained.model, path.join(ws, 'models', 'imdb-sentiment'), { recursive: true });
    for (const args of [
      ['init'],
      ['model', 'register', 'models/imdb-sentiment', '--name', 'imdb-sentiment'],
    ]) {
      const result = await runLedge(args, { cwd: ws });
      assert.equal(result.code, 0, result.stderr);
    }
    base = await nodeBaseImage();
    baseRegistry = await startRegistry(suite);
    target = await startRegistry(suite, { htpasswd: USER });
    baseRef = `${baseRegistry.host}/ledge-test/node:${base.tag}`;
    await push(baseRef, base.image);
  });

  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
    trained?.cleanup();
    if (ws) fs.rmSync(ws, { recursive: true, force: true });
  });

  it('builds a registered model on a pulled Node.js base, pushes it, and the container serves it', async (t) => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-build-out-'));
    t.after(() => fs.rmSync(out, { recursive: true, force: true }));
    const args = [
      'build',
      'imdb-sentiment@1',
      '--base',
      baseRef,
      '--push',
      `${target.host}/ledge/imdb`,
      '--output',
      `tar:${path.join(out, 'imdb.tar')}`,
      '--output',
      `oci:${path.join(out, 'layout')}`,
      '--dockerfile',
      path.join(out, 'context'),
      '--json',
    ];
    const env = { LEDGE_REGISTRY_USERNAME: USER.username, LEDGE_REGISTRY_PASSWORD: USER.password };
    const first = await runLedge(args, { cwd: ws, env, timeoutMs: 300_000 });
    assert.equal(first.code, 0, first.stderr);
    const build = JSON.parse(first.stdout) as BuildJson;
    assert.equal(build.tag, 'ledge/imdb-sentiment:1');
    assert.deepEqual(build.model.version, '1');
    assert.equal(build.labels['org.opencontainers.image.revision'], commit);
    assert.equal(build.labels['ai.ledge.model.name'], 'imdb-sentiment');
    assert.deepEqual(
      build.outputs.map((o) => o.kind),
      ['tar', 'oci', 'push', 'dockerfile'],
    );
    assert.equal(build.base.digest, base.image.digest);
    assert.deepEqual(
      build.platforms[0]!.layers.map((l) => l.role),
      ['base', 'base', 'dependencies', 'server', 'model'],
    );
    t.diagnostic(
      `image ${(build.platforms[0]!.size / 1048576).toFixed(1)} MiB compressed, ${(build.platforms[0]!.uncompressedSize / 1048576).toFixed(1)} MiB unpacked; cold build ${Math.round(build.timings.totalMs)} ms`,
    );

    // The registry has it under the build's tag, as skopeo reads it.
    const inspected = JSON.parse(
      execFileSync(
        'skopeo',
        [
          'inspect',
          '--tls-verify=false',
          '--creds',
          `${USER.username}:${USER.password}`,
          `docker://${target.host}/ledge/imdb:1`,
        ],
        { encoding: 'utf8' },
      ),
    ) as { Digest: string; Labels: Record<string, string>; Architecture: string };
    assert.equal(inspected.Digest, build.digest);
    assert.equal(inspected.Labels['ai.ledge.model.digest'], build.model.digest);

    // The same inputs again: the same digest, nothing new uploaded, faster (warm cache).
    const again = await runLedge(args, { cwd: ws, env, timeoutMs: 300_000 });
    assert.equal(again.code, 0, again.stderr);
    const rebuilt = JSON.parse(again.stdout) as BuildJson;
    assert.equal(rebuilt.digest, build.digest);
    assert.equal(rebuilt.outputs.find((o) => o.kind === 'push')?.uploaded, 0);
    t.diagnostic(`warm build ${Math.round(rebuilt.timings.totalMs)} ms`);

    // Recorded: list and show, by id and by digest.
    const list = await runLedge(['build', 'list', '--json'], { cwd: ws });
    assert.equal(list.code, 0, list.stderr);
    const builds = JSON.parse(list.stdout) as { id: number; digest: string; modelVersionId: number | null }[];
    assert.deepEqual(
      builds.slice(0, 2).map((b) => b.id),
      [rebuilt.build, build.build],
    );
    assert.ok(builds[0]!.modelVersionId !== null, 'linked to the registry version');
    const show = await runLedge(['build', 'show', build.digest], { cwd: ws });
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`^build +${rebuilt.build}$`, 'm'));
    assert.match(show.stdout, /^ {2}model +sha256:/m);

    // The container, loaded from the tarball, serves the model over HTTP from the host.
    const podman = podmanIn(t);
    assert.match(
      await podman('load', '--input', path.join(out, 'imdb.tar')),
      /Loaded image.*ledge\/imdb-sentiment:1/,
    );
    const [loaded] = JSON.parse(await podman('image', 'inspect', 'docker.io/ledge/imdb-sentiment:1')) as {
      Digest: string;
    }[];
    assert.equal(loaded!.Digest, build.digest);
    await serveAndPredict(podman, 'docker.io/ledge/imdb-sentiment:1', trained.texts);

    // The Dockerfile: podman builds it from the context (the base loaded from a tarball, no
    // pulling) into an image that serves the same way.
    const dockerfile = fs.readFileSync(path.join(out, 'context', 'Dockerfile'), 'utf8');
    assert.ok(
      dockerfile.includes(`FROM ${baseRegistry.host}/ledge-test/node@${base.image.digest}\n`),
      dockerfile,
    );
    const baseTar = path.join(out, 'base.tar');
    await writeTarball(baseTar, base.image, { tag: baseRef });
    await podman('load', '--input', baseTar);
    await podman('build', '--pull=never', '--tag', 'localhost/ledge/dockerfile:1', path.join(out, 'context'));
    const [built] = JSON.parse(await podman('image', 'inspect', 'localhost/ledge/dockerfile:1')) as {
      Config: { User: string; Labels: Record<string, string> };
      RootFS: { Layers: string[] };
    }[];
    assert.equal(built!.Config.User, '1000:1000');
    assert.equal(built!.Config.Labels['ai.ledge.model.digest'], build.model.digest);
    assert.equal(built!.RootFS.Layers.length, 5, 'the base two, then dependencies, server, model');
    await serveAndPredict(podman, 'localhost/ledge/dockerfile:1', trained.texts);
  });

  it("builds offline on the host base (this machine's Node.js), and the container serves the model", async (t) => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-build-host-'));
    t.after(() => fs.rmSync(out, { recursive: true, force: true }));
    const tarball = path.join(out, 'imdb.tar');
    const result = await runLedge(
      ['build', 'imdb-sentiment@1', '--base', 'host', '--output', `tar:${tarball}`, '--json'],
      { cwd: ws, timeoutMs: 300_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    const build = JSON.parse(result.stdout) as BuildJson;
    assert.deepEqual(
      build.platforms[0]!.layers.map((l) => l.role),
      ['base', 'dependencies', 'server', 'model'],
    );
    const podman = podmanIn(t);
    await podman('load', '--input', tarball);
    await serveAndPredict(podman, 'docker.io/ledge/imdb-sentiment:1', trained.texts);
    // Another platform cannot come from this machine's Node.js: one line says so.
    const arm = await runLedge(
      [
        'build',
        'imdb-sentiment@1',
        '--base',
        'host',
        '--platform',
        'linux/arm64',
        '--output',
        `oci:${out}/arm`,
      ],
      { cwd: ws },
    );
    assert.notEqual(arm.code, 0);
    assert.match(
      arm.stderr,
      /^ledge: error: base image host: is this machine's Node\.js, linux\/amd64; it cannot be a linux\/arm64 base/m,
    );
    assert.equal(arm.stderr.trimEnd().split('\n').length, 1, arm.stderr);
  });

  it('builds an index for linux/amd64 and linux/arm64 from a multi-platform base and pushes it', async (t) => {
    // The base as an index of two platforms (the arm64 entry is the amd64 image relabelled:
    // this machine cannot run arm64, and only the structure is checked here).
    const arm64 = imageFromConfig({ ...base.image.config, architecture: 'arm64' }, base.image.layers);
    const multi = buildIndex([base.image, arm64]);
    const multiRef = `${baseRegistry.host}/ledge-test/node:multi`;
    await push(multiRef, multi);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-build-multi-'));
    t.after(() => fs.rmSync(out, { recursive: true, force: true }));
    const result = await runLedge(
      [
        'build',
        'imdb-sentiment@1',
        '--base',
        multiRef,
        '--platform',
        'linux/amd64,linux/arm64',
        '--push',
        `${target.host}/ledge/imdb-multi`,
        '--username',
        USER.username,
        '--password-stdin',
        '--dockerfile',
        path.join(out, 'context'),
        '--json',
      ],
      { cwd: ws, input: `${USER.password}\n`, timeoutMs: 300_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    const build = JSON.parse(result.stdout) as BuildJson & { mediaType: string };
    assert.equal(build.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(build.base.digest, multi.digest, 'the base is pinned by its index');
    assert.deepEqual(
      build.platforms.map((p) => p.platform),
      ['linux/amd64', 'linux/arm64'],
    );
    const layer = (i: number, role: string) => build.platforms[i]!.layers.find((l) => l.role === role)!;
    assert.notEqual(layer(0, 'dependencies').digest, layer(1, 'dependencies').digest);
    assert.ok(
      layer(1, 'dependencies').size < layer(0, 'dependencies').size,
      'arm64 has its own, smaller ORT',
    );
    assert.equal(layer(0, 'model').digest, layer(1, 'model').digest);

    const creds = ['--tls-verify=false', '--creds', `${USER.username}:${USER.password}`];
    const raw = JSON.parse(
      execFileSync('skopeo', ['inspect', ...creds, '--raw', `docker://${target.host}/ledge/imdb-multi:1`], {
        encoding: 'utf8',
      }),
    ) as { manifests: { digest: string; platform: { architecture: string } }[] };
    assert.deepEqual(
      raw.manifests.map((m) => [m.platform.architecture, m.digest]),
      build.platforms.map((p) => [p.platform.split('/')[1], p.digest]),
    );
    const armImage = JSON.parse(
      execFileSync(
        'skopeo',
        ['inspect', ...creds, '--override-arch', 'arm64', `docker://${target.host}/ledge/imdb-multi:1`],
        { encoding: 'utf8' },
      ),
    ) as { Architecture: string; Labels: Record<string, string> };
    assert.equal(armImage.Architecture, 'arm64');
    assert.equal(armImage.Labels['ai.ledge.model.version'], '1');
    const dockerfile = fs.readFileSync(path.join(out, 'context', 'Dockerfile'), 'utf8');
    assert.ok(dockerfile.includes(`FROM ${baseRegistry.host}/ledge-test/node@${multi.digest}\n`), dockerfile);
    const ort = path.join(
      out,
      'context',
      'dependencies',
      'node_modules',
      'onnxruntime-node',
      'bin',
      'napi-v6',
    );
    assert.deepEqual(fs.readdirSync(ort), ['linux']);
    assert.deepEqual(fs.readdirSync(path.join(ort, 'linux')).sort(), ['arm64', 'x64']);
  });

  it('fails in one line, with the right exit code, on bad input', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-build-bad-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, 'a-file'), 'x');
    const closed = await freePort();
    const cases: { args: string[]; code: number; line: RegExp; env?: Record<string, string> }[] = [
      { args: ['nosuch@1'], code: 2, line: /nosuch/ },
      {
        args: ['imdb-sentiment', '--platform', 'linux/s390x'],
        code: 2,
        line: /^cannot build for platform 'linux\/s390x'; ledge builds linux\/amd64 and linux\/arm64/,
      },
      {
        args: ['imdb-sentiment', '--base', `${baseRegistry.host}/ledge-test/nope:1`],
        code: 1,
        line: /^base image .*ledge-test\/nope:1 does not exist; .*or choose another base image with --base$/,
      },
      {
        args: ['imdb-sentiment', '--base', 'Not/A Reference'],
        code: 2,
        line: /^base image .*is not an image reference/,
      },
      {
        args: ['imdb-sentiment', '--base', `oci:${path.join(dir, 'no-layout')}`],
        code: 1,
        line: /^base image oci:.*no-layout: OCI layout .* does not exist/,
      },
      {
        args: ['imdb-sentiment', '--base', `127.0.0.1:${closed}/ledge/node:20`],
        code: 1,
        line: /^base image 127\.0\.0\.1:\d+\/ledge\/node:20: cannot reach registry 127\.0\.0\.1:\d+: connection refused/,
      },
      {
        args: ['imdb-sentiment', '--base', baseRef, '--platform', 'linux/arm64'],
        code: 1,
        line: /^base image .* has no linux\/arm64 image/,
      },
      {
        args: ['imdb-sentiment', '--base', baseRef, '--push', `${target.host}/ledge/imdb`],
        code: 1,
        line: new RegExp(
          `^registry ${target.host.replace(/\./g, '\\.')} refused to let an anonymous client push to ledge/imdb`,
        ),
      },
      {
        args: ['imdb-sentiment', '--base', baseRef, '--push', `${target.host}/ledge/imdb`],
        env: { LEDGE_REGISTRY_USERNAME: USER.username, LEDGE_REGISTRY_PASSWORD: 'wrong' },
        code: 1,
        line: /refused to let 'builder' .*check the username and password/,
      },
      {
        args: ['imdb-sentiment', '--output', `oci:${path.join(dir, 'a-file', 'layout')}`],
        code: 1,
        line: /^cannot write the output oci:.*a-file is not a directory; choose a path in a writable directory$/,
      },
      {
        args: ['imdb-sentiment', '--dockerfile', dir],
        code: 2,
        line: /^--dockerfile .* exists and was not written by ledge build; choose a new or empty directory/,
      },
      {
        args: ['imdb-sentiment', '--output', 'zip:x'],
        code: 2,
        line: /^--output 'zip:x': unknown kind of output; write oci:DIR/,
      },
      {
        args: [
          'imdb-sentiment',
          '--platform',
          'linux/amd64,linux/arm64',
          '--output',
          `tar:${path.join(dir, 'x.tar')}`,
        ],
        code: 2,
        line: /holds one platform/,
      },
    ];
    const results = await Promise.all(
      cases.map((c) => runLedge(['build', ...c.args], { cwd: ws, env: c.env ?? {}, timeoutMs: 300_000 })),
    );
    for (const [i, result] of results.entries()) {
      const c = cases[i]!;
      const lines = result.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `${c.args.join(' ')}: ${result.stderr}`);
      assert.match(lines[0]!, /^ledge: error: /, c.args.join(' '));
      assert.match(lines[0]!.replace(/^ledge: error: /, ''), c.line, c.args.join(' '));
      assert.equal(result.code, c.code, `${c.args.join(' ')}: ${result.stderr}`);
    }
  });
});
