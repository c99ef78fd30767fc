/**
 * Runs the real `ledge` CLI (bin/ledge.js on the compiled dist/) in a child process, the way
 * users run it. Every run gets CI=true (no progress bars) and none of the caller's LEDGE_*
 * settings, so a developer's LEDGE_DEBUG cannot change what the tests see.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor of this file that holds bin/ledge.js. */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'bin', 'ledge.js'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`bin/ledge.js not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Absolute path of bin/ledge.js. */
export const LEDGE_BIN = path.join(findRoot(), 'bin', 'ledge.js');

export interface LedgeRunOptions {
  /** Working directory of the CLI (default: the test process's). */
  cwd?: string;
  /** Extra environment variables; CI=true is always set on top. */
  env?: Record<string, string | undefined>;
  /** Written to the CLI's stdin, which is then closed (default: empty stdin). */
  input?: string | Buffer;
  /**
   * A command to run the CLI through, e.g. `['setpriv', '--reuid=65534', ...]`; the node
   * binary and bin/ledge.js follow it.
   */
  wrapper?: string[];
  /** Kill the CLI (SIGKILL) after this many milliseconds (default 120 s). */
  timeoutMs?: number;
  /** When given, a still-running CLI is killed when this test ends. */
  t?: TestContext;
}

export interface LedgeResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function childEnv(extra: LedgeRunOptions['env']): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('LEDGE_') || key === 'LEDGE_TEST') env[key] = value;
  }
  for (const [key, value] of Object.entries(extra ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  env.CI = 'true';
  return env;
}

const finishedRuns = new WeakMap<ChildProcess, Promise<LedgeResult>>();

/**
 * Starts the CLI and returns the child process (for tests that kill it). Its output is
 * collected from the start; `finished(child)` resolves once it has exited.
 */
export function startLedge(args: string[], options: LedgeRunOptions = {}): ChildProcess {
  const wrapper = options.wrapper ?? [];
  const argv = [...wrapper.slice(1), ...(wrapper.length > 0 ? [process.execPath] : []), LEDGE_BIN, ...args];
  const command = wrapper[0] ?? process.execPath;
  const child = spawn(command, argv, {
    cwd: options.cwd,
    env: childEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
  // A CLI that exits before reading its stdin must not crash the test with EPIPE.
  child.stdin!.on('error', () => {});
  child.stdin!.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const done = new Promise<LedgeResult>((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
  // Observed here so a failing test that never awaits it does not leave an unhandled rejection.
  done.catch(() => {});
  finishedRuns.set(child, done);
  options.t?.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await done.catch(() => {});
    }
  });
  return child;
}

/** Waits for a CLI started by `startLedge` to exit; resolves with its exit status and output. */
export function finished(child: ChildProcess): Promise<LedgeResult> {
  const done = finishedRuns.get(child);
  if (!done) throw new Error('finished() needs a child started by startLedge()');
  return done;
}

/** Runs the CLI to completion: `runLedge(['add', 'data'], { cwd })`. */
export function runLedge(args: string[], options: LedgeRunOptions = {}): Promise<LedgeResult> {
  return finished(startLedge(args, options));
}

/** Polls `condition` every few milliseconds until it holds; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
