/**
 * New commits on a branch: polls `git rev-parse refs/heads/<branch>` and asks for a run when it
 * moves (cause: the commit). The last commit seen is kept in the metadata store, so a restart
 * neither misses a commit made while the server was down nor repeats one.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TriggerRecords } from '../../metadata/trigger-records.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Enqueue, Trigger } from './trigger.js';

const run = promisify(execFile);

export interface GitBranchOptions {
  root: string;
  branch: string;
  intervalMs: number;
  stages: string[];
  state: TriggerRecords;
  /** The key its last commit is kept under (per workspace and branch). */
  stateKey: string;
  enqueue: Enqueue;
  clock: Clock;
  log: Logger;
}

export async function branchHead(root: string, branch: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(
      'git',
      ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`],
      {
        cwd: root,
      },
    );
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

export class GitBranchTrigger implements Trigger {
  readonly name = 'git';
  private cancel: (() => void) | undefined;
  private stopped = false;
  private polling: Promise<void> = Promise.resolve();

  constructor(private readonly options: GitBranchOptions) {}

  async start(): Promise<void> {
    this.stopped = false;
    const head = await branchHead(this.options.root, this.options.branch);
    const seen = await this.options.state.getState(this.options.stateKey);
    if (seen === undefined && head !== undefined) {
      // First start: what is there now is the baseline, not news.
      await this.options.state.setState(this.options.stateKey, head);
    } else {
      await this.poll();
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancel = this.options.clock.setTimer(this.options.intervalMs, () => {
      this.polling = this.poll().finally(() => this.schedule());
    });
  }

  /** Checks the branch once; asks for a run when it points at a new commit. */
  async poll(): Promise<void> {
    const { root, branch, state, stateKey } = this.options;
    const head = await branchHead(root, branch);
    if (head === undefined) return;
    const seen = await state.getState(stateKey);
    if (seen === head) return;
    await state.setState(stateKey, head);
    this.options.log.info('git: new commit on the watched branch', { branch, commit: head, previous: seen });
    await this.options
      .enqueue({
        causes: [
          {
            kind: 'commit',
            at: this.options.clock.now().toISOString(),
            branch,
            commit: head,
            ...(seen ? { previous: seen } : {}),
          },
        ],
        stages: this.options.stages,
      })
      .catch((error: unknown) => this.options.log.error('git: run not queued', { error }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancel?.();
    await this.polling;
  }
}
