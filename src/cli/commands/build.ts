/**
 * `ledge build <model>`: the model and its server as an OCI image (docs/build.md), without a
 * Docker daemon; `ledge build list|show` over the recorded builds. The command resolves the
 * model reference into a local bundle, reads credentials, and prints; src/build does the rest.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { ModelImageBuild, OutputResult } from '../../build/index.js';
import type { Digest } from '../../core/digest.js';
import { LedgeError } from '../../core/errors.js';
import type { RegistryCredentials } from '../../image/index.js';
import type { ImageBuild } from '../../metadata/image-builds.js';
import type { MetadataStore } from '../../metadata/metadata-store.js';
import type { Store } from '../../store/store.js';
import type { CommandContext } from '../context.js';
import { formatBytes } from '../format.js';
import { table } from '../table.js';

interface BuildFlags {
  platform?: string;
  base?: string;
  tag?: string;
  output: string[];
  push?: string;
  username?: string;
  passwordStdin?: boolean;
  dockerfile?: string;
  prune: boolean;
  record: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

interface ModelToBuild {
  dir: string;
  name: string;
  version: string | undefined;
  digest: Digest | undefined;
  registered: { version: number; id: number } | undefined;
}

function cardName(bundle: string): string | undefined {
  try {
    const card = JSON.parse(fs.readFileSync(path.join(bundle, 'model-card.json'), 'utf8')) as {
      name?: unknown;
    };
    return typeof card.name === 'string' && /^[a-z0-9][a-z0-9._-]{0,127}$/.test(card.name)
      ? card.name
      : undefined;
  } catch {
    return undefined;
  }
}

/** The model reference as a local bundle, with its registry name, version and digest. */
async function resolveModel(
  ctx: CommandContext,
  ref: string,
  store: Store | undefined,
  metadata: MetadataStore | undefined,
): Promise<ModelToBuild> {
  if (!store || !metadata) {
    // Outside a workspace: a bundle path only.
    const dir = path.resolve(ctx.cwd, ref);
    if (!fs.existsSync(dir)) {
      throw new LedgeError('path-not-found', `model ${ref} does not exist`, {
        hint: 'give a bundle directory, or run in a workspace (`ledge init`) to build a registered model',
      });
    }
    return {
      dir,
      name: cardName(dir) ?? 'model',
      version: undefined,
      digest: undefined,
      registered: undefined,
    };
  }
  const [{ resolveModelPath }, registry] = await Promise.all([
    import('../../ml/registry/resolve-model.js'),
    import('../../metadata/model-registry.js'),
  ]);
  const resolved = await resolveModelPath(store, metadata, ref, { cwd: ctx.cwd });
  if (resolved.kind !== 'bundle') {
    throw new LedgeError('usage', `${ref} is a bare .onnx model, not a model bundle`, {
      hint: 'the image serves bundles written by `ledge train` (preprocessing, labels, vocabulary)',
    });
  }
  const registered =
    resolved.name !== undefined && resolved.version !== undefined
      ? await registry.getModelVersion(metadata.db, resolved.name, resolved.version)
      : undefined;
  return {
    dir: resolved.path,
    name: registered?.name ?? cardName(resolved.path) ?? 'model',
    version: registered ? String(registered.version) : undefined,
    digest: resolved.digest,
    registered: registered ? { version: registered.version, id: registered.id } : undefined,
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** --username/--password-stdin, else LEDGE_REGISTRY_USERNAME/LEDGE_REGISTRY_PASSWORD. */
async function credentialsFrom(flags: BuildFlags): Promise<RegistryCredentials | undefined> {
  const username = flags.username ?? process.env.LEDGE_REGISTRY_USERNAME;
  let password = process.env.LEDGE_REGISTRY_PASSWORD;
  if (flags.passwordStdin) password = await readStdin();
  if (username === undefined && password === undefined) return undefined;
  if (!username || password === undefined) {
    throw new LedgeError('usage', 'registry credentials need both a username and a password', {
      hint: 'give --username and --password-stdin, or set LEDGE_REGISTRY_USERNAME and LEDGE_REGISTRY_PASSWORD',
    });
  }
  return { username, password };
}

function layerRows(build: ModelImageBuild): string[][] {
  const rows: string[][] = [];
  for (const p of build.platforms) {
    if (build.platforms.length > 1) rows.push([`  ${p.platform}`, p.digest, '', '']);
    const base = p.layers.filter((l) => l.role === 'base');
    const baseUnpacked = base.every((l) => l.uncompressedSize !== null)
      ? base.reduce((sum, l) => sum + l.uncompressedSize!, 0)
      : null;
    rows.push([
      '    base',
      `${p.base.name}@${p.base.digest.slice(0, 19)}…`,
      formatBytes(base.reduce((sum, l) => sum + l.size, 0)),
      baseUnpacked === null ? '' : `${formatBytes(baseUnpacked)} unpacked`,
    ]);
    for (const layer of p.layers.filter((l) => l.role !== 'base')) {
      rows.push([
        `    ${layer.role}`,
        `${layer.digest.slice(0, 19)}…${layer.reused ? ' (cached)' : ''}`,
        formatBytes(layer.size),
        layer.uncompressedSize === null ? '' : `${formatBytes(layer.uncompressedSize)} unpacked`,
      ]);
    }
    rows.push([
      '    total',
      '',
      formatBytes(p.size),
      p.uncompressedSize === null ? '' : `${formatBytes(p.uncompressedSize)} unpacked`,
    ]);
  }
  return rows;
}

function outputLine(output: OutputResult | { kind: 'dockerfile'; location: string }): string {
  switch (output.kind) {
    case 'oci':
      return `wrote the OCI layout ${output.location} (${formatBytes(output.bytes)})`;
    case 'tar':
      return `wrote ${output.location} (${formatBytes(output.bytes)}; docker load -i / podman load -i)`;
    case 'push':
      return `pushed ${output.location} (${output.uploaded} blobs uploaded, ${formatBytes(output.bytes)}; ${output.skipped} already there)`;
    default:
      return `wrote a Dockerfile and docker-compose.yml in ${output.location}`;
  }
}

function buildJson(build: ModelImageBuild, outputs: unknown[], tag: string, id: number | undefined) {
  return {
    build: id ?? null,
    digest: build.digest,
    mediaType: build.subject.mediaType,
    tag,
    model: build.model,
    base: build.base,
    created: build.created,
    pruned: build.pruned,
    size: build.size,
    platforms: build.platforms.map((p) => ({
      platform: p.platform,
      digest: p.digest,
      base: p.base,
      size: p.size,
      uncompressedSize: p.uncompressedSize,
      layers: p.layers,
    })),
    labels: build.labels,
    outputs,
    timings: Object.fromEntries(Object.entries(build.timings).map(([k, v]) => [k, Math.round(v)])),
  };
}

async function openWorkspace(ctx: CommandContext): Promise<{ store?: Store; metadata?: MetadataStore }> {
  let store: Store;
  try {
    store = await ctx.openStore();
  } catch (error) {
    if (error instanceof LedgeError && error.code === 'not-a-workspace') return {};
    throw error;
  }
  try {
    return { store, metadata: await ctx.openMetadata(store) };
  } catch (error) {
    store.close();
    throw error;
  }
}

async function runBuild(ctx: CommandContext, ref: string, flags: BuildFlags): Promise<void> {
  const lib = await import('../../build/index.js');
  // Check what can be checked before any work: platforms, outputs, references, credentials.
  const platform = flags.platform ?? lib.defaultBuildPlatform();
  const platforms = lib.parseBuildPlatforms(platform);
  const outputs = flags.output.map((text) => lib.parseOutput(text, ctx.cwd));
  if (outputs.some((o) => o.kind === 'tar') && platforms.length > 1) {
    throw new LedgeError('usage', '--output tar:FILE holds one platform, and --platform names several', {
      hint: 'write several platforms with --output oci:DIR or --push REF',
    });
  }
  for (const output of outputs) lib.checkOutputWritable(output);
  if (flags.dockerfile) lib.checkDockerContext(path.resolve(ctx.cwd, flags.dockerfile));
  const { parseReference } = await import('../../image/index.js');
  if (flags.tag) parseReference(flags.tag);
  const pushRef = flags.push ? parseReference(flags.push) : undefined;
  const baseSpec = lib.parseBase(flags.base ?? lib.DEFAULT_BASE_IMAGE, ctx.cwd);
  const baseRegistry = baseSpec.kind === 'registry' ? parseReference(baseSpec.reference).registry : undefined;
  const credentials = await credentialsFrom(flags);

  const { store, metadata } = await openWorkspace(ctx);
  try {
    const model = await resolveModel(ctx, ref, store, metadata);
    const cacheRoot = store ? store.ws.cacheDir : path.join(os.homedir(), '.cache', 'ledge');
    if (outputs.length === 0 && !pushRef && !flags.dockerfile) {
      outputs.push(lib.parseOutput(`oci:${path.join(cacheRoot, 'layouts', model.name)}`, ctx.cwd));
    }
    const build = await lib.buildModelImage({
      model: { dir: model.dir, name: model.name, version: model.version, digest: model.digest },
      platforms: platform,
      ...(flags.base ? { base: flags.base } : {}),
      cache: path.join(cacheRoot, 'images'),
      cwd: ctx.cwd,
      pruneOnnxRuntime: flags.prune,
      // The credentials are for the push registry; the base gets them only on the same one.
      registry: credentials && pushRef?.registry === baseRegistry ? { credentials } : {},
      progress: ctx.progress,
    });
    const tag = flags.tag ?? lib.defaultTag(build);
    const tagRef = parseReference(tag);
    const results: (
      | OutputResult
      | { kind: 'dockerfile'; location: string; digest: Digest; bytes: number }
    )[] = [];
    for (const output of outputs) {
      results.push(await lib.writeModelImage(output.text, build, { tag, cwd: ctx.cwd }));
    }
    if (flags.push) {
      const progress = ctx.progress;
      const blobs = new Set(
        build.platforms.flatMap((p) => [p.image.manifest.config.digest, ...p.layers.map((l) => l.digest)]),
      );
      progress.start(`pushing ${flags.push}`, blobs.size, 'blobs');
      try {
        results.push(
          await lib.pushModelImage(flags.push, build, {
            tag,
            ...(credentials ? { credentials } : {}),
            onBlob: (event) => progress.advance(1, event.uploaded ? event.size : 0),
          }),
        );
      } finally {
        progress.stop();
      }
    }
    if (flags.dockerfile) {
      const context = await lib.writeDockerContext(path.resolve(ctx.cwd, flags.dockerfile), build, { tag });
      results.push({ kind: 'dockerfile', location: context.dir, digest: build.digest, bytes: context.bytes });
    }
    let recorded: ImageBuild | undefined;
    if (metadata && flags.record) {
      const { recordImageBuild } = await import('../../metadata/image-builds.js');
      recorded = await recordImageBuild(
        metadata.db,
        lib.buildRecord(build, results, { tag: lib.displayName(tagRef), registered: model.registered }),
      );
    }
    if (flags.json) {
      ctx.json(buildJson(build, results, lib.displayName(tagRef), recorded?.id));
      return;
    }
    const built = build.platforms.map((p) => p.platform).join(', ');
    ctx.say(
      `Built ${lib.displayName(tagRef)} ${build.digest} (${built}${build.index ? ', an image index' : ''})`,
    );
    for (const line of table(layerRows(build))) ctx.say(line);
    for (const result of results) ctx.say(`  ${outputLine(result)}`);
    const seconds = (build.timings.totalMs / 1000).toFixed(1);
    ctx.say(
      `  ${recorded ? `recorded as build ${recorded.id}; ` : ''}${seconds} s${build.pruned ? '' : ' (ONNX Runtime not pruned)'}`,
    );
  } finally {
    await metadata?.close();
    store?.close();
  }
}

function buildRows(builds: ImageBuild[]): string[][] {
  return builds.map((b) => [
    String(b.id),
    `${b.modelName}${b.modelVersion === null ? '' : `@${b.modelVersion}`}`,
    b.digest.slice(0, 19),
    b.platforms.map((p) => p.platform).join(','),
    formatBytes(b.size),
    b.tag ?? '',
    b.createdAt.replace(/\.\d+Z$/, 'Z'),
  ]);
}

function showLines(b: ImageBuild): string[] {
  const rows: string[][] = [
    ['build', String(b.id)],
    ['digest', `${b.digest} (${b.mediaType.endsWith('index.v1+json') ? 'index' : 'image'})`],
    ['model', `${b.modelName}${b.modelVersion === null ? '' : `@${b.modelVersion}`} ${b.modelDigest}`],
    ['base', `${b.baseRef}${b.baseDigest ? ` (${b.baseDigest})` : ''}`],
    ['tag', b.tag ?? '-'],
    ['created', `${b.createdAt} (image time ${b.imageCreated})`],
    ['git', b.gitCommit ? `${b.gitCommit}${b.gitDirty ? ' (dirty)' : ''}` : '-'],
    ['size', formatBytes(b.size)],
  ];
  for (const p of b.platforms) {
    rows.push([
      p.platform,
      `${p.digest}  ${formatBytes(p.size)}${p.uncompressedSize === null ? '' : ` (${formatBytes(p.uncompressedSize)} unpacked)`}`,
    ]);
    for (const layer of p.layers) {
      rows.push([
        `  ${layer.role}`,
        `${layer.digest}  ${formatBytes(layer.size)}${layer.uncompressedSize === null ? '' : ` (${formatBytes(layer.uncompressedSize)})`}`,
      ]);
    }
  }
  for (const o of b.outputs) rows.push([o.kind, o.location]);
  return table(rows);
}

async function withMetadata<T>(ctx: CommandContext, fn: (metadata: MetadataStore) => Promise<T>): Promise<T> {
  const metadata = await ctx.openMetadata();
  try {
    return await fn(metadata);
  } finally {
    await metadata.close();
  }
}

export function registerBuildCommands(program: Command, context: () => CommandContext): void {
  const build = program
    .command('build')
    .description('build an OCI image of a model and its server, without a Docker daemon (docs/build.md)')
    .argument('<model>', 'NAME, NAME@VERSION, NAME@ALIAS, sha256:…, or a bundle directory')
    .option(
      '--platform <list>',
      "linux/amd64, linux/arm64, or both comma-separated (an image index); default: this machine's",
    )
    .option(
      '--base <ref>',
      'base image: a registry reference or oci:DIR[:TAG] (default: docker.io/library/node:20-slim)',
    )
    .option('-t, --tag <name>', 'image name and tag (default: ledge/<model>:<version>)')
    .option(
      '-o, --output <spec>',
      'oci:DIR (OCI layout) or tar:FILE (docker/podman load); repeatable',
      collect,
      [],
    )
    .option(
      '--push <ref>',
      'push to a registry (credentials: LEDGE_REGISTRY_USERNAME/PASSWORD or the flags below)',
    )
    .option('--username <name>', 'registry user name for --push')
    .option('--password-stdin', 'read the registry password from standard input')
    .option('--dockerfile <dir>', 'also write an equivalent Dockerfile, docker-compose.yml and build context')
    .option('--no-prune', "keep every platform's ONNX Runtime binaries")
    .option('--no-record', 'do not record the build in the metadata store')
    .option('--json', 'print the result as JSON')
    .action(async (ref: string, flags: BuildFlags) => {
      await runBuild(context(), ref, flags);
    });

  build
    .command('list')
    .description('recorded image builds, newest first')
    .option('--model <name>', 'only builds of this model')
    .option('-n, --limit <n>', 'show the newest N', '20')
    .option('--json', 'print the builds as JSON')
    .action(async (_flags: unknown, command: Command) => {
      const flags = command.optsWithGlobals<{ model?: string; limit: string; json?: boolean }>();
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1) {
        throw new LedgeError('usage', `--limit must be a positive integer, not '${flags.limit}'`);
      }
      const ctx = context();
      const { listImageBuilds } = await import('../../metadata/image-builds.js');
      const builds = await withMetadata(ctx, (m) => listImageBuilds(m.db, { modelName: flags.model, limit }));
      if (flags.json) return ctx.json(builds);
      if (builds.length === 0) {
        ctx.say('No image builds recorded; `ledge build MODEL` makes one.');
        return;
      }
      for (const line of table([
        ['id', 'model', 'digest', 'platforms', 'size', 'tag', 'built'],
        ...buildRows(builds),
      ]))
        ctx.say(line);
    });

  build
    .command('show')
    .description('one recorded build: digests, base, layers and sizes, outputs')
    .argument('<build>', 'the build id, or an image or index digest (sha256:…)')
    .option('--json', 'print the build as JSON')
    .action(async (ref: string, _flags: unknown, command: Command) => {
      const flags = command.optsWithGlobals<{ json?: boolean }>();
      const ctx = context();
      const { getImageBuild } = await import('../../metadata/image-builds.js');
      const found = await withMetadata(ctx, (m) => getImageBuild(m.db, ref));
      if (flags.json) return ctx.json(found);
      for (const line of showLines(found)) ctx.say(line);
    });
}
