/**
 * Finds the pointer files of a workspace (or below given paths) and resolves what a user
 * typed (`data`, `data/`, `data.ledge`) to the tracked path it means.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LedgeError } from '../core/errors.js';
import { dataPathFor, type Pointer, pointerPathFor, readPointer } from './pointer-file.js';
import { LEDGE_DIR, POINTER_SUFFIX, type Workspace } from './workspace.js';

/** A tracked path and its pointer file, both workspace-relative. */
export interface Tracked {
  path: string;
  pointerPath: string;
  pointer: Pointer;
}

const SKIP_DIRS = new Set([LEDGE_DIR, '.git', 'node_modules']);

/** Pointer files below `relDir` ('' for the whole workspace), skipping tracked data itself. */
export function findPointerFiles(ws: Workspace, relDir = ''): string[] {
  const found: string[] = [];
  const visit = (rel: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(ws.absolutePath(rel || '.'), { withFileTypes: true });
    } catch {
      return;
    }
    const names = new Set(entries.map((e) => e.name));
    for (const entry of entries) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (SKIP_DIRS.has(entry.name)) continue;
        if (names.has(entry.name + POINTER_SUFFIX)) continue; // tracked data: no pointers inside
        visit(childRel);
      } else if (entry.name.endsWith(POINTER_SUFFIX) && entry.name !== POINTER_SUFFIX) {
        found.push(childRel);
      }
    }
  };
  visit(relDir);
  return found.sort();
}

export function loadTracked(ws: Workspace, pointerPath: string): Tracked {
  const pointer = readPointer(ws.absolutePath(pointerPath), pointerPath);
  if (!pointer) {
    throw new LedgeError('path-not-tracked', `${pointerPath} does not exist`, {
      hint: 'run ledge add first',
    });
  }
  const dataPath = dataPathFor(pointerPath);
  const expectedName = dataPath.slice(dataPath.lastIndexOf('/') + 1);
  if (pointer.path !== expectedName) {
    throw new LedgeError(
      'corrupt-pointer',
      `${pointerPath}: path '${pointer.path}' does not match the file name`,
      {
        hint: `a pointer file must be named <path>.ledge; rename it to ${pointer.path}.ledge or fix its path`,
      },
    );
  }
  return { path: dataPath, pointerPath, pointer };
}

/**
 * Resolves user arguments to tracked paths. No arguments means every pointer in the
 * workspace. An argument may name the data, its pointer file, or a directory holding
 * pointer files.
 */
export function resolveTracked(ws: Workspace, args: string[], cwd = process.cwd()): Tracked[] {
  if (args.length === 0) return findPointerFiles(ws).map((p) => loadTracked(ws, p));
  const result = new Map<string, Tracked>();
  for (const arg of args) {
    const rel = ws.relativePath(arg.replace(/[\\/]+$/, ''), cwd);
    const pointerPath = rel.endsWith(POINTER_SUFFIX) ? rel : pointerPathFor(rel);
    if (fs.existsSync(ws.absolutePath(pointerPath))) {
      result.set(pointerPath, loadTracked(ws, pointerPath));
      continue;
    }
    const abs = path.resolve(cwd, arg);
    if (fs.existsSync(abs) && fs.statSync(abs).isDirectory()) {
      const below = findPointerFiles(ws, rel);
      if (below.length > 0) {
        for (const p of below) result.set(p, loadTracked(ws, p));
        continue;
      }
    }
    throw new LedgeError('path-not-tracked', `'${arg}' is not tracked by ledge (no ${pointerPath})`, {
      hint: `run \`ledge add ${arg}\` to track it`,
    });
  }
  return [...result.values()];
}

/** The tracked path that contains `rel`, if `rel` lies inside tracked data. */
export function enclosingTracked(ws: Workspace, rel: string): string | undefined {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const candidate = parts.slice(0, i).join('/');
    if (fs.existsSync(ws.absolutePath(pointerPathFor(candidate)))) return candidate;
  }
  return undefined;
}
