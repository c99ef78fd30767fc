/**
 * Runs benchmark commands: wall-clock time (performance.now() around the child's life), an
 * optional timeout that kills the whole process group, and peak memory through GNU time.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const GNU_TIME = '/usr/bin/time';

/** Process groups still running, so an interrupted benchmark can stop them. */
const live = new Set<number>();

/** Kills every command this module started that is still running (on Ctrl-C). */
export function killRunning(): void {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** Whether GNU time (Debian package `time`) is there to report max RSS. */
export const haveGnuTime = (() => {
  try {
    const probe = spawnSync(GNU_TIME, ['-f', '%M', 'true'], { encoding: 'utf8' });
    return probe.status === 0 && /^\d+\s*$/m.test(probe.stderr);
  } catch {
    return false;
  }
})();

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the command (and everything it started) after this many milliseconds. */
  timeoutMs?: number;
  /** Measure the peak resident set size with GNU time. */
  rss?: boolean;
}

export interface RunResult {
  command: string;
  seconds: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Peak RSS in KiB of the largest single process, when measured. */
  maxRssKiB: number | undefined;
  stdout: string;
  stderr: string;
}

/** Keeps only the tail of a chatty stream (git-annex prints a line per file). */
const CAPTURE_LIMIT = 1 << 20;

function appendCapped(current: string, chunk: Buffer): string {
  const next = current + chunk.toString('utf8');
  return next.length > CAPTURE_LIMIT ? next.slice(next.length - CAPTURE_LIMIT) : next;
}

export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Runs `argv` and times it; never throws for a non-zero exit (see `check`). */
export function run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
  const command = argv.map(shellQuote).join(' ');
  let rssFile: string | undefined;
  let full = argv;
  if (options.rss && haveGnuTime) {
    rssFile = path.join(os.tmpdir(), `ledge-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
    full = [GNU_TIME, '-f', '%M', '-o', rssFile, ...argv];
  }
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let ended = 0;
    const child = spawn(full[0]!, full.slice(1), {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout can kill git-annex's helpers too.
      detached: true,
    });
    const pid = child.pid;
    if (pid !== undefined) live.add(pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout = appendCapped(stdout, chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = appendCapped(stderr, chunk);
    });
    let timedOut = false;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    let hardKill: NodeJS.Timeout | undefined;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            killGroup('SIGTERM');
            hardKill = setTimeout(() => killGroup('SIGKILL'), 5000);
          }, options.timeoutMs);
    child.on('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
    child.on('exit', () => {
      ended = performance.now();
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (hardKill) clearTimeout(hardKill);
      // Stragglers of a killed group must not keep writing while the next run is timed.
      if (timedOut) killGroup('SIGKILL');
      if (pid !== undefined) live.delete(pid);
      let maxRssKiB: number | undefined;
      if (rssFile) {
        try {
          const text = fs.readFileSync(rssFile, 'utf8');
          const match = /(\d+)\s*$/.exec(text.trim());
          if (match) maxRssKiB = Number(match[1]);
          // GNU time reports a failing command on the first line; its own exit status is the child's.
        } catch {
          // not written (killed)
        }
        fs.rmSync(rssFile, { force: true });
      }
      resolve({
        command,
        seconds: ((ended || performance.now()) - started) / 1000,
        code,
        signal,
        timedOut,
        maxRssKiB,
        stdout,
        stderr,
      });
    });
  });
}

/** Runs a shell command line with bash. */
export function runShell(script: string, options: RunOptions = {}): Promise<RunResult> {
  return run(['bash', '-c', script], options);
}

/** Throws with the command's stderr unless it exited 0. */
export function check(result: RunResult, what: string): RunResult {
  if (result.code === 0 && !result.timedOut) return result;
  const why = result.timedOut ? 'timed out' : `exited with ${result.code ?? result.signal}`;
  const tail = (result.stderr || result.stdout).trim().split('\n').slice(-15).join('\n');
  throw new Error(`${what} ${why}: ${result.command}\n${tail}`);
}

/** Synchronous helper for setup steps that are not timed. */
export function sh(argv: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const result = spawnSync(argv[0]!, argv.slice(1), {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(
      `${argv.map(shellQuote).join(' ')} exited with ${result.status ?? result.signal}\n${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

/** Flushes dirty pages so the previous step's writeback does not land in the next timing. */
export function syncDisks(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

/** Removes a tree even when a tool left read-only directories behind (git-annex does). */
export function removeTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    spawnSync('chmod', ['-R', 'u+w', dir], { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
