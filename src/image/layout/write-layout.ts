/**
 * Writing an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`), all or
 * nothing: everything goes into a temporary directory beside the target, is flushed to
 * disk, and is renamed into place. A failure at any point (a full disk, a blob failing its
 * digest check) removes the temporary directory, and an existing layout at the target is
 * left as it was.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fsyncDirectory, syncFilesystem, tempPathIn } from '../../core/atomic-fs.js';
import { type Digest, digestHex } from '../../core/digest.js';
import { LedgeError } from '../../core/errors.js';
import { blobsOf, canonicalJson, descriptorOf, type Image, type ImageIndex } from '../image.js';
import { ImageError, writeFailed } from '../image-errors.js';
import { MediaType } from '../media-types.js';
import { OCI_LAYOUT_FILE, REF_NAME_ANNOTATION } from '../oci-spec.js';

export interface LayoutIo {
  /** Opens a file for writing (tests inject failures here when they cannot mount a tiny disk). */
  createWriteStream(file: string): Writable;
}

export interface WriteLayoutOptions {
  /** The name recorded as `org.opencontainers.image.ref.name` (`umoci … --image DIR:TAG`). */
  tag?: string;
  /** Replace an existing layout at the target (default true). Other directories are never replaced. */
  replace?: boolean;
  io?: LayoutIo;
}

export interface LayoutResult {
  dir: string;
  digest: Digest;
  blobs: number;
  bytes: number;
}

const defaultIo: LayoutIo = { createWriteStream: (file) => fs.createWriteStream(file, { flags: 'wx' }) };

function isLayout(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'oci-layout')) && fs.existsSync(path.join(dir, 'index.json'));
}

export async function writeLayout(
  dir: string,
  subject: Image | ImageIndex,
  options: WriteLayoutOptions = {},
): Promise<LayoutResult> {
  const target = path.resolve(dir);
  const io = options.io ?? defaultIo;
  const exists = fs.existsSync(target);
  if (exists) {
    const empty = fs.statSync(target).isDirectory() && fs.readdirSync(target).length === 0;
    if (!empty && !isLayout(target)) {
      throw new LedgeError('usage', `${target} exists and is not an OCI image layout`, {
        hint: 'choose another directory, or remove it first',
      });
    }
    if (!empty && options.replace === false) {
      throw new LedgeError('usage', `${target} already holds an image layout`, { hint: 'remove it first' });
    }
  }
  const parent = path.dirname(target);
  let temp: string | undefined;
  try {
    fs.mkdirSync(parent, { recursive: true });
    temp = tempPathIn(parent);
    const blobDir = path.join(temp, 'blobs', 'sha256');
    fs.mkdirSync(blobDir, { recursive: true });
    let bytes = 0;
    const blobs = blobsOf(subject, { manifests: true });
    for (const blob of blobs) {
      await pipeline(
        await blob.open(),
        io.createWriteStream(path.join(blobDir, digestHex(blob.descriptor.digest))),
      );
      bytes += blob.descriptor.size;
    }
    const annotations = options.tag ? { annotations: { [REF_NAME_ANNOTATION]: options.tag } } : {};
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [descriptorOf(subject, annotations)],
    };
    await writeSmall(io, path.join(temp, 'oci-layout'), canonicalJson(OCI_LAYOUT_FILE));
    await writeSmall(io, path.join(temp, 'index.json'), canonicalJson(index));
    if (!syncFilesystem(temp)) {
      for (const blob of blobs) fsyncPath(path.join(blobDir, digestHex(blob.descriptor.digest)));
      fsyncPath(path.join(temp, 'oci-layout'));
      fsyncPath(path.join(temp, 'index.json'));
    }
    fsyncDirectory(blobDir);
    fsyncDirectory(temp);
    swapIntoPlace(temp, target);
    temp = undefined;
    fsyncDirectory(parent);
    return { dir: target, digest: subject.digest, blobs: blobs.length, bytes };
  } catch (error) {
    if (temp) fs.rmSync(temp, { recursive: true, force: true });
    if (error instanceof ImageError || error instanceof LedgeError) throw error;
    throw writeFailed(target, error);
  }
}

async function writeSmall(io: LayoutIo, file: string, data: Buffer): Promise<void> {
  await pipeline(Readable.from([data]), io.createWriteStream(file));
}

function fsyncPath(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Renames `temp` to `target`; an existing target is moved aside first and removed after. */
function swapIntoPlace(temp: string, target: string): void {
  if (!fs.existsSync(target)) {
    fs.renameSync(temp, target);
    return;
  }
  const old = tempPathIn(path.dirname(target));
  fs.renameSync(target, old);
  try {
    fs.renameSync(temp, target);
  } catch (error) {
    fs.renameSync(old, target);
    throw error;
  }
  fs.rmSync(old, { recursive: true, force: true });
}
