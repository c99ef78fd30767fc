/**
 * An inter-process lock on a file. A second ledge process waits for the first instead of
 * failing; it names the holder while waiting, and takes over a lock whose holder died.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { isErrno, LedgeError } from './errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export interface LockOptions {
  /** How long to wait for another holder, in milliseconds (0: fail at once). */
  timeoutMs: number;
  /** What this process is doing, shown to others who wait. */
  command: string;
  /** Called once when the lock is busy and we start waiting. */
  onWait?: (holder: LockHolder) => void;
  /**
   * Called, and awaited, once the lock is ours after taking it over from a holder that died
   * (this host only): what it left behind can be cleaned up before the new holder works.
   */
  onStale?: (holder: LockHolder) => Promise<void> | void;
  pollMs?: number;
}

export interface Lock {
  readonly path: string;
  release(): void;
}

const held = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lockPath of held) fs.rmSync(lockPath, { force: true });
  });
}

/** Who holds the lock at `lockPath` now, if anyone (and the file is readable). */
export function readHolder(lockPath: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(lockPath, 'utf8')) as LockHolder;
    return typeof parsed.pid === 'number' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(holder: LockHolder): boolean {
  if (holder.host !== os.hostname()) return true; // cannot tell: assume alive
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return !isErrno(error, 'ESRCH');
  }
}

function tryCreate(lockPath: string, holder: LockHolder): boolean {
  // Write the holder to a temp file, then hard-link it to the lock name: link() fails if the
  // name exists, so the lock appears atomically and always complete.
  const temp = `${lockPath}.${process.pid}-${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(temp, JSON.stringify(holder));
  try {
    fs.linkSync(temp, lockPath);
    return true;
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    throw error;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/** Removes a lock left by a dead process, unless someone replaced it meanwhile. */
function breakStale(lockPath: string, stale: LockHolder): void {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw error;
  }
  const moved = readHolder(aside);
  if (moved && (moved.pid !== stale.pid || moved.since !== stale.since)) {
    // A live holder took the lock between our read and our rename: give it back.
    try {
      fs.linkSync(aside, lockPath);
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    }
  }
  fs.rmSync(aside, { force: true });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function acquireLock(lockPath: string, options: LockOptions): Promise<Lock> {
  installExitHook();
  const me: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    command: options.command,
    since: new Date().toISOString(),
  };
  const deadline = Date.now() + options.timeoutMs;
  let announced = false;
  let stale: LockHolder | undefined;
  for (;;) {
    if (tryCreate(lockPath, me)) break;
    const holder = readHolder(lockPath);
    if (holder === undefined) {
      // Unreadable: being written by an older ledge, or garbage. Treat as held briefly.
    } else if (!isAlive(holder)) {
      breakStale(lockPath, holder);
      stale = holder;
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder
        ? `PID ${holder.pid} on ${holder.host} (${holder.command}, since ${holder.since})`
        : 'another process';
      throw new LedgeError('lock-timeout', `workspace is locked by ${who}`, {
        hint: `wait for it to finish or raise --lock-timeout; if that process is gone, delete ${lockPath}`,
      });
    }
    if (!announced && holder) {
      announced = true;
      options.onWait?.(holder);
    }
    await sleep(options.pollMs ?? 50);
  }
  held.add(lockPath);
  const lock: Lock = {
    path: lockPath,
    release() {
      if (!held.delete(lockPath)) return;
      const current = readHolder(lockPath);
      if (current && current.pid === me.pid && current.since === me.since)
        fs.rmSync(lockPath, { force: true });
    },
  };
  if (stale && options.onStale) {
    try {
      await options.onStale(stale);
    } catch (error) {
      lock.release();
      throw error;
    }
  }
  return lock;
}
