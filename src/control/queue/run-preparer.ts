/**
 * What happens to the workspace between a run leaving the queue and its `ledge run`: a run
 * asked for by a push or a new commit is brought to that commit first (fetch, fast-forward,
 * `ledge pull` or `ledge checkout`: git/pushed-commit-checkout.ts); any run records the commit it ran.
 * Its lines go to the top of the run's log.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { ControlRun } from '../../metadata/control-runs.js';
import { resolveRevision } from '../git/git-command.js';
import { checkoutPushedCommit } from '../git/pushed-commit-checkout.js';
import { commitTarget } from './commit-target.js';
import { runLogPaths } from './pipeline-launcher.js';

export type Preparation =
  | {
      ready: true /** The commit the run runs (HEAD), when the workspace is a git repository. */;
      commit?: string;
    }
  | { ready: false; reason: string };

export interface RunPreparer {
  prepare(run: ControlRun, signal: AbortSignal): Promise<Preparation>;
}

export interface WorkspacePreparerOptions {
  root: string;
  /** The git remote pushed commits are fetched from (`origin`). */
  remote: string;
  /** The command that runs ledge (for `ledge pull` and `ledge checkout`). */
  ledge: string[];
  logDir: string;
  env?: NodeJS.ProcessEnv | undefined;
  /**
   * Told before the preparation changes the workspace's files and after it is done (so that a
   * file-watch trigger does not take the server's own checkout for a user's save).
   */
  workspaceChanges?: { starting(): void; finished(): void };
}

/** Runs `ledge ARGS` with its output appended to `log`; resolves to its exit code (-1: not started). */
function runLedgeLogged(
  options: WorkspacePreparerOptions,
  args: string[],
  log: string,
  note: (line: string) => void,
): Promise<number> {
  const [command, ...prefix] = options.ledge;
  const out = fs.openSync(log, 'a');
  const child = spawn(command!, [...prefix, ...args], {
    cwd: options.root,
    stdio: ['ignore', out, out],
    env: { ...(options.env ?? process.env), CI: 'true' },
  });
  fs.closeSync(out);
  return new Promise<number>((resolve) => {
    child.once('error', (error) => {
      note(`cannot start ledge ${args[0]}: ${error.message}`);
      resolve(-1);
    });
    child.once('exit', (code) => resolve(code ?? -1));
  });
}

/** Whether the workspace has a default data remote (`ledge remote list --json`). */
async function hasDefaultRemote(options: WorkspacePreparerOptions): Promise<boolean> {
  const [command, ...prefix] = options.ledge;
  const child = spawn(command!, [...prefix, 'remote', 'list', '--json'], {
    cwd: options.root,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...(options.env ?? process.env), CI: 'true' },
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  const code = await new Promise<number>((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('close', (c) => resolve(c ?? -1));
  });
  if (code !== 0) return false;
  try {
    return (JSON.parse(out) as { default?: boolean }[]).some((remote) => remote.default === true);
  } catch {
    return false;
  }
}

/**
 * Puts the data the pushed pointer files name in place: `ledge pull` when the workspace has a
 * default data remote (the pusher's `ledge push` put new objects there), else `ledge checkout`.
 * Not fatal when it fails: objects not found (outputs the pusher produced) are what the run
 * reproduces, and a missing data dependency fails the run with its own error; the failure is
 * noted in the log.
 */
async function bringData(options: WorkspacePreparerOptions, log: string, note: (line: string) => void) {
  const pull = await hasDefaultRemote(options);
  note(pull ? 'ledge pull (the default data remote)' : 'ledge checkout (no default data remote)');
  const code = await runLedgeLogged(options, [pull ? 'pull' : 'checkout'], log, note);
  if (code !== 0)
    note(`ledge ${pull ? 'pull' : 'checkout'} did not restore everything (above); the run goes on`);
}

export function workspacePreparer(options: WorkspacePreparerOptions): RunPreparer {
  return {
    async prepare(run, signal) {
      fs.mkdirSync(options.logDir, { recursive: true });
      const log = runLogPaths(options.logDir, run.id).log;
      const note = (line: string) => fs.appendFileSync(log, `ledge server: ${line}\n`);
      const target = commitTarget(run.causes);
      if (!target) {
        const head = await resolveRevision(options.root, 'HEAD');
        return head ? { ready: true, commit: head } : { ready: true };
      }
      note(
        `run ${run.id} is for ${target.commit ? `commit ${target.commit}` : 'the tip'} of ${target.branch}`,
      );
      let changing = false;
      const result = await checkoutPushedCommit({
        root: options.root,
        remote: options.remote,
        branch: target.branch,
        commit: target.commit,
        signal,
        note,
        beforeMove: () => {
          changing = true;
          options.workspaceChanges?.starting();
        },
        afterMove: () => bringData(options, log, note),
      }).finally(() => {
        if (changing) options.workspaceChanges?.finished();
      });
      if (!result.ok) {
        note(`not run: ${result.reason}`);
        return { ready: false, reason: result.reason };
      }
      note(
        result.moved
          ? `fast-forwarded ${target.branch} from ${result.previous} to ${result.commit} and checked out its data`
          : `${target.branch} already contains it: running ${result.commit}`,
      );
      return { ready: true, commit: result.commit };
    },
  };
}
