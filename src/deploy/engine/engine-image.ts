/**
 * Which image an engine target runs, and what ledge knows of it before the engine pulls it.
 *
 * - A model reference maps to `<image>:<tag>` (the target's repository, the tag from its
 *   template: `{version}` by default); `ledge deploy <image-ref>` names an image directly.
 * - `resolveImage` reads the image's manifest and config from the registry with ledge's own
 *   client (the same code `ledge build --push` uses): the manifest digest the container is
 *   pinned to (`repository@sha256:…`, so a tag moved meanwhile cannot change what runs), the
 *   blob sizes the pull's byte count is made of, the labels naming the model, and the
 *   image's health check (passed explicitly at create: Podman ignores the image's own).
 */
import type { Image } from '../../image/image.js';
import { pullImage } from '../../image/registry/pull.js';
import { parseReference } from '../../image/registry/reference.js';
import type { EngineTargetConfig } from '../deploy-config.js';
import { DeployError } from '../deploy-errors.js';
import type { ModelToDeploy } from '../target.js';
import type { HealthConfig } from './engine-api.js';
import type { RegistryAuth } from './engine-client.js';
import type { BlobSize } from './pull-progress.js';

/** Image labels naming the model an image serves (written by `ledge build`). */
export const MODEL_LABELS = {
  name: 'ai.ledge.model.name',
  version: 'ai.ledge.model.version',
  digest: 'ai.ledge.model.digest',
} as const;

/** What an image's labels say of its model (OCI title/version when ledge's labels are missing). */
export function modelFromLabels(labels: Record<string, string> | null | undefined): {
  name: string | undefined;
  version: string | undefined;
  digest: string | undefined;
} {
  const l = labels ?? {};
  return {
    name: l[MODEL_LABELS.name] ?? l['org.opencontainers.image.title'],
    version: l[MODEL_LABELS.version] ?? l['org.opencontainers.image.version'],
    digest: l[MODEL_LABELS.digest],
  };
}

/** Whether `text` reads as an image reference with a registry (`host[:port]/repo[:tag|@digest]`). */
export function looksLikeImageReference(text: string): boolean {
  if (!text.includes('/')) return false;
  const first = text.split('/')[0]!;
  const host =
    /^(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|[A-Za-z0-9.-]+:\d+|\[[0-9A-Fa-f:]+\](?::\d+)?)$/;
  if (!host.test(first)) return false;
  try {
    parseReference(text);
    return true;
  } catch {
    return false;
  }
}

/** The image reference a deployment runs: the model's own image, or the target's repository and tag. */
export function imageFor(target: string, config: EngineTargetConfig, model: ModelToDeploy): string {
  if (model.image) return model.image;
  if (!config.image) {
    throw new DeployError(
      'not-supported',
      `target '${target}' has no image repository to deploy ${model.name}@${model.version} from`,
      {
        hint: `set image: (e.g. registry.local:5000/ledge/${model.name}) for the target in .ledge/deploy.yaml, or deploy an image reference (\`ledge deploy REGISTRY/REPO:TAG --target ${target}\`)`,
      },
    );
  }
  const tag = config.tag.replaceAll('{name}', model.name).replaceAll('{version}', model.version);
  return `${config.image}:${tag}`;
}

export interface ResolvedImage {
  /** As named: `registry.local:5000/ledge/imdb:3`. */
  reference: string;
  /** `registry.local:5000/ledge/imdb`: what the engine pulls from. */
  repository: string;
  /** The manifest's digest. */
  digest: string;
  /** `repository@digest`: what the container runs. */
  pinned: string;
  manifestSize: number;
  config: BlobSize;
  layers: BlobSize[];
  labels: Record<string, string>;
  healthcheck: HealthConfig | undefined;
}

function resolvedFrom(reference: string, repository: string, image: Image): ResolvedImage {
  const health = image.config.config?.Healthcheck;
  return {
    reference,
    repository,
    digest: image.digest,
    pinned: `${repository}@${image.digest}`,
    manifestSize: image.rawManifest.length,
    config: { digest: image.manifest.config.digest, size: image.manifest.config.size },
    layers: image.manifest.layers.map((layer) => ({ digest: layer.digest, size: layer.size })),
    labels: { ...(image.config.config?.Labels ?? {}) },
    healthcheck: health?.Test && health.Test.length > 0 ? (health as HealthConfig) : undefined,
  };
}

/** Reads the image's manifest (for `platform`, from an index) and config from its registry. */
export async function resolveImage(
  reference: string,
  options: { platform: string; auth?: RegistryAuth | undefined },
): Promise<ResolvedImage> {
  const ref = parseReference(reference);
  const image = await pullImage(ref, {
    platform: options.platform,
    credentials: options.auth
      ? { username: options.auth.username, password: options.auth.password }
      : undefined,
  });
  return resolvedFrom(reference, `${ref.registry}/${ref.repository}`, image);
}
