/**
 * The production dependency closure of a set of npm packages, as installed: each package is
 * found the way Node.js finds it (`node_modules` of the requiring package, then of every
 * directory above), and its `dependencies` (plus installed `optionalDependencies` and
 * `peerDependencies`) are followed in turn. devDependencies are never followed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { missingPackage, packageClash } from './build-errors.js';

export interface InstalledPackage {
  name: string;
  version: string;
  /** Absolute directory of the installed package. */
  dir: string;
  /** Where it goes below the app directory in the image: `node_modules/tar`, `node_modules/a/node_modules/b`. */
  imagePath: string;
}

interface Manifest {
  name?: unknown;
  version?: unknown;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function readManifest(dir: string): Manifest | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/** The directory Node.js would load package `name` from when `fromDir` requires it. */
export function resolvePackageDir(name: string, fromDir: string): string | undefined {
  let dir = path.resolve(fromDir);
  for (;;) {
    if (path.basename(dir) !== 'node_modules') {
      const candidate = path.join(dir, 'node_modules', name);
      if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Where an installed package lives relative to the `node_modules` that serves `appRoot`: the
 * app's own, or one above it (a hoisting install), so the image keeps npm's layout. `dir` is a
 * real path; a `node_modules` that is a symlink (a linked checkout, pnpm) is matched by its real
 * path too. A package found nowhere below them goes to `node_modules/<name>`.
 */
export function imagePathOf(dir: string, appRoot: string, name: string = path.basename(dir)): string {
  let base = path.resolve(appRoot);
  for (;;) {
    const modules = path.join(base, 'node_modules');
    for (const candidate of [modules, realPathOrSelf(modules)]) {
      const prefix = candidate + path.sep;
      if (dir.startsWith(prefix)) return `node_modules/${dir.slice(prefix.length).split(path.sep).join('/')}`;
    }
    const parent = path.dirname(base);
    if (parent === base) return `node_modules/${name}`;
    base = parent;
  }
}

function realPathOrSelf(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}

/** Every package `roots` need at run time, found from `appRoot`, sorted by image path. */
export function dependencyClosure(roots: readonly string[], appRoot: string): InstalledPackage[] {
  const root = fs.realpathSync(appRoot);
  const byDir = new Map<string, InstalledPackage>();
  const pending: { name: string; from: string; wantedBy: string; optional: boolean }[] = roots.map(
    (name) => ({
      name,
      from: root,
      wantedBy: 'the model server',
      optional: false,
    }),
  );
  while (pending.length > 0) {
    const { name, from, wantedBy, optional } = pending.shift()!;
    const dir = resolvePackageDir(name, from);
    if (!dir) {
      if (optional) continue;
      throw missingPackage(name, wantedBy, root);
    }
    if (byDir.has(dir)) continue;
    const manifest = readManifest(dir) ?? {};
    const found: InstalledPackage = {
      name,
      version: typeof manifest.version === 'string' ? manifest.version : '0.0.0',
      dir,
      imagePath: imagePathOf(dir, root, name),
    };
    byDir.set(dir, found);
    const label = `${name}@${found.version}`;
    for (const dep of Object.keys(manifest.dependencies ?? {})) {
      pending.push({ name: dep, from: dir, wantedBy: label, optional: false });
    }
    for (const dep of [
      ...Object.keys(manifest.optionalDependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]) {
      pending.push({ name: dep, from: dir, wantedBy: label, optional: true });
    }
  }
  const byImagePath = new Map<string, InstalledPackage>();
  for (const pkg of byDir.values()) {
    const other = byImagePath.get(pkg.imagePath);
    if (other) throw packageClash(pkg.imagePath, other.dir, pkg.dir);
    byImagePath.set(pkg.imagePath, pkg);
  }
  return [...byImagePath.values()].sort((a, b) =>
    a.imagePath < b.imagePath ? -1 : a.imagePath > b.imagePath ? 1 : 0,
  );
}
