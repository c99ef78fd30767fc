/**
 * The single-file form of a model bundle: an uncompressed tar of the bundle's files (the ONNX
 * weights barely compress, and devices unpack it faster), byte-for-byte reproducible: entries
 * sorted, mtime 0, no owner, time or device fields (tar's portable mode), no directories. Opening an archive
 * unpacks it once into a directory named after the archive's digest.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { tempPathIn } from '../../core/atomic-fs.js';
import { LedgeError } from '../../core/errors.js';
import { BUNDLE_FILES } from './bundle-format.js';

export const BUNDLE_ARCHIVE_SUFFIX = '.ledgemodel';

/** Whether `file` looks like a bundle archive (by name: `.ledgemodel` or `.tar`). */
export function isBundleArchive(file: string): boolean {
  return file.endsWith(BUNDLE_ARCHIVE_SUFFIX) || file.endsWith('.tar');
}

/** Writes the bundle directory `dir` as one reproducible archive file (atomically). */
export async function packBundle(dir: string, file: string): Promise<void> {
  if (!fs.existsSync(path.join(dir, BUNDLE_FILES.model))) {
    throw new LedgeError('path-not-found', `${dir} is not a model bundle (no ${BUNDLE_FILES.model})`);
  }
  const names = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort();
  const temp = tempPathIn(path.dirname(path.resolve(file)));
  try {
    await tar.c(
      {
        cwd: dir,
        file: temp,
        portable: true,
        noMtime: true,
        mtime: new Date(0),
        noDirRecurse: true,
      } as tar.TarOptionsWithAliasesAsyncFile,
      names,
    );
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * The bundle directory of an archive: unpacked on first use under `cacheDir` (default: the OS
 * temp directory), in a directory named after the archive's sha256, reused afterwards.
 */
export async function unpackBundle(
  file: string,
  cacheDir = path.join(os.tmpdir(), 'ledge-bundles'),
): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new LedgeError(
      'path-not-found',
      `cannot read the model archive ${file}: ${(error as Error).message}`,
    );
  }
  const hex = createHash('sha256').update(bytes).digest('hex');
  const dir = path.join(cacheDir, hex.slice(0, 16));
  if (fs.existsSync(path.join(dir, BUNDLE_FILES.model))) return dir;
  fs.mkdirSync(cacheDir, { recursive: true });
  const staging = tempPathIn(cacheDir);
  fs.mkdirSync(staging);
  try {
    await tar.x({ file, cwd: staging, strict: true, preservePaths: false, noChmod: true });
    if (!fs.existsSync(path.join(staging, BUNDLE_FILES.model))) {
      throw new LedgeError(
        'invalid-model',
        `${file} is not a model bundle archive (no ${BUNDLE_FILES.model} inside)`,
        {
          hint: 'make one with `ledge model pack <bundle-dir>`',
        },
      );
    }
    try {
      fs.renameSync(staging, dir);
    } catch (error) {
      // Another process unpacked the same archive first: use its copy.
      if (!fs.existsSync(path.join(dir, BUNDLE_FILES.model))) throw error;
      fs.rmSync(staging, { recursive: true, force: true });
    }
    return dir;
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (error instanceof LedgeError) throw error;
    throw new LedgeError(
      'invalid-model',
      `${file} is not a readable model bundle archive: ${(error as Error).message}`,
      {
        hint: 'make one with `ledge model pack <bundle-dir>`',
      },
    );
  }
}
