/**
 * The pieces of `ledge build` that need no registry or engine: platforms, the ONNX Runtime
 * pruning rule, the server's import graph (read from the compiled code: no CLI, no database
 * driver), the dependency closure (on the real node_modules and on a made-up tree), the
 * container entrypoint's settings, labels and config, the Dockerfile's text, outputs and bases.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  appParts,
  checkOutputWritable,
  composeText,
  dependencyClosure,
  dependencyFiles,
  dockerfileText,
  HEALTHCHECK,
  imageConfig,
  imageLabels,
  importSpecifiers,
  isBuildError,
  keepOnnxRuntimeFile,
  Label,
  packageOf,
  parseBase,
  parseBuildPlatforms,
  parseOutput,
  pushReference,
  SERVER_ENTRY,
  serverFiles,
} from '../../src/build/index.js';
import { sha256 } from '../../src/core/digest.js';
import { parseReference } from '../../src/image/index.js';
import { containerSettings } from '../../src/runtime/server/serve-main.js';
import { tempDir, writeTree } from '../helpers/temp-dir.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** What the server may import: the runtime's packages (test/architecture.test.ts). */
const RUNTIME_PACKAGES = ['@hono/node-server', 'hono', 'onnxruntime-node', 'prom-client', 'tar'];
/** What must never reach a device image. */
const CONTROL_PLANE_PACKAGES = [
  'better-sqlite3',
  '@aws-sdk/client-s3',
  '@aws-sdk/lib-storage',
  'pg',
  'kysely',
  'commander',
  'cli-progress',
  'yaml',
  'zod',
  'onnx-proto',
];

describe('build platforms and pruning', () => {
  it('parses platform lists, once each, and refuses what ONNX Runtime has no Linux binaries for', () => {
    assert.deepEqual(parseBuildPlatforms('linux/amd64, linux/arm64,linux/amd64'), [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ]);
    assert.deepEqual(parseBuildPlatforms(['linux/arm64/v8']), [{ os: 'linux', architecture: 'arm64' }]);
    for (const bad of ['linux/s390x', 'windows/amd64', 'linux/arm/v7', 'amd64', '', 'linux/amd64/v2']) {
      assert.throws(
        () => parseBuildPlatforms(bad),
        (error: Error) =>
          isBuildError(error, 'unknown-platform') &&
          !error.message.includes('\n') &&
          /ledge builds linux\/amd64 and linux\/arm64/.test((error as { line?: string }).line ?? ''),
        bad,
      );
    }
  });

  it("keeps only the target platform's ONNX Runtime binaries", () => {
    const x64 = ['x64'] as const;
    assert.equal(keepOnnxRuntimeFile('dist/index.js', x64), true);
    assert.equal(keepOnnxRuntimeFile('bin/napi-v6/linux/x64/onnxruntime_binding.node', x64), true);
    assert.equal(keepOnnxRuntimeFile('bin/napi-v6/linux/x64', x64), true);
    assert.equal(keepOnnxRuntimeFile('bin/napi-v6/linux', x64), true);
    assert.equal(keepOnnxRuntimeFile('bin/napi-v6/linux/arm64/libonnxruntime.so.1', x64), false);
    assert.equal(keepOnnxRuntimeFile('bin/napi-v6/darwin', x64), false);
    assert.equal(keepOnnxRuntimeFile('bin/napi-v6/win32/x64/onnxruntime.dll', x64), false);
    assert.equal(
      keepOnnxRuntimeFile('bin/napi-v6/linux/arm64/onnxruntime_binding.node', ['x64', 'arm64']),
      true,
    );
  });
});

describe("the model server's code and dependencies", () => {
  it('src/build reads only the bundle format of the runtime (and ships its server as files)', () => {
    const dir = path.join(repo, 'src', 'build');
    const runtimeImports = fs
      .readdirSync(dir)
      .flatMap((file) => importSpecifiers(fs.readFileSync(path.join(dir, file), 'utf8')))
      .filter((spec) => spec.includes('/runtime/'));
    assert.ok(runtimeImports.length > 0);
    assert.deepEqual(
      runtimeImports.filter((spec) => !spec.startsWith('../runtime/model/')),
      [],
    );
  });

  it('reads import specifiers from compiled modules, not from comments', () => {
    const source = [
      '/** Example: `const x = await import("./not-this.js")` */',
      "import fs from 'node:fs';",
      'import { a,',
      "  b } from './multi.js';",
      "export { c } from '../c.js';",
      "import './side-effect.js';",
      '// await import("./commented.js")',
      " * import('./doc.js')",
      "const lazy = () => import('./lazy.js');",
      "const text = 'import from nowhere';",
      "const worker = new Worker(new URL('./worker.js', import.meta.url));",
      "const page = new URL('./not-a-module.html', import.meta.url);",
    ].join('\n');
    assert.deepEqual(importSpecifiers(source).sort(), [
      '../c.js',
      './lazy.js',
      './multi.js',
      './side-effect.js',
      './worker.js',
      'node:fs',
    ]);
    assert.equal(packageOf('@hono/node-server/vercel'), '@hono/node-server');
    assert.equal(packageOf('hono/http-exception'), 'hono');
    assert.equal(packageOf('fs'), undefined);
    assert.equal(packageOf('node:fs'), undefined);
    assert.equal(packageOf('./x.js'), undefined);
  });

  it('the server imports the runtime only: no CLI, store, metadata, trainer or database driver', () => {
    const parts = appParts(repo);
    const relative = parts.graph.files.map((file) => path.relative(repo, file));
    assert.ok(relative.includes(SERVER_ENTRY), relative.join(' '));
    assert.ok(relative.includes('dist/src/runtime/server/serve.js'));
    // The preprocessing threads' module, loaded by URL rather than imported.
    assert.ok(relative.includes('dist/src/runtime/server/preprocess-worker.js'));
    for (const file of relative) {
      assert.match(file, /^dist\/src\/(runtime|core)\//, `${file} does not belong in a device image`);
    }
    assert.deepEqual(
      parts.graph.packages.filter((name) => !RUNTIME_PACKAGES.includes(name)),
      [],
      'packages beyond the runtime',
    );
    const names = parts.packages.map((pkg) => pkg.name);
    for (const root of RUNTIME_PACKAGES) assert.ok(names.includes(root), `${root} is in the closure`);
    for (const forbidden of CONTROL_PLANE_PACKAGES) {
      assert.ok(!names.includes(forbidden), `${forbidden} must not be in the image`);
    }
    assert.ok(!names.some((name) => name.startsWith('@aws-sdk/') || name.startsWith('@smithy/')));
    const server = serverFiles(parts);
    const manifest = server.find((file) => file.path === '/app/package.json');
    assert.equal(JSON.parse(String(manifest?.content)).type, 'module');
    assert.ok(server.every((file) => file.path.startsWith('/app/')));
  });

  it("prunes ONNX Runtime's binaries to the platform, or keeps every platform's", () => {
    const parts = appParts(repo);
    const ortFiles = (arches?: ('x64' | 'arm64')[]) =>
      dependencyFiles(parts, { arches })
        .map((file) => file.path)
        .filter((p) => p.includes('/onnxruntime-node/bin/'));
    const x64 = ortFiles(['x64']);
    assert.ok(x64.some((p) => /\/linux\/x64\/onnxruntime_binding\.node$/.test(p)));
    assert.ok(!x64.some((p) => /\/(arm64|darwin|win32)\//.test(p)), x64.join('\n'));
    const arm64 = ortFiles(['arm64']);
    assert.ok(arm64.some((p) => /\/linux\/arm64\/libonnxruntime\.so\.1$/.test(p)));
    assert.ok(!arm64.some((p) => /\/(x64|darwin|win32)(\/|$)/.test(p)), arm64.join('\n'));
    const all = ortFiles(undefined);
    assert.ok(all.some((p) => p.includes('/darwin/')) && all.some((p) => p.includes('/win32/')));
    const files = dependencyFiles(parts, { arches: ['x64'] }).map((file) => file.path.replace(/^\//, ''));
    assert.ok(files.every((p) => p.startsWith('app/node_modules/')));
    assert.ok(!files.some((p) => /\/node_modules\/\.bin\//.test(p)));
  });

  it('follows dependencies the way Node.js resolves them: nested versions, hoisting, optional ones', (t) => {
    const root = tempDir(t);
    const pkg = (name: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ name, version: '1.0.0', ...extra });
    writeTree(root, {
      'outer/node_modules/hoisted/package.json': pkg('hoisted'),
      'outer/app/package.json': pkg('app', { devDependencies: { devonly: '1' } }),
      'outer/app/node_modules/a/package.json': pkg('a', {
        dependencies: { b: '^2', hoisted: '1' },
        optionalDependencies: { missing: '1' },
      }),
      'outer/app/node_modules/a/node_modules/b/package.json': JSON.stringify({ name: 'b', version: '2.0.0' }),
      'outer/app/node_modules/b/package.json': pkg('b'),
      'outer/app/node_modules/devonly/package.json': pkg('devonly'),
      'outer/app/node_modules/c/package.json': pkg('c', { dependencies: { nowhere: '1' } }),
    });
    const app = path.join(root, 'outer', 'app');
    const closure = dependencyClosure(['a', 'b'], app);
    assert.deepEqual(
      closure.map((p) => `${p.imagePath}@${p.version}`),
      [
        'node_modules/a@1.0.0',
        'node_modules/a/node_modules/b@2.0.0',
        'node_modules/b@1.0.0',
        'node_modules/hoisted@1.0.0',
      ],
    );
    assert.throws(
      () => dependencyClosure(['c'], app),
      (error: Error) =>
        isBuildError(error, 'missing-dependency') && /'nowhere' \(needed by c@1\.0\.0\)/.test(error.message),
    );
  });

  it("keeps npm's layout when node_modules is a symlink to another tree (scoped packages included)", (t) => {
    const root = tempDir(t);
    const pkg = (name: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ name, version: '1.0.0', ...extra });
    writeTree(root, {
      'real/node_modules/@scope/server/package.json': pkg('@scope/server', { dependencies: { plain: '1' } }),
      'real/node_modules/plain/package.json': pkg('plain'),
      'linked/app/package.json': pkg('app'),
    });
    fs.symlinkSync(path.join(root, 'real', 'node_modules'), path.join(root, 'linked', 'app', 'node_modules'));
    const closure = dependencyClosure(['@scope/server'], path.join(root, 'linked', 'app'));
    assert.deepEqual(
      closure.map((p) => p.imagePath),
      ['node_modules/@scope/server', 'node_modules/plain'],
    );
  });
});

describe('the container entrypoint', () => {
  it('takes arguments over environment over the image defaults', () => {
    assert.deepEqual(containerSettings([], {}), {
      mode: 'serve',
      model: '/model',
      host: '0.0.0.0',
      port: 8080,
      name: undefined,
      version: undefined,
      predictionLog: undefined,
      monitoring: true,
    });
    const env = {
      LEDGE_PORT: '9000',
      LEDGE_MODEL_NAME: 'imdb',
      LEDGE_MODEL_VERSION: '3',
      LEDGE_MONITORING: 'off',
    };
    const fromEnv = containerSettings([], env);
    assert.equal(fromEnv.port, 9000);
    assert.equal(fromEnv.name, 'imdb');
    assert.equal(fromEnv.monitoring, false);
    const fromArgs = containerSettings(['--port', '9100', '--model=/m', '--health'], env);
    assert.equal(fromArgs.port, 9100);
    assert.equal(fromArgs.model, '/m');
    assert.equal(fromArgs.mode, 'health');
    assert.throws(() => containerSettings(['--port', 'x'], {}), /port must be an integer/);
    assert.throws(() => containerSettings([], { LEDGE_PORT: '70000' }), /port must be an integer/);
    assert.throws(() => containerSettings(['--bogus'], {}), /unknown argument '--bogus'/);
    assert.throws(() => containerSettings(['--model'], {}), /--model needs a value/);
  });
});

describe('labels, config and the Dockerfile', () => {
  const model = { name: 'imdb-sentiment', version: '3', digest: sha256('model') };
  const labels = imageLabels(
    model,
    { commit: 'a'.repeat(40), dirty: true, url: 'https://example.com/x.git' },
    '2024-01-02T03:04:05Z',
  );

  it('labels the image with OCI keys, the model and the git commit; runs as a non-root user', () => {
    assert.equal(labels[Label.title], 'imdb-sentiment');
    assert.equal(labels[Label.version], '3');
    assert.equal(labels[Label.revision], 'a'.repeat(40));
    assert.equal(labels[Label.created], '2024-01-02T03:04:05Z');
    assert.equal(labels[Label.source], 'https://example.com/x.git');
    assert.match(labels[Label.description]!, /imdb-sentiment version 3/);
    assert.equal(labels[Label.modelName], 'imdb-sentiment');
    assert.equal(labels[Label.modelVersion], '3');
    assert.equal(labels[Label.modelDigest], model.digest);
    assert.equal(labels[Label.gitCommit], 'a'.repeat(40));
    assert.equal(labels[Label.gitDirty], 'true');
    const config = imageConfig(model, labels);
    assert.equal(config.user, '1000:1000');
    assert.deepEqual(config.exposedPorts, [8080]);
    assert.deepEqual(config.entrypoint, ['node', `/app/${SERVER_ENTRY}`]);
    assert.equal(config.cmd, null);
    assert.equal(config.workingDir, '/app');
    assert.equal(config.env?.LEDGE_MODEL, '/model');
    assert.deepEqual((config.healthcheck as { test: string[] }).test, [
      'node',
      `/app/${SERVER_ENTRY}`,
      '--health',
    ]);
  });

  it('writes the same container as a Dockerfile and a compose file', () => {
    const text = dockerfileText({
      from: 'docker.io/library/node:20-slim@sha256:' + 'b'.repeat(64),
      env: { NODE_ENV: 'production', LEDGE_MODEL: '/model' },
      labels,
      workingDir: '/app',
      user: '1000:1000',
      port: 8080,
      builtDigest: sha256('image'),
      platforms: ['linux/amd64'],
    });
    const lines = text.split('\n');
    assert.ok(lines.includes(`FROM docker.io/library/node:20-slim@sha256:${'b'.repeat(64)}`));
    const copies = lines.filter((line) => line.startsWith('COPY '));
    assert.deepEqual(copies, ['COPY dependencies/ /app/', 'COPY server/ /app/', 'COPY model/ /model/']);
    assert.ok(lines.includes('USER 1000:1000'));
    assert.ok(lines.includes('EXPOSE 8080'));
    assert.ok(lines.includes(`ENTRYPOINT ["node","/app/${SERVER_ENTRY}"]`));
    assert.match(
      text,
      /^HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD \["node",/m,
    );
    assert.match(text, /"ai\.ledge\.model\.digest"="sha256:[0-9a-f]{64}"/);
    const compose = composeText({
      service: 'imdb-sentiment',
      image: 'ledge/imdb-sentiment:3',
      port: 8080,
      labels,
    });
    assert.match(compose, /^services:\n {2}imdb-sentiment:\n {4}build: \.\n/m);
    assert.match(compose, /restart: unless-stopped/);
    assert.match(compose, /- "8080:8080"/);
    assert.ok(compose.includes(`test: ${JSON.stringify(['CMD', ...HEALTHCHECK.test])}`));
  });
});

describe('outputs and bases', () => {
  it('parses outputs and refuses unwritable ones before building', (t) => {
    const dir = tempDir(t);
    assert.deepEqual(parseOutput('oci:out/x', dir), {
      kind: 'oci',
      text: 'oci:out/x',
      path: path.join(dir, 'out/x'),
    });
    assert.equal(parseOutput('tar:a.tar', dir).kind, 'tar');
    assert.throws(
      () => parseOutput('zip:x', dir),
      (e: Error) => isBuildError(e, 'bad-output'),
    );
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    const fileParent = parseOutput('oci:file/layout', dir);
    assert.throws(
      () => checkOutputWritable(fileParent),
      (e: Error) => isBuildError(e, 'output-unwritable') && /file is not a directory/.test(e.message),
    );
    assert.throws(() => checkOutputWritable(parseOutput('tar:.', dir)), /is a directory/);
    checkOutputWritable(parseOutput('oci:new/deep/layout', dir));
  });

  it('reads base references: registry names and oci:DIR[:TAG]', () => {
    assert.deepEqual(parseBase('node:20-slim'), {
      kind: 'registry',
      text: 'node:20-slim',
      reference: 'docker.io/library/node:20-slim',
    });
    assert.deepEqual(parseBase('oci:/tmp/base:20-slim'), {
      kind: 'layout',
      text: 'oci:/tmp/base:20-slim',
      dir: '/tmp/base',
      tag: '20-slim',
    });
    assert.deepEqual(parseBase('oci:base', '/w'), {
      kind: 'layout',
      text: 'oci:base',
      dir: '/w/base',
      tag: undefined,
    });
    assert.throws(
      () => parseBase('Not A Reference'),
      (e: Error) => isBuildError(e, 'base-image') && /^base image /.test(e.message),
    );
  });

  it("gives a pushed reference the build's tag when it has none", () => {
    const tag = parseReference('ledge/imdb:3');
    assert.equal(pushReference('127.0.0.1:5000/ledge/imdb', tag).tag, '3');
    assert.equal(pushReference('127.0.0.1:5000/ledge/imdb:prod', tag).tag, 'prod');
  });
});
