/**
 * Image references as Docker spells them: `[registry/]repository[:tag][@sha256:…]`, with
 * Docker Hub's defaults (`node:20` is `docker.io/library/node:20`, served by
 * `registry-1.docker.io`).
 */
import { type Digest, isDigest } from '../../core/digest.js';
import { ImageError } from '../image-errors.js';

export interface ImageReference {
  /** The registry as written (`docker.io`, `127.0.0.1:5000`, `ghcr.io`). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}

const DOCKER_HUB = 'docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

function bad(text: string, problem: string): ImageError {
  return new ImageError('bad-reference', 'usage', `'${text}' is not an image reference (${problem})`, {
    hint: 'write it as [registry/]repository[:tag][@sha256:…], e.g. 127.0.0.1:5000/ledge/app:1',
  });
}

export function parseReference(text: string): ImageReference {
  let rest = text.trim();
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    const candidate = rest.slice(at + 1);
    if (!isDigest(candidate)) throw bad(text, `'${candidate}' is not a sha256 digest`);
    digest = candidate;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(text, `'${tag}' is not a valid tag`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((part) => !COMPONENT.test(part))) {
    throw bad(text, 'repository names are lowercase letters, digits and . _ - separated by /');
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const reference: ImageReference = { registry, repository: parts.join('/') };
  if (tag === undefined && digest === undefined) tag = 'latest';
  if (tag !== undefined) reference.tag = tag;
  if (digest !== undefined) reference.digest = digest;
  return reference;
}

export function formatReference(reference: ImageReference): string {
  let text = `${reference.registry}/${reference.repository}`;
  if (reference.tag) text += `:${reference.tag}`;
  if (reference.digest) text += `@${reference.digest}`;
  return text;
}

/** The host actually serving the API (Docker Hub's API lives at registry-1.docker.io). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
}

/** Whether plain HTTP is the default for this registry (loopback only). */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.split(':')[0]!;
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
