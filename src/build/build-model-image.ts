/**
 * `ledge build` as one function: a model bundle becomes an OCI image (or, for several
 * platforms, an image index) of a base image plus three layers, in the order they change:
 *
 *     base (Node.js)   ← pulled, cached
 *     dependencies     ← the server's npm closure, ONNX Runtime pruned to the platform (gzip)
 *     server           ← the compiled server modules and its entrypoint (gzip)
 *     model            ← the bundle at /model, uncompressed (weights do not compress), last
 *
 * The same inputs give the same digests: layers have fixed mtimes (0) and owners, the config
 * and history carry one fixed time (SOURCE_DATE_EPOCH, else the git commit's time, else 0), so a
 * new commit or a new model changes only the config, the manifest and (for a model) the top
 * layer. The result holds the images as values; `writeModelImage` and `pushModelImage`
 * (outputs.ts) send them somewhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Digest } from '../core/digest.js';
import { digestHex } from '../core/digest.js';
import { type Progress, silentProgress } from '../core/progress.js';
import {
  BlobStore,
  type BuiltLayer,
  buildImage,
  buildIndex,
  buildLayer,
  filesFromDirectory,
  formatPlatform,
  type Image,
  type ImageFormat,
  type ImageIndex,
  isoTime,
  type Layer,
  type Platform,
  type RegistryOptions,
} from '../image/index.js';
import { isBundleArchive, unpackBundle } from '../runtime/model/bundle-archive.js';
import { BUNDLE_FILES } from '../runtime/model/bundle-format.js';
import { type AppParts, appParts, dependencyFiles, installedAppRoot, serverFiles } from './app-files.js';
import { type BaseImage, baseLoader, DEFAULT_BASE_IMAGE, parseBase } from './base-image.js';
import { notABundle } from './build-errors.js';
import {
  imageConfig,
  imageLabels,
  Label,
  MODEL_DIR,
  type ModelIdentity,
  type SourceInfo,
} from './image-spec.js';
import { uncompressedSize } from './layer-sizes.js';
import { defaultBuildPlatform, nodeArch, parseBuildPlatforms } from './platforms.js';
import { buildTime, sourceInfo } from './source-info.js';

export interface ModelSource {
  /** A bundle directory (or a .ledgemodel archive). */
  dir: string;
  /** The name it is served under. */
  name: string;
  /** Default: the first 12 hex digits of the digest. */
  version?: string | undefined;
  /** The registry digest of the bundle (default: the model layer's diffID). */
  digest?: Digest | undefined;
}

export interface BuildModelImageOptions {
  model: ModelSource;
  /** `linux/amd64`, `linux/arm64`, or both (a list or comma-separated; default: this machine's, else linux/amd64). */
  platforms?: string | readonly (string | Platform)[];
  /** A registry reference or `oci:DIR[:TAG]` (default docker.io/library/node:20-slim). */
  base?: string;
  /** Where layers are built and base layers cached (a BlobStore or its directory). */
  cache: BlobStore | string;
  /** Resolves `oci:` paths and reads git state (default: process.cwd()). */
  cwd?: string;
  /** The git commit etc. to label the image with (default: read from `cwd`). */
  source?: SourceInfo;
  /** The image's creation time in seconds (default: SOURCE_DATE_EPOCH, else the commit's time, else 0). */
  created?: number;
  env?: NodeJS.ProcessEnv;
  /** Keep only the target platform's ONNX Runtime binaries (default true). */
  pruneOnnxRuntime?: boolean;
  /** Credentials etc. for pulling the base. */
  registry?: RegistryOptions;
  /** The ledge installation whose server and node_modules go into the image (default: the running one). */
  appRoot?: string;
  /** More labels (they win over ledge's). */
  labels?: Record<string, string>;
  format?: ImageFormat;
  progress?: Progress;
}

export type LayerRole = 'base' | 'dependencies' | 'server' | 'model';

export interface LayerSummary {
  role: LayerRole;
  mediaType: string;
  digest: Digest;
  diffId: Digest;
  /** Bytes of the blob (compressed, as transferred). */
  size: number;
  /** Bytes of the tar; null when unknown (a base layer in an unknown compression). */
  uncompressedSize: number | null;
  /** A ledge layer whose blob an earlier build had made already. */
  reused?: boolean;
}

export interface PlatformBuild {
  platform: string;
  image: Image;
  digest: Digest;
  base: { name: string; digest: Digest };
  layers: LayerSummary[];
  /** Config plus every layer, as a registry stores them (what a cold pull transfers). */
  size: number;
  /** The unpacked size of every layer (null when a base layer's is unknown). */
  uncompressedSize: number | null;
}

export interface ModelImageBuild {
  /** The image (one platform) or the index (several): what outputs write. */
  subject: Image | ImageIndex;
  digest: Digest;
  image: Image | undefined;
  index: ImageIndex | undefined;
  platforms: PlatformBuild[];
  model: ModelIdentity;
  base: { text: string; name: string; digest: Digest | undefined };
  /** The time written into the image (ISO 8601). */
  created: string;
  labels: Record<string, string>;
  source: SourceInfo;
  pruned: boolean;
  /** Bytes of every distinct blob (configs and layers of every platform). */
  size: number;
  timings: { baseMs: number; layersMs: number; totalMs: number };
  /** What the layers were made of, for writing an equivalent Docker build context. */
  sources: { app: AppParts; modelDir: string; arches: ('x64' | 'arm64')[] };
}

function defaultVersion(digest: Digest): string {
  return digestHex(digest).slice(0, 12);
}

async function bundleDir(dir: string): Promise<string> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw notABundle(dir, 'it does not exist');
  }
  if (stat.isFile() && isBundleArchive(dir)) return unpackBundle(dir);
  if (!stat.isDirectory()) throw notABundle(dir, 'a bare file (the server needs a bundle directory)');
  if (!fs.existsSync(path.join(dir, BUNDLE_FILES.model)))
    throw notABundle(dir, `it has no ${BUNDLE_FILES.model}`);
  return path.resolve(dir);
}

function summary(role: LayerRole, layer: Layer, uncompressed: number | null): LayerSummary {
  const built = layer as Partial<BuiltLayer>;
  return {
    role,
    mediaType: layer.descriptor.mediaType,
    digest: layer.descriptor.digest,
    diffId: layer.diffId,
    size: layer.descriptor.size,
    uncompressedSize: uncompressed,
    ...(built.reused === undefined ? {} : { reused: built.reused }),
  };
}

interface OwnLayers {
  /** By Node.js architecture, or under `all` when ONNX Runtime is not pruned. */
  dependencies: Map<string, BuiltLayer>;
  server: BuiltLayer;
  model: BuiltLayer;
}

/** ledge's three layers: dependencies per architecture (one when not pruned), server, model. */
async function buildOwnLayers(
  app: AppParts,
  modelDir: string,
  arches: readonly ('x64' | 'arm64')[],
  prune: boolean,
  store: BlobStore,
  progress: Progress,
): Promise<OwnLayers> {
  progress.start('building layers', (prune ? arches.length : 1) + 2, 'layers');
  const dependencies = new Map<string, BuiltLayer>();
  for (const arch of prune ? arches : ['all' as const]) {
    const files = dependencyFiles(app, { arches: arch === 'all' ? undefined : [arch] });
    dependencies.set(
      arch,
      await buildLayer(files, { store, annotations: { [Label.title]: 'dependencies' } }),
    );
    progress.advance(1);
  }
  const server = await buildLayer(serverFiles(app), { store, annotations: { [Label.title]: 'server' } });
  progress.advance(1);
  const model = await buildLayer(filesFromDirectory(modelDir, { to: MODEL_DIR }), {
    store,
    compression: 'none',
    annotations: { [Label.title]: 'model' },
  });
  progress.advance(1);
  progress.stop();
  return { dependencies, server, model };
}

/** One platform's image (base + ledge's layers + config) and its layer summary. */
async function assemble(
  platform: Platform,
  base: BaseImage,
  layers: { dependencies: BuiltLayer; server: BuiltLayer; model: BuiltLayer; dependenciesNote: string },
  spec: {
    model: ModelIdentity;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    created: number;
    format: ImageFormat | undefined;
  },
  store: BlobStore,
): Promise<PlatformBuild> {
  const { model, labels } = spec;
  const image = buildImage({
    base: base.image,
    ...(base.reference ? { baseName: base.reference } : {}),
    layers: [
      {
        layer: layers.dependencies,
        createdBy: `ledge build: runtime dependencies (${layers.dependenciesNote})`,
      },
      { layer: layers.server, createdBy: 'ledge build: model server' },
      { layer: layers.model, createdBy: `ledge build: model ${model.name} version ${model.version}` },
    ],
    config: imageConfig(model, labels),
    created: spec.created,
    annotations: spec.annotations,
    ...(spec.format ? { format: spec.format } : {}),
  });
  const summaries: LayerSummary[] = [];
  for (const layer of base.image.layers)
    summaries.push(summary('base', layer, await uncompressedSize(layer, store)));
  summaries.push(summary('dependencies', layers.dependencies, layers.dependencies.uncompressedSize));
  summaries.push(summary('server', layers.server, layers.server.uncompressedSize));
  summaries.push(summary('model', layers.model, layers.model.uncompressedSize));
  const unpacked = summaries.map((layer) => layer.uncompressedSize);
  return {
    platform: formatPlatform(platform),
    image,
    digest: image.digest,
    base: { name: base.name, digest: base.image.digest },
    layers: summaries,
    size: image.manifest.config.size + summaries.reduce((sum, layer) => sum + layer.size, 0),
    uncompressedSize: unpacked.some((n) => n === null)
      ? null
      : unpacked.reduce<number>((sum, n) => sum + n!, 0),
  };
}

/** Bytes of every distinct blob (configs and layers) of the builds. */
function distinctBytes(builds: readonly PlatformBuild[]): number {
  const blobs = new Map<string, number>();
  for (const b of builds) {
    blobs.set(b.image.manifest.config.digest, b.image.manifest.config.size);
    for (const layer of b.layers) blobs.set(layer.digest, layer.size);
  }
  return [...blobs.values()].reduce((sum, n) => sum + n, 0);
}

export async function buildModelImage(options: BuildModelImageOptions): Promise<ModelImageBuild> {
  const started = performance.now();
  const progress = options.progress ?? silentProgress;
  const cwd = options.cwd ?? process.cwd();
  const store = typeof options.cache === 'string' ? new BlobStore(options.cache) : options.cache;
  const platforms = parseBuildPlatforms(options.platforms ?? defaultBuildPlatform());
  const baseSpec = parseBase(options.base ?? DEFAULT_BASE_IMAGE, cwd);
  const prune = options.pruneOnnxRuntime ?? true;
  const modelDir = await bundleDir(path.resolve(cwd, options.model.dir));
  const app = appParts(options.appRoot ?? installedAppRoot());
  const detected = options.source ? undefined : sourceInfo(cwd);
  const source: SourceInfo = options.source ?? {
    commit: detected?.commit,
    dirty: detected?.dirty,
    url: detected?.url,
  };
  const createdSeconds = options.created ?? buildTime(options.env ?? process.env, detected?.commitTime);
  const created = isoTime(createdSeconds);

  // Base images first: a wrong reference fails before any layer is built.
  progress.start('pulling the base image', platforms.length, 'platforms');
  const loader = baseLoader(baseSpec, { cache: store, registry: options.registry });
  const bases: BaseImage[] = [];
  for (const platform of platforms) {
    bases.push(await loader.load(platform));
    progress.advance(1);
  }
  progress.stop();
  const baseMs = performance.now() - started;

  const layerStart = performance.now();
  const arches = platforms.map(nodeArch);
  const own = await buildOwnLayers(app, modelDir, arches, prune, store, progress);

  const digest = options.model.digest ?? own.model.diffId;
  const model: ModelIdentity = {
    name: options.model.name,
    version: options.model.version ?? defaultVersion(digest),
    digest,
  };
  const labels = imageLabels(model, source, created, options.labels);
  const annotations: Record<string, string> = {};
  for (const key of [Label.title, Label.version, Label.revision, Label.created, Label.source]) {
    if (labels[key] !== undefined) annotations[key] = labels[key];
  }
  const spec = { model, labels, annotations, created: createdSeconds, format: options.format };
  const builds: PlatformBuild[] = [];
  for (const [i, platform] of platforms.entries()) {
    const arch = arches[i]!;
    const layers = {
      dependencies: own.dependencies.get(prune ? arch : 'all')!,
      dependenciesNote: prune ? `ONNX Runtime for linux/${arch}` : 'all platforms',
      server: own.server,
      model: own.model,
    };
    builds.push(await assemble(platform, bases[i]!, layers, spec, store));
  }
  const index =
    builds.length > 1
      ? buildIndex(
          builds.map((b) => b.image),
          { annotations, ...(options.format ? { format: options.format } : {}) },
        )
      : undefined;
  const subject = index ?? builds[0]!.image;
  const end = performance.now();
  return {
    subject,
    digest: subject.digest,
    image: index ? undefined : builds[0]!.image,
    index,
    platforms: builds,
    model,
    base: { text: baseSpec.text, name: bases[0]!.name, digest: bases[0]!.topDigest },
    created,
    labels,
    source,
    pruned: prune,
    size: distinctBytes(builds),
    timings: { baseMs, layersMs: end - layerStart, totalMs: end - started },
    sources: { app, modelDir, arches },
  };
}
