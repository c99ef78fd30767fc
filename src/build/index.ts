/**
 * `ledge build` as a library: a model bundle → an OCI image (or a multi-platform index) of a
 * Node.js base, the runtime's dependencies (ONNX Runtime pruned to the platform), the model
 * server, and the model as the last layer; then written to a layout, a tarball or a registry,
 * or emitted as an equivalent Dockerfile build context.
 *
 *     const build = await buildModelImage({
 *       model: { dir: 'models/imdb', name: 'imdb-sentiment', version: '3', digest },
 *       platforms: 'linux/amd64,linux/arm64',
 *       base: 'docker.io/library/node:20-slim',
 *       cache: '.ledge/cache/images',
 *     });
 *     await pushModelImage('registry.example.com/ledge/imdb:3', build, { credentials });
 *     await writeModelImage('oci:out/imdb', build, { tag: 'ledge/imdb:3' });
 *
 * Pure pieces (platforms, labels and config, the Dockerfile's text, the import graph parser)
 * are separate from the I/O (base pulls, layer files, outputs).
 */
import type { Image, ImageIndex, PushOptions } from '../image/index.js';
import { parseReference } from '../image/index.js';
import type { ModelImageBuild } from './build-model-image.js';
import { type OutputResult, parseOutput, pushOutput, pushReference, writeOutput } from './outputs.js';

export {
  APP_DIR,
  appParts,
  dependencyFiles,
  installedAppRoot,
  SERVER_ENTRY,
  serverFiles,
} from './app-files.js';
export { DEFAULT_BASE_IMAGE, parseBase } from './base-image.js';
export { BuildError, type BuildErrorReason, isBuildError } from './build-errors.js';
export {
  type BuildModelImageOptions,
  buildModelImage,
  type LayerRole,
  type LayerSummary,
  type ModelImageBuild,
  type ModelSource,
  type PlatformBuild,
} from './build-model-image.js';
export { buildRecord, type RegistryLink } from './build-record.js';
export { dependencyClosure, type InstalledPackage } from './dependency-closure.js';
export {
  checkDockerContext,
  type DockerContextOptions,
  type DockerContextResult,
  pinnedBase,
  writeDockerContext,
} from './docker-context.js';
export { composeText, dockerfileText } from './dockerfile.js';
export {
  CONTAINER_PORT,
  CONTAINER_USER,
  HEALTHCHECK,
  imageConfig,
  imageLabels,
  Label,
  MODEL_DIR,
  type ModelIdentity,
  SERVER_COMMAND,
  type SourceInfo,
} from './image-spec.js';
export { importSpecifiers, type ModuleGraph, moduleGraph, packageOf } from './module-graph.js';
export {
  checkOutputWritable,
  displayName,
  type OutputResult,
  type OutputSpec,
  parseOutput,
  pushReference,
} from './outputs.js';
export {
  defaultBuildPlatform,
  keepOnnxRuntimeFile,
  nodeArch,
  parseBuildPlatforms,
  SUPPORTED_PLATFORMS,
} from './platforms.js';
export { buildTime, sourceInfo } from './source-info.js';

/** The build's default image name: `ledge/<model>:<version>`. */
export function defaultTag(build: Pick<ModelImageBuild, 'model'>): string {
  const repository =
    build.model.name
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, '-')
      .replace(/^[^a-z0-9]+/, '') || 'model';
  const tag = build.model.version.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 128) || 'latest';
  return `ledge/${repository}:${tag}`;
}

/** Writes a build to `oci:DIR` or `tar:FILE` (one platform), tagged `tag` (default `ledge/<model>:<version>`). */
export async function writeModelImage(
  output: string,
  build: ModelImageBuild,
  options: { tag?: string; cwd?: string } = {},
): Promise<OutputResult> {
  return writeOutput(
    parseOutput(output, options.cwd),
    build.subject,
    parseReference(options.tag ?? defaultTag(build)),
  );
}

/** Pushes a build's image or index; a reference without a tag gets the build's. */
export async function pushModelImage(
  reference: string,
  build: ModelImageBuild,
  options: PushOptions & { tag?: string } = {},
): Promise<OutputResult> {
  const ref = pushReference(reference, parseReference(options.tag ?? defaultTag(build)));
  return pushOutput(ref, build.subject as Image | ImageIndex, options);
}
