/** What every command handler gets: parsed global options, output helpers, the store. */
import path from 'node:path';
import type { Progress } from '../core/progress.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
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

  /** Where the workspace's metadata lives: LEDGE_DB_URL / core.db_url, else SQLite in .ledge/state. */
  metadataTarget(store: Store): string {
    return store.ws.config.dbUrl ?? path.join(store.ws.stateDir, 'metadata.db');
  }

  /** Opens the workspace's metadata database (`store`'s, or the workspace found from cwd). */
  async openMetadata(store?: Store): Promise<MetadataStore> {
    const { MetadataStore } = await import('../metadata/metadata-store.js');
    if (store) return MetadataStore.open(this.metadataTarget(store));
    const opened = await this.openStore();
    try {
      return await MetadataStore.open(this.metadataTarget(opened));
    } finally {
      opened.close();
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
