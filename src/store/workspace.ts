/**
 * A ledge workspace: the directory holding `.ledge/`, usually a git repository's top level.
 * Resolves user paths against it and hands out the places where ledge keeps its state.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../core/atomic-fs.js';
import { LedgeError } from '../core/errors.js';
import { acquireLock, type Lock, readHolder } from '../core/lock.js';
import { processesWithEnv, stopProcessGroups } from '../core/process-groups.js';

/** Set by `ledge run` for its stages: the PID holding the workspace lock they may share. */
export const LOCK_HOLDER_ENV = 'LEDGE_LOCK_HOLDER';
/** …and the workspace it works in (`ledge run` sets both for its stages). */
export const WORKSPACE_ENV = 'LEDGE_WORKSPACE';

import {
  type LedgeConfig,
  type ResolvedConfig,
  readConfigFile,
  resolveConfig,
  writeConfigFile,
} from './config.js';

export const LEDGE_DIR = '.ledge';
export const POINTER_SUFFIX = '.ledge';

/** Everything under `.ledge/` except the committed config is ignored by git. */
const LEDGE_GITIGNORE = `# Written by ledge init. Only config.yaml is meant to be committed.
/cache/
/state/
/tmp/
/lock
/lock.*
/config.local.yaml
`;

export class Workspace {
  readonly root: string;
  readonly ledgeDir: string;
  private resolved: ResolvedConfig | undefined;

  private constructor(root: string) {
    this.root = root;
    this.ledgeDir = path.join(root, LEDGE_DIR);
  }

  /** Finds the workspace containing `start` (default: the current directory). */
  static find(start: string = process.cwd()): Workspace {
    let dir = path.resolve(start);
    for (;;) {
      if (fs.existsSync(path.join(dir, LEDGE_DIR, 'config.yaml'))) return new Workspace(dir);
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
    throw new LedgeError('not-a-workspace', `no ledge workspace at ${path.resolve(start)} or any parent`, {
      hint: 'run `ledge init` in the project root first',
    });
  }

  /** Creates `.ledge/` in `dir` (idempotent) and returns the workspace. */
  static init(dir: string): { workspace: Workspace; created: boolean } {
    const root = path.resolve(dir);
    const ws = new Workspace(root);
    const configPath = path.join(ws.ledgeDir, 'config.yaml');
    const created = !fs.existsSync(configPath);
    fs.mkdirSync(ws.ledgeDir, { recursive: true });
    const gitignore = path.join(ws.ledgeDir, '.gitignore');
    if (!fs.existsSync(gitignore)) writeFileAtomicSync(gitignore, LEDGE_GITIGNORE);
    if (created) writeConfigFile(configPath, { core: {} });
    fs.mkdirSync(ws.cacheDir, { recursive: true });
    fs.mkdirSync(ws.stateDir, { recursive: true });
    return { workspace: ws, created };
  }

  get configPath(): string {
    return path.join(this.ledgeDir, 'config.yaml');
  }

  get localConfigPath(): string {
    return path.join(this.ledgeDir, 'config.local.yaml');
  }

  get config(): ResolvedConfig {
    this.resolved ??= resolveConfig(
      readConfigFile(this.configPath, '.ledge/config.yaml'),
      readConfigFile(this.localConfigPath, '.ledge/config.local.yaml'),
    );
    return this.resolved;
  }

  /** Reads, changes and writes one of the two config files, then forgets the resolved view. */
  updateConfig(which: 'shared' | 'local', change: (config: LedgeConfig) => void): void {
    const file = which === 'shared' ? this.configPath : this.localConfigPath;
    const config = readConfigFile(file, path.relative(this.root, file));
    change(config);
    writeConfigFile(file, config);
    this.resolved = undefined;
  }

  get cacheDir(): string {
    const configured = this.config.cacheDir;
    return configured ? path.resolve(this.root, configured) : path.join(this.ledgeDir, 'cache');
  }

  get stateDir(): string {
    return path.join(this.ledgeDir, 'state');
  }

  get lockPath(): string {
    return path.join(this.ledgeDir, 'lock');
  }

  /**
   * Resolves a user-supplied path (relative to `cwd`) to a workspace-relative POSIX path,
   * refusing paths outside the workspace or inside `.ledge/`.
   */
  relativePath(userPath: string, cwd: string = process.cwd()): string {
    const absolute = path.resolve(cwd, userPath);
    const rel = path.relative(this.root, absolute);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      const what = rel === '' ? 'the workspace root itself' : 'outside the workspace';
      throw new LedgeError('path-outside-workspace', `'${userPath}' is ${what} (${this.root})`, {
        hint: 'give a file or directory inside the workspace',
      });
    }
    const posix = rel.split(path.sep).join('/');
    if (posix === LEDGE_DIR || posix.startsWith(`${LEDGE_DIR}/`)) {
      throw new LedgeError(
        'path-inside-ledge',
        `'${userPath}' is inside ${LEDGE_DIR}/, which ledge manages itself`,
        {
          hint: 'track data outside .ledge/',
        },
      );
    }
    return posix;
  }

  absolutePath(relative: string): string {
    return path.join(this.root, ...relative.split('/'));
  }

  /**
   * Takes the workspace lock for a command that changes state, waiting up to the configured
   * lock timeout (or `timeoutSeconds`: Infinity waits as long as the holder lives).
   */
  async lock(command: string, onWait?: (message: string) => void, timeoutSeconds?: number): Promise<Lock> {
    // A process started by the lock's holder on its behalf (a `ledge run` stage calling
    // `ledge model register`) works under the holder's lock instead of waiting for it forever.
    const holder = Number(process.env[LOCK_HOLDER_ENV]);
    if (holder > 0 && readHolder(this.lockPath)?.pid === holder) return { path: this.lockPath, release() {} };
    return acquireLock(this.lockPath, {
      command,
      timeoutMs: (timeoutSeconds ?? this.config.lockTimeoutSeconds) * 1000,
      onWait: (holder) =>
        onWait?.(
          `waiting for the workspace lock held by PID ${holder.pid} (${holder.command}, since ${holder.since})`,
        ),
      // A holder killed outright (SIGKILL) could not stop what it started on its behalf (a
      // `ledge run`'s stages): stop those before this command works, so that two runs never
      // write the same outputs.
      onStale: async (holder) => {
        const left = processesWithEnv({
          [LOCK_HOLDER_ENV]: String(holder.pid),
          [WORKSPACE_ENV]: this.root,
        });
        if (left.length === 0) return;
        const groups = await stopProcessGroups(left.map((p) => p.pgid));
        onWait?.(
          `stopped ${groups === 1 ? 'a process group' : `${groups} process groups`} left running by PID ${holder.pid} (${holder.command}), which died holding the workspace lock`,
        );
      },
    });
  }
}
