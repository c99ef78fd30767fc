/** The few git queries ledge needs, through the git CLI. */
import { execFileSync, spawn } from 'node:child_process';
import { LedgeError } from './errors.js';

function git(cwd: string, args: string[]): string {
  try {
    return execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 30,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new LedgeError(
      'git',
      `git ${args[0]} failed in ${cwd}: ${stderr.split('\n')[0] || String(error)}`,
      {
        cause: error,
      },
    );
  }
}

/** Whether `dir` is inside a git work tree. */
export function isGitRepo(dir: string): boolean {
  try {
    return git(dir, ['rev-parse', '--is-inside-work-tree']).trim() === 'true';
  } catch {
    return false;
  }
}

/** Blob ids of every file ending in `suffix` in any commit reachable from any ref. */
export function blobsInHistory(dir: string, suffix: string): string[] {
  const out = git(dir, ['rev-list', '--all', '--objects']);
  const blobs = new Set<string>();
  for (const line of out.split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0 && line.endsWith(suffix)) blobs.add(line.slice(0, space));
  }
  return [...blobs];
}

/** Reads many blobs with one `git cat-file --batch`. */
export function readBlobs(dir: string, ids: string[]): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['cat-file', '--batch'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new LedgeError('git', `git cat-file failed in ${dir} (exit ${code})`));
        return;
      }
      const data = Buffer.concat(chunks);
      const blobs = new Map<string, string>();
      let offset = 0;
      while (offset < data.length) {
        const newline = data.indexOf(10, offset);
        const header = data.subarray(offset, newline).toString('utf8').split(' ');
        offset = newline + 1;
        if (header[1] === 'missing') continue;
        const size = Number(header[2]);
        blobs.set(header[0]!, data.subarray(offset, offset + size).toString('utf8'));
        offset += size + 1;
      }
      resolve(blobs);
    });
    child.stdin.end(ids.map((id) => `${id}\n`).join(''));
  });
}

/** The commit id a revision (`HEAD`, `main~2`, a tag…) names; a LedgeError when it names none. */
export function resolveCommit(dir: string, rev: string): string {
  try {
    return git(dir, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`]).trim();
  } catch (error) {
    if (!isGitRepo(dir)) {
      throw new LedgeError('git', `${dir} is not in a git repository`, {
        hint: 'run `git init` and commit, then compare with a commit',
        cause: error,
      });
    }
    throw new LedgeError('git', `unknown git revision '${rev}'`, {
      hint: 'give a commit, branch or tag (see `git log`); a new repository needs a first commit',
      cause: error,
    });
  }
}

/**
 * The text of the file `relPath` (relative to `dir`) at a commit, or undefined when the commit
 * has no such file. Resolve user-given revisions with `resolveCommit` first.
 */
export function showFile(dir: string, commit: string, relPath: string): string | undefined {
  try {
    return git(dir, ['cat-file', 'blob', `${commit}:./${relPath}`]);
  } catch {
    return undefined;
  }
}

/** The checked-out commit and whether tracked files differ from it; undefined outside git. */
export function gitState(dir: string): { commit: string | undefined; dirty: boolean } | undefined {
  if (!isGitRepo(dir)) return undefined;
  let commit: string | undefined;
  try {
    commit = git(dir, ['rev-parse', '--verify', '-q', 'HEAD']).trim() || undefined;
  } catch {
    commit = undefined; // a repository without commits yet
  }
  const dirty = git(dir, ['status', '--porcelain', '--untracked-files=no']).trim() !== '';
  return { commit, dirty };
}
