/**
 * Component boundaries, checked on the sources: each component may import only from the
 * components below it, and from the npm packages it is allowed to depend on. This keeps the
 * edge runtime (later `src/runtime`) free of control-plane dependencies as the tree grows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/** component → components it may import, and npm packages it may import. */
const RULES: Record<string, { components: string[]; packages: string[] }> = {
  core: { components: ['core'], packages: ['yaml', 'zod'] },
  store: {
    components: ['core', 'store'],
    packages: ['yaml', 'zod', 'better-sqlite3', '@aws-sdk/client-s3'],
  },
  metadata: { components: ['core', 'metadata'], packages: ['kysely', 'pg', 'better-sqlite3'] },
  pipeline: { components: ['core', 'store', 'metadata', 'pipeline'], packages: ['yaml', 'zod'] },
  // What ships to devices: preprocessing and inference. Nothing of the trainer or control plane.
  runtime: {
    components: ['core', 'runtime'],
    packages: ['onnxruntime-node', 'tar', 'hono', '@hono/node-server', 'prom-client'],
  },
  // Datasets, the trainer, ONNX export, quantization, evaluation, model bundles.
  ml: {
    components: ['core', 'store', 'metadata', 'runtime', 'ml'],
    packages: ['onnx-proto', 'onnxruntime-node', 'tar', 'yaml', 'zod'],
  },
  // Daemonless OCI images: layers, assembly, OCI layout, docker/podman tarball, registry client.
  image: { components: ['core', 'image'], packages: ['tar'] },
  // The dashboard: a local web UI over the metadata store and running servers.
  ui: { components: ['core', 'metadata', 'ui'], packages: ['hono', '@hono/node-server'] },
  // Image builds of models: the image library, the runtime's server and bundle format, records.
  build: { components: ['core', 'metadata', 'image', 'runtime', 'build'], packages: [] },
  // Deploy targets (a supervised local server; container engines), rollouts, the quality gate.
  // `image`: the engine target reads an image's manifest from its registry before the engine pulls it.
  deploy: { components: ['core', 'metadata', 'runtime', 'image', 'deploy'], packages: ['zod'] },
  // The control plane: run queue, triggers, the REST API server, auth. Reads ledge.yaml (pipeline)
  // to know what to watch; runs pipelines as `ledge run` children; the dashboard comes in from the CLI.
  control: {
    components: ['core', 'metadata', 'pipeline', 'control'],
    packages: ['hono', '@hono/node-server', 'croner', 'zod'],
  },
  cli: {
    components: [
      'core',
      'store',
      'metadata',
      'pipeline',
      'runtime',
      'ml',
      'ui',
      'deploy',
      'image',
      'build',
      'control',
      'cli',
    ],
    packages: ['commander', 'cli-progress'],
  },
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)) found.push(match[1]!);
  return found;
}

describe('component boundaries', () => {
  it('every src/ folder is a known component', () => {
    const components = fs
      .readdirSync(srcDir)
      .filter((name) => fs.statSync(path.join(srcDir, name)).isDirectory());
    for (const component of components) assert.ok(RULES[component], `src/${component} has no boundary rule`);
  });

  for (const [component, rule] of Object.entries(RULES)) {
    it(`src/${component} imports only what it may`, () => {
      const dir = path.join(srcDir, component);
      if (!fs.existsSync(dir)) return;
      const violations: string[] = [];
      for (const file of sourceFiles(dir)) {
        for (const spec of importsOf(file)) {
          const where = path.relative(srcDir, file);
          if (spec.startsWith('node:')) continue;
          if (spec.startsWith('.')) {
            const target = path.relative(srcDir, path.resolve(path.dirname(file), spec)).split(path.sep)[0]!;
            if (!rule.components.includes(target))
              violations.push(`${where} imports ${spec} (src/${target})`);
            continue;
          }
          const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!rule.packages.includes(pkg)) violations.push(`${where} imports package ${pkg}`);
        }
      }
      assert.deepEqual(violations, []);
    });
  }
});
