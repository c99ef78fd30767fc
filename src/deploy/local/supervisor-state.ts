/**
 * Where a local target keeps its state: `.ledge/deploy/<target>/` holds `state.json` (the
 * supervisor's pid, its control endpoint and token, the proxy's address, the backends it runs;
 * rewritten atomically on every change, readable by its owner only), `supervisor.log` (the
 * supervisor's and its servers' output) and `events.jsonl` (crashes, restarts, switches), next
 * to the target's deploy lock. The directory is git-ignored.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../../core/atomic-fs.js';
import { isErrno } from '../../core/errors.js';
import type { TargetEvent } from '../target.js';

export interface BackendState {
  pid: number | undefined;
  port: number | undefined;
  deploymentId: number | null;
  name: string;
  version: string;
  digest: string;
  bundle: string;
  /** starting | serving | draining */
  role: string;
  since: string;
}

export interface SupervisorState {
  format: 'ledge.local-target.state';
  version: 1;
  target: string;
  pid: number;
  startedAt: string;
  workspace: string;
  proxy: { host: string; port: number; url: string };
  control: { url: string; token: string };
  /** Every backend process it runs (the serving one, one being checked, ones draining). */
  backends: BackendState[];
  /** The one taking traffic. */
  serving: BackendState | null;
  restarting: { attempt: number; nextAt: string } | null;
}

export const STATE_FILE = 'state.json';
export const LOG_FILE = 'supervisor.log';
export const EVENTS_FILE = 'events.jsonl';

/** Creates the state directory, and `.ledge/deploy/.gitignore` ignoring every target's state. */
export function ensureStateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const ignore = path.join(path.dirname(dir), '.gitignore');
  if (!fs.existsSync(ignore)) {
    writeFileAtomicSync(ignore, '# Written by ledge deploy: the state of running targets.\n/*/\n', {
      durable: false,
    });
  }
}

export function readState(dir: string): SupervisorState | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as SupervisorState;
    return value.format === 'ledge.local-target.state' && typeof value.pid === 'number' ? value : undefined;
  } catch (error) {
    if (isErrno(error, 'ENOENT') || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

export function writeState(dir: string, state: SupervisorState): void {
  writeFileAtomicSync(path.join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, {
    mode: 0o600,
    durable: false,
  });
}

export function removeState(dir: string): void {
  fs.rmSync(path.join(dir, STATE_FILE), { force: true });
}

/** The newest `limit` events of `events.jsonl`, oldest first. */
export function readEvents(dir: string, limit = 20): TargetEvent[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, EVENTS_FILE), 'utf8');
  } catch {
    return [];
  }
  const events: TargetEvent[] = [];
  for (const line of text.trim().split('\n').slice(-limit)) {
    try {
      events.push(JSON.parse(line) as TargetEvent);
    } catch {
      // a torn last line
    }
  }
  return events;
}

/**
 * Keeps the log and the event file bounded: a log over `maxBytes` becomes `supervisor.log.1`
 * (replacing the previous one); an event file over `maxBytes` keeps its newest 1,000 lines.
 * Called when a supervisor starts.
 */
export function trimLogs(dir: string, maxBytes = 8 << 20): void {
  const size = (file: string) => {
    try {
      return fs.statSync(path.join(dir, file)).size;
    } catch {
      return 0;
    }
  };
  if (size(LOG_FILE) > maxBytes) fs.renameSync(path.join(dir, LOG_FILE), path.join(dir, `${LOG_FILE}.1`));
  if (size(EVENTS_FILE) > maxBytes) {
    const lines = fs.readFileSync(path.join(dir, EVENTS_FILE), 'utf8').trimEnd().split('\n').slice(-1000);
    writeFileAtomicSync(path.join(dir, EVENTS_FILE), `${lines.join('\n')}\n`, { durable: false });
  }
}

export function appendEvent(dir: string, event: TargetEvent): void {
  fs.appendFileSync(path.join(dir, EVENTS_FILE), `${JSON.stringify(event)}\n`);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrno(error, 'EPERM');
  }
}

/**
 * Whether `pid` still runs a process whose command line holds one of `markers` (read from /proc
 * where there is one), so a pid the OS reused for something else is never signalled. Without
 * /proc: whether it is alive.
 */
export function processRuns(pid: number, markers: readonly string[]): boolean {
  if (!processAlive(pid)) return false;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return markers.some((marker) => cmdline.includes(marker));
  } catch (error) {
    return !isErrno(error, 'ENOENT') || !fs.existsSync('/proc/self');
  }
}
