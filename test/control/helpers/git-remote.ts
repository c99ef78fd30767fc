/**
 * A control workspace with a real bare `origin` (git CLI, temp dirs) and a second clone that
 * pushes to it, as a developer's machine does.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir, writeTree } from '../../helpers/temp-dir.js';
import { controlWorkspace } from './control-workspace.js';

export function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

export interface PushSetup {
  /** The server's workspace, a clone of `bare` on main. */
  root: string;
  bare: string;
  /** Another clone: commit and push there. */
  dev: string;
}

/** `controlWorkspace(files)` pushed to a new bare repository, and a second clone of it. */
export function workspaceWithOrigin(t: TestContext, files: Record<string, string> = {}): PushSetup {
  const root = controlWorkspace(t, files);
  const bare = path.join(tempDir(t, 'ledge-origin-'), 'origin.git');
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  gitIn(root, 'remote', 'add', 'origin', bare);
  gitIn(root, 'push', '-q', '-u', 'origin', 'main');
  const dev = path.join(tempDir(t, 'ledge-dev-'), 'clone');
  execFileSync('git', ['clone', '-q', bare, dev]);
  gitIn(dev, 'config', 'user.email', 'dev@example.com');
  gitIn(dev, 'config', 'user.name', 'Dev');
  return { root, bare, dev };
}

/** Writes files in a clone, commits and pushes them; returns the new commit. */
export function pushCommit(clone: string, files: Record<string, string>, message: string): string {
  writeTree(clone, files);
  gitIn(clone, 'add', '-A');
  gitIn(clone, 'commit', '-q', '-m', message);
  gitIn(clone, 'push', '-q', 'origin', 'HEAD');
  return gitIn(clone, 'rev-parse', 'HEAD');
}

export function read(root: string, rel: string): string {
  return fs.readFileSync(path.join(root, rel), 'utf8');
}
