/**
 * Brings the workspace to a pushed commit before its run, without ever losing an edit:
 *
 *  1. HEAD must be on the pushed branch (a detached HEAD or another branch: refused);
 *  2. tracked files must be unmodified, except what ledge itself writes (`ledge.lock`, stage
 *     outputs and metrics files, the `/output` lines it adds to a `.gitignore`), which the run
 *     writes again and the cache holds;
 *  3. a commit that HEAD already contains just runs;
 *  4. otherwise `git fetch <remote> <branch>` (unless the commit is here already), then
 *     `git merge --ff-only <commit>`; a HEAD that is not an ancestor of it has diverged: refused,
 *     the workspace untouched;
 *  5. `afterMove` (the caller's `ledge checkout`) once HEAD moved.
 *
 * Refusals are one line for the run's record.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PIPELINE_FILE, parsePipeline } from '../../pipeline/pipeline-file.js';
import { fetchBranch, GitCommandError, git, gitSucceeds, resolveRevision } from './git-command.js';

export interface PushedCommitCheckoutOptions {
  root: string;
  remote: string;
  branch: string;
  /** The pushed commit; undefined: the branch's tip on the remote. */
  commit: string | undefined;
  /** Aborts a fetch in progress (a cancelled run). */
  signal?: AbortSignal | undefined;
  /** A line for the run's log. */
  note(line: string): void;
  /** Called once HEAD moved (`ledge checkout`); throws with a one-line message on failure. */
  afterMove(): Promise<void>;
  /** Called once, just before the first change to the workspace's files. */
  beforeMove?(): void;
}

export type PushedCommitCheckout =
  | { ok: true; commit: string; previous: string; moved: boolean }
  | { ok: false; reason: string };

const short = (sha: string) => sha.slice(0, 12);

function listOf(paths: string[]): string {
  return `${paths.slice(0, 3).join(', ')}${paths.length > 3 ? ` and ${paths.length - 3} more` : ''}`;
}

/** Whether a workspace path is one that ledge writes (the lock file, stage outputs, metrics). */
export function ledgeWrittenPaths(root: string): (rel: string) => boolean {
  const written = ['ledge.lock'];
  try {
    const pipeline = parsePipeline(fs.readFileSync(path.join(root, PIPELINE_FILE), 'utf8'), PIPELINE_FILE);
    for (const stage of pipeline.stages) written.push(...stage.outs, ...stage.metrics);
  } catch {
    // No readable pipeline: only the lock file.
  }
  const bases = written.map((p) => p.replace(/\/+$/, ''));
  return (rel) => bases.some((base) => rel === base || rel.startsWith(`${base}/`));
}

/**
 * Whether a changed `.gitignore` only gained the `/name` lines ledge adds for the outputs it
 * writes (a first run of a new stage does that); any other change is the user's.
 */
async function onlyIgnoresOf(root: string, rel: string, isLedgeWritten: (rel: string) => boolean) {
  if (path.posix.basename(rel) !== '.gitignore') return false;
  const dir = path.posix.dirname(rel) === '.' ? '' : `${path.posix.dirname(rel)}/`;
  const diff = await git(root, ['diff', '-U0', 'HEAD', '--', rel]);
  for (const line of diff.split('\n')) {
    if (line.startsWith('+++') || line.startsWith('---')) continue;
    if (line.startsWith('-')) return false;
    if (!line.startsWith('+') || line.trim() === '+') continue;
    const name = line.slice(1);
    if (!name.startsWith('/') || !isLedgeWritten(dir + name.slice(1).replace(/\\(.)/g, '$1'))) return false;
  }
  return true;
}

/** Paths of `git status --porcelain -z` (tracked files only), renamed ones under both names. */
async function modifiedTracked(root: string): Promise<string[]> {
  const fields = (await git(root, ['status', '--porcelain=v1', '-z', '--untracked-files=no'])).split('\0');
  const paths: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i]!;
    if (entry.length < 4) continue;
    paths.push(entry.slice(3));
    if (entry[0] === 'R' || entry[0] === 'C') paths.push(fields[++i]!);
  }
  return paths;
}

export async function checkoutPushedCommit(
  options: PushedCommitCheckoutOptions,
): Promise<PushedCommitCheckout> {
  const { root, remote, branch } = options;
  const refuse = (reason: string): PushedCommitCheckout => ({ ok: false, reason });
  const pushed = options.commit ? `commit ${short(options.commit)}` : `the tip of ${branch}`;

  const current = await git(root, ['symbolic-ref', '--quiet', '--short', 'HEAD']).then(
    (out) => out.trim(),
    () => undefined,
  );
  if (current !== branch)
    return refuse(
      `the workspace is ${current ? `on branch ${current}` : 'on a detached HEAD'}, not on ${branch}: ${pushed} was not checked out (git switch ${branch} in the workspace)`,
    );

  const isLedgeWritten = ledgeWrittenPaths(root);
  // What ledge changed here (its files; ignore lines it added) is no edit of the user's.
  const ledgeChanged: string[] = [];
  const edits: string[] = [];
  for (const p of await modifiedTracked(root)) {
    const ours = isLedgeWritten(p) || (await onlyIgnoresOf(root, p, isLedgeWritten));
    (ours ? ledgeChanged : edits).push(p);
  }
  if (edits.length > 0)
    return refuse(
      `the workspace has uncommitted changes to ${listOf(edits)}: ${pushed} was not checked out (commit or stash them)`,
    );

  const head = await resolveRevision(root, 'HEAD');
  if (!head) return refuse(`the workspace's ${branch} has no commit yet`);
  const contained = async (commit: string) =>
    commit === head || gitSucceeds(root, ['merge-base', '--is-ancestor', commit, head]);

  let target = options.commit ? await resolveRevision(root, options.commit) : undefined;
  if (target && (await contained(target))) return { ok: true, commit: head, previous: head, moved: false };
  if (!target) {
    options.note(`git fetch ${remote} ${branch}`);
    try {
      const tip = await fetchBranch(root, remote, branch, { signal: options.signal });
      target = options.commit ? await resolveRevision(root, options.commit) : tip;
    } catch (error) {
      return refuse(
        `git fetch ${remote} ${branch} failed: ${error instanceof GitCommandError ? error.detail : String(error)}`,
      );
    }
    if (!target)
      return refuse(`${pushed} is not on ${remote}/${branch} after git fetch (was the push overwritten?)`);
    if (await contained(target)) return { ok: true, commit: head, previous: head, moved: false };
  }
  if (!(await gitSucceeds(root, ['merge-base', '--is-ancestor', head, target])))
    return refuse(
      `diverged: the workspace's ${branch} (${short(head)}) is not an ancestor of the pushed ${short(target)}, so it cannot be fast-forwarded; the workspace was left as it is (merge or reset it by hand)`,
    );

  // What ledge changed here that the pushed commits change too: the pushed version wins (the
  // run writes them again; outputs and metrics are in the cache), so the merge is not refused.
  const incoming = (await git(root, ['diff', '--name-only', '-z', head, target])).split('\0').filter(Boolean);
  options.beforeMove?.();
  const reset = incoming.filter((p) => ledgeChanged.includes(p));
  if (reset.length > 0) {
    await git(root, ['checkout', 'HEAD', '--', ...reset]);
    options.note(`set back to HEAD before the merge (ledge writes them again): ${listOf(reset)}`);
  }
  const written = incoming.filter(isLedgeWritten);
  if (written.length > 0) {
    const tracked = new Set((await git(root, ['ls-files', '-z', '--', ...written])).split('\0'));
    for (const p of written)
      if (!tracked.has(p)) fs.rmSync(path.join(root, p), { force: true, recursive: true });
  }

  options.note(`git merge --ff-only ${target}`);
  try {
    await git(root, ['merge', '--ff-only', '--quiet', target]);
  } catch (error) {
    if (!(error instanceof GitCommandError)) throw error;
    const blocking = error.stderr
      .split('\n')
      .filter((l) => l.startsWith('\t'))
      .map((l) => l.trim());
    return refuse(
      blocking.length > 0
        ? `untracked files ${listOf(blocking)} would be overwritten by ${pushed}: move them away (nothing was changed)`
        : `git merge --ff-only ${short(target)} failed: ${error.detail}`,
    );
  }
  try {
    await options.afterMove();
  } catch (error) {
    return refuse(
      `moved to ${short(target)}, then ledge checkout failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return { ok: true, commit: target, previous: head, moved: true };
}
