/**
 * Where a build comes from (the git commit, whether the tree was dirty, the repository URL)
 * and the one time written into the image: `SOURCE_DATE_EPOCH` when set, else the commit's
 * time, else the epoch — never the clock, so the same inputs give the same digest.
 */
import { execFileSync } from 'node:child_process';
import { gitState } from '../core/git.js';
import { sourceDateEpoch } from '../image/index.js';
import { publicSourceUrl, type SourceInfo } from './image-spec.js';

function git(dir: string, args: string[]): string | undefined {
  try {
    const out = execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The git state of `dir`: commit, dirty, and origin's URL without credentials. */
export function sourceInfo(dir: string): SourceInfo & { commitTime?: number } {
  const state = gitState(dir);
  if (!state?.commit) return {};
  const time = git(dir, ['log', '-1', '--format=%ct', state.commit]);
  const info: SourceInfo & { commitTime?: number } = { commit: state.commit, dirty: state.dirty };
  if (time && /^\d+$/.test(time)) info.commitTime = Number(time);
  const url = publicSourceUrl(git(dir, ['config', '--get', 'remote.origin.url']));
  if (url) info.url = url;
  return info;
}

/** The image's creation time, in seconds since the epoch. */
export function buildTime(env: NodeJS.ProcessEnv, commitTime: number | undefined): number {
  if (env.SOURCE_DATE_EPOCH !== undefined && env.SOURCE_DATE_EPOCH !== '') return sourceDateEpoch(env);
  return commitTime ?? 0;
}
