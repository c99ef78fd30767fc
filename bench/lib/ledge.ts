/**
 * Running the ledge CLI in benchmarks: a private snapshot of the build, so a rebuild in the
 * checkout while a benchmark runs cannot change what is measured, and the environment every
 * timed command gets.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sh } from './exec.js';

/**
 * Copies the ledge build of `bin` (bin/, dist/src/, package.json; node_modules linked) into
 * `work`/ledge; returns the copy of `bin`. Throws when the build is missing.
 */
export function snapshotLedge(bin: string, work: string): string {
  const root = path.dirname(path.dirname(bin));
  const main = path.join(root, 'dist', 'src', 'cli', 'main.js');
  if (!fs.existsSync(bin) || !fs.existsSync(main)) {
    throw new Error(`${path.relative(process.cwd(), main) || main} is missing: run \`npm run build\` first`);
  }
  const snap = path.join(work, 'ledge');
  fs.mkdirSync(path.join(snap, 'dist'), { recursive: true });
  fs.cpSync(path.join(root, 'bin'), path.join(snap, 'bin'), { recursive: true });
  fs.cpSync(path.join(root, 'dist', 'src'), path.join(snap, 'dist', 'src'), { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(snap, 'package.json'));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(snap, 'node_modules'), 'dir');
  const copy = path.join(snap, 'bin', path.basename(bin));
  sh([process.execPath, copy, '--version']);
  return copy;
}

/**
 * The environment for timed commands: the inherited one without LEDGE_* overrides, CI=true (no
 * progress bars, as in a log), a git identity, plus `extra`.
 */
export function benchEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LEDGE_')) env[k] = v;
  return {
    ...env,
    CI: 'true',
    GIT_AUTHOR_NAME: 'ledge bench',
    GIT_AUTHOR_EMAIL: 'bench@example.invalid',
    GIT_COMMITTER_NAME: 'ledge bench',
    GIT_COMMITTER_EMAIL: 'bench@example.invalid',
    ...extra,
  };
}
