/**
 * New commits on a branch: every `interval` it reads the branch (the local `refs/heads/<branch>`,
 * or with `remote` set, `git fetch <remote> <branch>` and its remote-tracking ref) and asks for a
 * run when it moved (cause: the commit). The last commit seen is kept in the metadata store, so
 * a restart neither misses a commit made while the server was down nor repeats one.
 */
import type { TriggerRecords } from '../../metadata/trigger-records.js';
import type { Clock } from '../clock.js';
import { fetchBranch, resolveRevision } from '../git/git-command.js';
import type { Logger } from '../log.js';
import type { Enqueue, Trigger } from './trigger.js';

export interface GitBranchOptions {
  root: string;
  branch: string;
  /** Watch this remote's branch (fetched every interval); undefined: the local branch. */
  remote?: string | undefined;
  intervalMs: number;
  stages: string[];
  state: TriggerRecords;
  /** The key its last commit is kept under (per workspace and branch). */
  stateKey: string;
  enqueue: Enqueue;
  clock: Clock;
  log: Logger;
}

export class GitBranchTrigger implements Trigger {
  readonly name = 'git';
  private cancel: (() => void) | undefined;
  private stopped = false;
  private polling: Promise<void> = Promise.resolve();
  private fetchFailing = false;

  constructor(private readonly options: GitBranchOptions) {}

  async start(): Promise<void> {
    this.stopped = false;
    const head = await this.read();
    const seen = await this.options.state.getState(this.options.stateKey);
    if (seen === undefined && head !== undefined) {
      // First start: what is there now is the baseline, not news.
      await this.options.state.setState(this.options.stateKey, head);
    } else {
      await this.poll(head);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancel = this.options.clock.setTimer(this.options.intervalMs, () => {
      this.polling = this.poll().finally(() => this.schedule());
    });
  }

  /** The branch's commit now; with a remote, fetched first (a failed fetch is logged once). */
  private async read(): Promise<string | undefined> {
    const { root, branch, remote, log } = this.options;
    if (remote === undefined) return resolveRevision(root, `refs/heads/${branch}`);
    try {
      const commit = await fetchBranch(root, remote, branch);
      if (this.fetchFailing) log.info('git: fetching works again', { remote, branch });
      this.fetchFailing = false;
      return commit;
    } catch (error) {
      if (!this.fetchFailing)
        log.warn('git: cannot fetch the watched branch', {
          remote,
          branch,
          error: error instanceof Error ? error.message : String(error),
        });
      this.fetchFailing = true;
      return undefined;
    }
  }

  /** Checks the branch once; asks for a run when it points at a new commit. */
  async poll(current?: string): Promise<void> {
    const { branch, remote, state, stateKey } = this.options;
    const head = current ?? (await this.read());
    if (head === undefined) return;
    const seen = await state.getState(stateKey);
    if (seen === head) return;
    await state.setState(stateKey, head);
    this.options.log.info('git: new commit on the watched branch', {
      branch,
      ...(remote ? { remote } : {}),
      commit: head,
      previous: seen,
    });
    await this.options
      .enqueue({
        causes: [
          {
            kind: 'commit',
            at: this.options.clock.now().toISOString(),
            branch,
            ...(remote ? { remote } : {}),
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
