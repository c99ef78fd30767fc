/**
 * Pipeline-change trigger: watches what the pipeline reads (watch-set.ts) with non-recursive
 * fs.watch watchers on the directories involved (recursive watching on Linux polls every file
 * in Node 20), debounces a burst of saves and asks for one run naming the changed paths.
 * A change of `ledge.yaml` recomputes what is watched.
 *
 * The server itself changes watched files when it brings the workspace to a pushed commit
 * (fast-forward, `ledge checkout`): `pause()` before and `resume()` after. Paths changed while
 * paused are no save of the user's and start no run; the state each had at `resume()` is kept
 * for a few seconds so that late notifications about it are dropped too, while a real save
 * after it (a different mtime or size) still counts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parsePipeline } from '../../pipeline/pipeline-file.js';
import type { Logger } from '../log.js';
import type { Enqueue, Trigger } from './trigger.js';
import { directoriesToWatch, isWatchedChange, type WatchSet, watchSetOf } from './watch-set.js';

export interface FileWatchOptions {
  root: string;
  debounceMs: number;
  /** More workspace-relative paths to watch. */
  paths: string[];
  stages: string[];
  enqueue: Enqueue;
  log: Logger;
}

const SKIP_DIRS = new Set(['.git', '.ledge', 'node_modules']);

/** How long late notifications about the server's own changes are recognised. */
const OWN_CHANGE_MEMORY_MS = 5000;

export class FileWatchTrigger implements Trigger {
  readonly name = 'watch';
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private set: WatchSet = { include: [], exclude: [] };
  private pending = new Set<string>();
  private firstChangeAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private paused = 0;
  private readonly changedWhilePaused = new Set<string>();
  /** Path → its state when the server's own change ended, and until when that is remembered. */
  private readonly ownChanges = new Map<string, { state: string; until: number }>();

  constructor(private readonly options: FileWatchOptions) {}

  async start(): Promise<void> {
    this.reload();
  }

  /** Reads ledge.yaml and (re)places the watchers; keeps the previous set when it does not parse. */
  private reload(): void {
    const file = path.join(this.options.root, 'ledge.yaml');
    try {
      this.set = watchSetOf(parsePipeline(fs.readFileSync(file, 'utf8'), 'ledge.yaml'), this.options.paths);
    } catch (error) {
      this.options.log.warn('watch: cannot read the pipeline; watching what was watched before', {
        error: error instanceof Error ? error.message : String(error),
      });
      if (this.set.include.length === 0) this.set = watchSetOf(undefined, this.options.paths);
    }
    const isDirectory = (rel: string) => {
      try {
        return fs.statSync(path.join(this.options.root, rel)).isDirectory();
      } catch {
        return false;
      }
    };
    const wanted = new Set<string>();
    for (const dir of directoriesToWatch(this.set, isDirectory)) {
      wanted.add(dir);
      if (dir !== '' && isDirectory(dir)) for (const sub of this.subdirectories(dir)) wanted.add(sub);
    }
    for (const [dir, watcher] of this.watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of wanted) this.watch(dir);
  }

  private subdirectories(dir: string): string[] {
    const found: string[] = [];
    const walk = (rel: string) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(path.join(this.options.root, rel), { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        if (!entry.isDirectory() || SKIP_DIRS.has(entry.name)) continue;
        const sub = path.posix.join(rel, entry.name);
        if (!isWatchedChange(`${sub}/x`, this.set) && !this.set.include.some((i) => i.startsWith(`${sub}/`)))
          continue;
        found.push(sub);
        walk(sub);
      }
    };
    walk(dir);
    return found;
  }

  private watch(dir: string): void {
    if (this.watchers.has(dir)) return;
    let watcher: fs.FSWatcher;
    try {
      watcher = fs.watch(path.join(this.options.root, dir), { persistent: false });
    } catch {
      return; // gone, or not a directory (yet)
    }
    watcher.on('change', (_event, name) => {
      if (name === null) return;
      const rel = dir === '' ? String(name) : path.posix.join(dir, String(name));
      this.changed(rel);
    });
    watcher.on('error', () => {
      watcher.close();
      this.watchers.delete(dir);
    });
    this.watchers.set(dir, watcher);
  }

  /** The server is about to change the workspace itself: what changes now is not a save. */
  pause(): void {
    this.paused++;
  }

  /** …and is done: what changed meanwhile is remembered as the server's own change. */
  resume(): void {
    if (this.paused === 0 || --this.paused > 0) return;
    const until = Date.now() + OWN_CHANGE_MEMORY_MS;
    for (const rel of this.changedWhilePaused) this.ownChanges.set(rel, { state: this.stateOf(rel), until });
    this.changedWhilePaused.clear();
    if (this.set.include.length > 0) this.reload(); // ledge.yaml may have changed with the commit
  }

  /** What identifies a file's content cheaply: size, mtime and inode, or its absence. */
  private stateOf(rel: string): string {
    try {
      const st = fs.statSync(path.join(this.options.root, rel), { bigint: true });
      return `${st.size}:${st.mtimeNs}:${st.ino}`;
    } catch {
      return 'missing';
    }
  }

  /** A notification about the server's own change (while paused, or late, with nothing changed since). */
  private isOwnChange(rel: string): boolean {
    if (this.paused > 0) {
      this.changedWhilePaused.add(rel);
      return true;
    }
    const own = this.ownChanges.get(rel);
    if (!own) return false;
    if (Date.now() > own.until) {
      this.ownChanges.delete(rel);
      return false;
    }
    return own.state === this.stateOf(rel);
  }

  private changed(rel: string): void {
    if (rel === 'ledge.yaml' && this.paused === 0) this.reload();
    if (!isWatchedChange(rel, this.set)) return;
    if (this.isOwnChange(rel)) return;
    // A new directory inside a watched one: watch it too.
    try {
      if (fs.statSync(path.join(this.options.root, rel)).isDirectory()) this.watch(rel);
    } catch {
      // Removed: a change all the same.
    }
    this.pending.add(rel);
    this.firstChangeAt ??= Date.now();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), this.options.debounceMs);
  }

  private fire(): void {
    const paths = [...this.pending].sort();
    const firstChangeAt = this.firstChangeAt;
    this.pending = new Set();
    this.firstChangeAt = undefined;
    this.options.log.info('watch: pipeline inputs changed', {
      paths: paths.slice(0, 20),
      count: paths.length,
    });
    void this.options
      .enqueue({
        causes: [
          {
            kind: 'file',
            at: new Date().toISOString(),
            paths,
            ...(firstChangeAt ? { firstChangeAt: new Date(firstChangeAt).toISOString() } : {}),
          },
        ],
        stages: this.options.stages,
      })
      .catch((error: unknown) => this.options.log.error('watch: run not queued', { error }));
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }
}
