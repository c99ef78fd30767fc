/** What every command handler gets: parsed global options, output helpers, the store. */
import type { Progress } from '../core/progress.js';
import type { Store } from '../store/store.js';
import { terminalProgress } from './progress-bar.js';

export interface GlobalOptions {
  verbose?: boolean;
  quiet?: boolean;
  cwd?: string;
}

export class CommandContext {
  readonly options: GlobalOptions;
  readonly cwd: string;

  constructor(options: GlobalOptions) {
    this.options = options;
    this.cwd = options.cwd ? options.cwd : process.cwd();
  }

  get progress(): Progress {
    return terminalProgress(this.options.quiet === true);
  }

  /** A human line on stdout (suppressed by --quiet). */
  say(line: string): void {
    if (!this.options.quiet) process.stdout.write(`${line}\n`);
  }

  /** A notice on stderr, e.g. while waiting for a lock. */
  note(line: string): void {
    if (!this.options.quiet) process.stderr.write(`ledge: ${line}\n`);
  }

  json(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Opens the workspace's store (loaded lazily: commands like --help never touch it). */
  async openStore(): Promise<Store> {
    const [{ Workspace }, { Store }] = await Promise.all([
      import('../store/workspace.js'),
      import('../store/store.js'),
    ]);
    return new Store(Workspace.find(this.cwd));
  }

  /** Runs `fn` holding the workspace lock, waiting (and saying so) if another process has it. */
  async withLockedStore<T>(command: string, fn: (store: Store) => Promise<T>): Promise<T> {
    const store = await this.openStore();
    const lock = await store.ws.lock(command, (message) => this.note(message));
    try {
      return await fn(store);
    } finally {
      lock.release();
      store.close();
    }
  }

  async withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    const store = await this.openStore();
    try {
      return await fn(store);
    } finally {
      store.close();
    }
  }
}
