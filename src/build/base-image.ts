/**
 * The base image of a build: any registry reference (default: the official Node.js slim
 * image), pulled through the distribution API with its layers cached in a `BlobStore`, or
 * `oci:<dir>[:tag]`, an OCI image layout on disk. For each target platform the base must have
 * an image of that platform; its errors name the base and say how to choose another.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../core/digest.js';
import { isLedgeError, type LedgeError } from '../core/errors.js';
import {
  type BlobStore,
  formatPlatform,
  formatReference,
  type Image,
  type ImageIndex,
  isImageError,
  type Platform,
  parseReference,
  platformMatches,
  platformOf,
  pullImage,
  RegistryClient,
  type RegistryOptions,
  readLayout,
} from '../image/index.js';
import { MANIFEST_ACCEPT } from '../image/media-types.js';
import { BuildError, badBaseImage } from './build-errors.js';
import { HOST_BASE, hostBaseImage } from './host-base.js';

/** This machine's ONNX Runtime binaries (their shared libraries go into a host base). */
function onnxRuntimeBinaries(): string[] {
  try {
    const require = createRequire(import.meta.url);
    const root = path.dirname(require.resolve('onnxruntime-node/package.json'));
    const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
    const bin = path.join(root, 'bin');
    return fs
      .readdirSync(bin)
      .filter((napi) => napi.startsWith('napi-v'))
      .flatMap((napi) => {
        const dir = path.join(bin, napi, 'linux', arch);
        return fs.existsSync(dir) ? fs.readdirSync(dir).map((file) => path.join(dir, file)) : [];
      });
  } catch {
    return [];
  }
}

/** What `ledge build` builds on when not told otherwise. */
export const DEFAULT_BASE_IMAGE = 'docker.io/library/node:20-slim';

export type BaseSpec =
  | { kind: 'registry'; text: string; reference: string }
  | { kind: 'layout'; text: string; dir: string; tag?: string | undefined }
  | { kind: 'host'; text: string };

/** `node:20-slim`, `registry/repo:tag@sha256:…`, `oci:DIR[:TAG]`, or `host` (this machine's Node.js). */
export function parseBase(text: string, cwd = process.cwd()): BaseSpec {
  if (text === HOST_BASE) return { kind: 'host', text };
  if (text.startsWith('oci:')) {
    const rest = text.slice(4);
    const colon = rest.lastIndexOf(':');
    const slash = rest.lastIndexOf('/');
    const [dir, tag] =
      colon > slash && colon > 0 ? [rest.slice(0, colon), rest.slice(colon + 1)] : [rest, undefined];
    if (!dir) throw badBaseImage(text, 'no layout directory', 'write it as oci:DIR or oci:DIR:TAG');
    return { kind: 'layout', text, dir: path.resolve(cwd, dir), tag: tag || undefined };
  }
  try {
    return { kind: 'registry', text, reference: formatReference(parseReference(text)) };
  } catch (error) {
    throw wrap(text, error);
  }
}

export interface BaseImage {
  /** The platform's image. */
  image: Image;
  /** As given (`node:20-slim`, `oci:/path:tag`). */
  text: string;
  /** Its canonical name, for people. */
  name: string;
  /** The name recorded as org.opencontainers.image.base.name: a registry reference, never a local path. */
  reference: string | undefined;
  /** What the name pointed at when pulled: an index or the image itself, when known. */
  topDigest: Digest | undefined;
}

export interface BaseLoader {
  load(platform: Platform): Promise<BaseImage>;
}

/** Opens a base once for several platforms (one registry client, its tokens reused). */
export function baseLoader(
  spec: BaseSpec,
  options: { cache: BlobStore; registry?: RegistryOptions | undefined },
): BaseLoader {
  if (spec.kind === 'host') {
    return {
      async load(platform) {
        const image = await hostBaseImage(platform, {
          cache: options.cache,
          nativeBinaries: onnxRuntimeBinaries(),
        });
        return { image, text: spec.text, name: 'host', reference: undefined, topDigest: image.digest };
      },
    };
  }
  if (spec.kind === 'layout') {
    let layout: Promise<Image | ImageIndex> | undefined;
    return {
      async load(platform) {
        let subject: Image | ImageIndex;
        try {
          layout ??= readLayout(spec.dir, spec.tag === undefined ? {} : { tag: spec.tag });
          subject = await layout;
        } catch (error) {
          throw wrap(spec.text, error);
        }
        const images = subject.kind === 'image' ? [subject] : subject.images;
        const image = images.find((candidate) => platformMatches(platformOf(candidate), platform));
        if (!image) throw wrongPlatform(spec.text, platform, images);
        return { image, text: spec.text, name: spec.text, reference: undefined, topDigest: subject.digest };
      },
    };
  }
  const reference = parseReference(spec.reference);
  const client = new RegistryClient(reference.registry, options.registry ?? {});
  let top: Promise<Digest | undefined> | undefined;
  return {
    async load(platform) {
      let image: Image;
      try {
        image = await pullImage(reference, { platform, cache: options.cache, client });
      } catch (error) {
        throw wrap(spec.text, error);
      }
      // A single-platform base is whatever it is: it must be the platform asked for.
      if (!platformMatches(platformOf(image), platform)) throw wrongPlatform(spec.text, platform, [image]);
      try {
        // Fetch the layers now (into the cache, verified): outputs then need no network.
        for (const layer of image.layers) await pipeline(await layer.open(), discard());
      } catch (error) {
        throw wrap(spec.text, error);
      }
      top ??= topDigest(client, reference.repository, reference.tag ?? reference.digest!, reference.digest);
      const name = formatReference({ ...reference, digest: undefined } as typeof reference);
      return { image, text: spec.text, name, reference: name, topDigest: await top };
    },
  };
}

/** The digest a tag names now (an index for multi-platform bases), from the registry's answer. */
async function topDigest(
  client: RegistryClient,
  repository: string,
  ref: string,
  known: Digest | undefined,
): Promise<Digest | undefined> {
  if (known) return known;
  try {
    const response = await client.request(repository, ['pull'], {
      method: 'HEAD',
      path: `/v2/${repository}/manifests/${ref}`,
      headers: { accept: MANIFEST_ACCEPT },
      what: `${client.registry}/${repository}:${ref}`,
    });
    await response.body?.cancel();
    const digest = response.headers.get('docker-content-digest');
    return digest?.startsWith('sha256:') ? (digest as Digest) : undefined;
  } catch {
    return undefined;
  }
}

function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

function wrongPlatform(text: string, platform: Platform, images: readonly Image[]): BuildError {
  const has = images.map((image) => formatPlatform(platformOf(image))).join(', ');
  return badBaseImage(
    text,
    `has no ${formatPlatform(platform)} image (it has ${has || 'none'})`,
    'choose a base with an image for every --platform (a multi-platform index such as node:20-slim)',
  );
}

/** A base image's error, named as such; the original's code (and so exit status) is kept. */
function wrap(text: string, error: unknown): unknown {
  if (!isLedgeError(error)) return error;
  const original = error as LedgeError;
  const suggest =
    isImageError(original, 'not-found') ||
    isImageError(original, 'platform-not-found') ||
    isImageError(original, 'malformed-json') ||
    isImageError(original, 'unsupported-media-type') ||
    isImageError(original, 'bad-reference') ||
    original.code === 'path-not-found' ||
    original.code === 'usage';
  const hint = [original.hint, suggest ? 'or choose another base image with --base' : undefined]
    .filter(Boolean)
    .join(', ');
  const message = original.message.includes(text) ? original.message : `${text}: ${original.message}`;
  return new BuildError('base-image', original.code, `base image ${message}`, {
    ...(hint ? { hint } : {}),
    cause: error,
    retryable: original.retryable,
  });
}
