/**
 * Where a built image goes: `oci:DIR` (an OCI image layout), `tar:FILE` (an archive for
 * `docker load` / `podman load`, one platform), or a registry (`--push REF`). Output paths are
 * checked before the build starts, so a typo does not cost a build; writing is atomic (the
 * image library writes beside the target and renames).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Digest } from '../core/digest.js';
import {
  formatReference,
  type Image,
  type ImageIndex,
  type ImageReference,
  type PushOptions,
  parseReference,
  push,
  writeLayout,
  writeTarball,
} from '../image/index.js';
import { badOutput, outputUnwritable } from './build-errors.js';

export type OutputSpec =
  | { kind: 'oci'; text: string; path: string }
  | { kind: 'tar'; text: string; path: string };

export interface OutputResult {
  kind: 'oci' | 'tar' | 'push';
  /** The directory, file, or pushed reference (`registry/repo:tag`). */
  location: string;
  /** What was written: the image's or index's digest. */
  digest: Digest;
  /** Bytes written (layout, tarball) or uploaded (push). */
  bytes: number;
  /** Pushes: blobs the registry lacked, and blobs it had already. */
  uploaded?: number;
  skipped?: number;
}

export function parseOutput(text: string, cwd = process.cwd()): OutputSpec {
  const match = /^(oci|tar):(.+)$/.exec(text);
  if (!match) throw badOutput(text, 'unknown kind of output');
  const kind = match[1] as 'oci' | 'tar';
  return { kind, text, path: path.resolve(cwd, match[2]!) };
}

/** Refuses an output that cannot be written, before anything is built. */
export function checkOutputWritable(spec: OutputSpec): void {
  const what = `the output ${spec.text}`;
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(spec.path);
  } catch {
    stat = undefined;
  }
  if (stat) {
    if (spec.kind === 'tar' && stat.isDirectory())
      throw outputUnwritable(what, `${spec.path} is a directory`);
    if (spec.kind === 'oci' && !stat.isDirectory())
      throw outputUnwritable(what, `${spec.path} is not a directory`);
  }
  // The nearest existing ancestor must be a directory we may write into.
  let dir = path.dirname(spec.path);
  for (;;) {
    let found: fs.Stats | undefined;
    try {
      found = fs.statSync(dir);
    } catch {
      found = undefined;
    }
    if (found) {
      if (!found.isDirectory()) throw outputUnwritable(what, `${dir} is not a directory`);
      try {
        fs.accessSync(dir, fs.constants.W_OK);
      } catch {
        throw outputUnwritable(what, `${dir} is not writable`);
      }
      return;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/** `ledge/imdb:3` as docker and podman list it (no `docker.io/` for Docker Hub names). */
export function displayName(reference: ImageReference): string {
  const repository =
    reference.registry === 'docker.io'
      ? reference.repository.replace(/^library\//, '')
      : `${reference.registry}/${reference.repository}`;
  return `${repository}:${reference.tag ?? 'latest'}`;
}

export async function writeOutput(
  spec: OutputSpec,
  subject: Image | ImageIndex,
  tag: ImageReference,
): Promise<OutputResult> {
  if (spec.kind === 'oci') {
    const result = await writeLayout(spec.path, subject, { tag: tag.tag ?? 'latest' });
    return { kind: 'oci', location: result.dir, digest: result.digest, bytes: result.bytes };
  }
  if (subject.kind === 'index') {
    throw badOutput(spec.text, `a tarball holds one platform, and this build has ${subject.images.length}`);
  }
  const result = await writeTarball(spec.path, subject, { tag: displayName(tag) });
  return { kind: 'tar', location: result.file, digest: result.digest, bytes: result.bytes };
}

/** A push reference, with the build's tag when it names none (`registry/repo` → `registry/repo:3`). */
export function pushReference(text: string, tag: ImageReference): ImageReference {
  const reference = parseReference(text);
  const named = text.split('@')[0]!;
  const hasTag = named.lastIndexOf(':') > named.lastIndexOf('/');
  if (!hasTag && !reference.digest) return { ...reference, tag: tag.tag ?? 'latest' };
  return reference;
}

export async function pushOutput(
  reference: ImageReference,
  subject: Image | ImageIndex,
  options: PushOptions,
): Promise<OutputResult> {
  const result = await push(reference, subject, options);
  return {
    kind: 'push',
    location: formatReference(reference),
    digest: result.digest,
    bytes: result.bytesUploaded,
    uploaded: result.uploaded.length,
    skipped: result.skipped.length,
  };
}
