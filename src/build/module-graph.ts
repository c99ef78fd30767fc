/**
 * The model server's import graph, read from the compiled JavaScript: starting at the
 * container entrypoint, every relative module it imports (statically, or dynamically with a
 * string literal, or as a worker by `new URL('./worker.js', import.meta.url)`), and the npm
 * packages named along the way. Only these files go into
 * the server layer, and only these packages (with their dependencies) into the dependencies
 * layer: the CLI, the trainer and database drivers stay out because nothing here imports them.
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { missingServerCode } from './build-errors.js';

const STATIC_IMPORT = /^\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/gm;
const SIDE_EFFECT_IMPORT = /^\s*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
/** A module loaded by URL, as worker threads are: `new Worker(new URL('./worker.js', import.meta.url))`. */
const URL_REFERENCE = /\bnew\s+URL\s*\(\s*['"](\.{1,2}\/[^'"]+\.js)['"]\s*,\s*import\.meta\.url\s*\)/g;
const BUILTINS = new Set(builtinModules);

/**
 * The module specifiers a compiled ES module imports. Static imports are read where tsc writes
 * them (at the start of a line); dynamic imports of a string literal anywhere but in
 * comment lines (`//`, `/*`, ` *`), where documentation often shows examples.
 */
export function importSpecifiers(source: string): string[] {
  const found = new Set<string>();
  for (const pattern of [STATIC_IMPORT, SIDE_EFFECT_IMPORT]) {
    for (const match of source.matchAll(pattern)) found.add(match[1]!);
  }
  for (const line of source.split('\n')) {
    const trimmed = line.trimStart();
    if (trimmed.startsWith('//') || trimmed.startsWith('*') || trimmed.startsWith('/*')) continue;
    for (const match of line.matchAll(DYNAMIC_IMPORT)) found.add(match[1]!);
    for (const match of line.matchAll(URL_REFERENCE)) found.add(match[1]!);
  }
  return [...found];
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`; a builtin or relative path → undefined. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:'))
    return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return BUILTINS.has(name) ? undefined : name;
}

export interface ModuleGraph {
  /** Absolute paths of the compiled modules the entry needs (itself included), sorted. */
  files: string[];
  /** npm packages those modules import, sorted. */
  packages: string[];
}

/** Walks the import graph from `entry` (a compiled .js file); modules must stay below `root`. */
export function moduleGraph(entry: string, root: string): ModuleGraph {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [path.resolve(entry)];
  const top = path.resolve(root);
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    let source: string;
    try {
      source = fs.readFileSync(file, 'utf8');
    } catch {
      throw missingServerCode(file);
    }
    files.add(file);
    for (const specifier of importSpecifiers(source)) {
      if (specifier.startsWith('./') || specifier.startsWith('../')) {
        const target = path.resolve(path.dirname(file), specifier);
        if (!target.startsWith(top + path.sep)) throw missingServerCode(target);
        pending.push(target);
        continue;
      }
      const name = packageOf(specifier);
      if (name) packages.add(name);
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}
