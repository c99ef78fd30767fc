/**
 * The git CLI as the control plane calls it: asynchronous (a fetch must not block the server),
 * never prompting for credentials, and failing with git's own first line of complaint.
 */
import { execFile } from 'node:child_process';

export class GitCommandError extends Error {
  constructor(
    readonly args: string[],
    /** git's first line on stderr (`fatal: couldn't find remote ref nope`), or the spawn error. */
    readonly detail: string,
    readonly exitCode: number | null,
    readonly stderr = '',
  ) {
    super(`git ${args[0]} failed: ${detail}`);
    this.name = 'GitCommandError';
  }
}

export interface GitOptions {
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

/** Runs `git args…` in `cwd`; resolves with its stdout. */
export function git(cwd: string, args: string[], options: GitOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      {
        cwd,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        signal: options.signal,
        // A fetch from a server must fail, not wait for a password nobody will type.
        env: { ...(options.env ?? process.env), GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
      },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const lines = String(stderr)
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean);
        const detail = lines.find((l) => /^(fatal|error):/.test(l)) ?? lines[0] ?? error.message;
        const code = typeof error.code === 'number' ? error.code : null;
        reject(new GitCommandError(args, detail, code, String(stderr)));
      },
    );
  });
}

/** Whether the command exits 0 (for yes/no questions such as `merge-base --is-ancestor`). */
export async function gitSucceeds(cwd: string, args: string[], options: GitOptions = {}): Promise<boolean> {
  try {
    await git(cwd, args, options);
    return true;
  } catch (error) {
    if (error instanceof GitCommandError && error.exitCode !== null) return false;
    throw error;
  }
}

/** The commit a revision names, or undefined when there is none (`rev-parse --verify`). */
export async function resolveRevision(cwd: string, rev: string): Promise<string | undefined> {
  try {
    return (await git(cwd, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The remote-tracking ref a watched remote branch is fetched into. */
export function remoteTrackingRef(remote: string, branch: string): string {
  return `refs/remotes/${remote}/${branch}`;
}

/** `git fetch <remote> <branch>` into its remote-tracking ref (not FETCH_HEAD, which other fetches share). */
export async function fetchBranch(
  cwd: string,
  remote: string,
  branch: string,
  options: GitOptions = {},
): Promise<string | undefined> {
  await git(
    cwd,
    ['fetch', '--quiet', '--no-tags', remote, `+refs/heads/${branch}:${remoteTrackingRef(remote, branch)}`],
    options,
  );
  return resolveRevision(cwd, remoteTrackingRef(remote, branch));
}
