/**
 * Pointer files: the small YAML file `<path>.ledge` committed to git in place of the data.
 *
 *     version: 1
 *     path: reviews          # the tracked file or directory, next to this file
 *     type: dir              # file | dir
 *     digest: sha256:…       # of the file, or of the directory's manifest object
 *     size: 33264128         # bytes of data (all files for a directory)
 *     files: 25000           # directories only
 */
import fs from 'node:fs';
import { stringify } from 'yaml';
import { z } from 'zod';
import { writeFileAtomicSync } from '../core/atomic-fs.js';
import type { Digest } from '../core/digest.js';
import { isErrno, LedgeError } from '../core/errors.js';
import { parseYamlWith } from '../core/yaml-schema.js';
import { POINTER_SUFFIX } from './workspace.js';

const pointerSchema = z
  .object({
    version: z.literal(1),
    path: z
      .string()
      .min(1)
      .refine((p) => !p.includes('/') && p !== '.' && p !== '..', 'must be a plain file or directory name'),
    type: z.enum(['file', 'dir']),
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 lowercase hex digits>'),
    size: z.number().int().nonnegative(),
    files: z.number().int().nonnegative().optional(),
  })
  .strict();

export interface Pointer {
  version: 1;
  path: string;
  type: 'file' | 'dir';
  digest: Digest;
  size: number;
  files?: number | undefined;
}

const HEADER =
  '# Tracked by ledge: commit this file. The data is in the ledge cache;\n' +
  '# `ledge pull` fetches it from a remote, `ledge checkout` restores it.\n';

export function pointerPathFor(dataPath: string): string {
  return dataPath + POINTER_SUFFIX;
}

export function dataPathFor(pointerPath: string): string {
  return pointerPath.slice(0, -POINTER_SUFFIX.length);
}

export function parsePointer(text: string, shownAs: string): Pointer {
  const parsed = parseYamlWith({ text, file: shownAs }, pointerSchema, {
    code: 'corrupt-pointer',
    hint: `restore it from git (git checkout -- ${shownAs}) or re-run ledge add`,
  });
  return parsed as Pointer;
}

/** Reads a pointer file; undefined when it does not exist. */
export function readPointer(absPath: string, shownAs: string): Pointer | undefined {
  let text: string;
  try {
    text = fs.readFileSync(absPath, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    if (isErrno(error, 'EISDIR')) {
      throw new LedgeError('corrupt-pointer', `${shownAs} is a directory, not a pointer file`, {
        hint: 'rename it; names ending in .ledge are reserved for pointer files',
      });
    }
    throw error;
  }
  return parsePointer(text, shownAs);
}

export function serializePointer(pointer: Pointer): string {
  const body: Record<string, unknown> = {
    version: 1,
    path: pointer.path,
    type: pointer.type,
    digest: pointer.digest,
    size: pointer.size,
  };
  if (pointer.type === 'dir') body.files = pointer.files ?? 0;
  return HEADER + stringify(body);
}

export function writePointer(absPath: string, pointer: Pointer): void {
  writeFileAtomicSync(absPath, serializePointer(pointer));
}
