/**
 * `ledge build --dockerfile DIR`: a Docker build context equivalent to the image ledge built
 * (the same files, modes and config), with its Dockerfile and docker-compose.yml:
 *
 *     DIR/Dockerfile  DIR/docker-compose.yml  DIR/.ledge-build.json
 *     DIR/dependencies/node_modules/…   DIR/server/dist/…, package.json   DIR/model/…
 *
 * Written into a temporary directory beside DIR and renamed into place; an earlier context
 * written by ledge is replaced, any other directory refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempPathIn } from '../core/atomic-fs.js';
import { isErrno, isLedgeError } from '../core/errors.js';
import {
  filesFromDirectory,
  formatReference,
  imagePath,
  type LayerFile,
  parseReference,
} from '../image/index.js';
import { APP_DIR, dependencyFiles, serverFiles } from './app-files.js';
import { BuildError, contextExists, outputUnwritable } from './build-errors.js';
import type { ModelImageBuild } from './build-model-image.js';
import { composeText, dockerfileText } from './dockerfile.js';
import { HOST_BASE } from './host-base.js';
import { CONTAINER_PORT, CONTAINER_USER, containerEnv, MODEL_DIR } from './image-spec.js';

const MARKER = '.ledge-build.json';

export interface DockerContextOptions {
  /** The image name for compose's `image:` (e.g. `ledge/imdb-sentiment:3`). */
  tag: string;
  /** `FROM` (default: the base by digest, as the build pulled it). */
  from?: string;
}

export interface DockerContextResult {
  dir: string;
  dockerfile: string;
  compose: string;
  from: string;
  files: number;
  bytes: number;
}

/** The base pinned by digest: its index (multi-platform) when known, else the platform's image. */
export function pinnedBase(build: ModelImageBuild): string {
  const digest = build.base.digest ?? build.platforms[0]!.base.digest;
  if (build.base.text.startsWith('oci:')) return build.base.text;
  if (build.base.text === HOST_BASE) {
    throw new BuildError(
      'bad-output',
      'usage',
      "the host base (this machine's Node.js) has no name a Dockerfile can start FROM",
      { hint: 'emit the Dockerfile from a registry base: --base node:20-slim (or any registry image)' },
    );
  }
  const { registry, repository } = parseReference(build.base.name);
  return formatReference({ registry, repository, digest });
}

function materialize(
  root: string,
  sub: string,
  strip: string,
  files: readonly LayerFile[],
): { files: number; bytes: number } {
  let count = 0;
  let bytes = 0;
  const prefix = imagePath(strip);
  for (const file of files) {
    const rel = imagePath(file.path);
    const inside =
      rel === prefix ? '' : rel.startsWith(`${prefix}/`) ? rel.slice(prefix.length + 1) : undefined;
    if (inside === undefined) throw new Error(`${file.path} is not below ${strip}`);
    const target = path.join(root, sub, ...inside.split('/'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (file.type === 'directory') {
      fs.mkdirSync(target, { recursive: true });
      fs.chmodSync(target, file.mode ?? 0o755);
      continue;
    }
    if (file.type === 'symlink') {
      fs.symlinkSync(file.target!, target);
      continue;
    }
    if (file.content !== undefined) fs.writeFileSync(target, file.content);
    else fs.copyFileSync(file.source!, target);
    const executable = file.source !== undefined && (fs.statSync(file.source).mode & 0o111) !== 0;
    fs.chmodSync(target, file.mode ?? (executable ? 0o755 : 0o644));
    count++;
    bytes += fs.statSync(target).size;
  }
  return { files: count, bytes };
}

/** Refuses a context directory that exists and was not written by ledge (checked before a build). */
export function checkDockerContext(dir: string): void {
  const target = path.resolve(dir);
  if (!fs.existsSync(target)) return;
  const entries = fs.statSync(target).isDirectory() ? fs.readdirSync(target) : undefined;
  if (!entries) throw outputUnwritable(`--dockerfile ${dir}`, `${target} is not a directory`);
  if (entries.length > 0 && !entries.includes(MARKER)) throw contextExists(target);
}

export async function writeDockerContext(
  dir: string,
  build: ModelImageBuild,
  options: DockerContextOptions,
): Promise<DockerContextResult> {
  const target = path.resolve(dir);
  checkDockerContext(target);
  const parent = path.dirname(target);
  let temp: string | undefined;
  try {
    fs.mkdirSync(parent, { recursive: true });
    temp = tempPathIn(parent);
    fs.mkdirSync(temp);
    const { app, modelDir, arches } = build.sources;
    const parts = [
      materialize(
        temp,
        'dependencies',
        APP_DIR,
        dependencyFiles(app, { arches: build.pruned ? arches : undefined }),
      ),
      materialize(temp, 'server', APP_DIR, serverFiles(app)),
      materialize(temp, 'model', MODEL_DIR, filesFromDirectory(modelDir, { to: MODEL_DIR })),
    ];
    fs.mkdirSync(path.join(temp, 'model'), { recursive: true });
    const from = options.from ?? pinnedBase(build);
    const dockerfile = dockerfileText({
      from,
      env: containerEnv(build.model),
      labels: build.labels,
      workingDir: APP_DIR,
      user: CONTAINER_USER,
      port: CONTAINER_PORT,
      builtDigest: build.digest,
      platforms: build.platforms.map((p) => p.platform),
    });
    const compose = composeText({
      service: build.model.name,
      image: options.tag,
      port: CONTAINER_PORT,
      labels: build.labels,
    });
    fs.writeFileSync(path.join(temp, 'Dockerfile'), dockerfile);
    fs.writeFileSync(path.join(temp, 'docker-compose.yml'), compose);
    fs.writeFileSync(
      path.join(temp, MARKER),
      `${JSON.stringify({ digest: build.digest, model: build.model, tag: options.tag, from }, null, 2)}\n`,
    );
    // Swap into place: the old context (ours) goes aside first, and is removed after.
    let aside: string | undefined;
    if (fs.existsSync(target)) {
      aside = tempPathIn(parent);
      fs.renameSync(target, aside);
    }
    fs.renameSync(temp, target);
    temp = undefined;
    if (aside) fs.rmSync(aside, { recursive: true, force: true });
    return {
      dir: target,
      dockerfile: path.join(target, 'Dockerfile'),
      compose: path.join(target, 'docker-compose.yml'),
      from,
      files: parts.reduce((sum, p) => sum + p.files, 0),
      bytes: parts.reduce((sum, p) => sum + p.bytes, 0),
    };
  } catch (error) {
    if (temp) fs.rmSync(temp, { recursive: true, force: true });
    if (!isLedgeError(error) && isErrno(error)) throw outputUnwritable(`--dockerfile ${dir}`, error.message);
    throw error;
  }
}
