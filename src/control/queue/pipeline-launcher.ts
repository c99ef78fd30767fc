/**
 * Starts a queued run as a real `ledge run --json` child process, in a process group of its own
 * (so a cancel stops the whole tree) and with its output in files, not pipes: a child outlives
 * a killed server without dying of a broken pipe, and the next server finds and stops it.
 *
 *     .ledge/state/control/runs/<id>.log    stage output and ledge's lines (stderr)
 *     .ledge/state/control/runs/<id>.json   the run's --json summary (stdout)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ControlRun } from '../../metadata/control-runs.js';
import { causeText, isForced } from './coalesce.js';
import { processStartTime, signalTree } from './process-tree.js';
import type { RunExit } from './run-outcome.js';

export interface RunHandle {
  pid: number;
  pidStart: string | null;
  /** Resolves once the process exited. */
  exited: Promise<RunExit>;
  /** SIGTERM to ledge run's process group; SIGKILL to its whole tree if it is still there after `graceMs`. */
  terminate(graceMs: number): void;
}

export interface PipelineLauncher {
  start(run: ControlRun): RunHandle;
}

export interface LedgeRunLauncherOptions {
  /** The command that runs ledge: `[process.execPath, '/path/to/bin/ledge.js']`. */
  ledge: string[];
  /** The workspace root. */
  cwd: string;
  /** Where the output files go. */
  logDir: string;
  /** Extra `ledge run` flags (`-j 2`, `--keep-going`…). */
  runArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

const TAIL_BYTES = 16 * 1024;

function tail(file: string): string[] {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, TAIL_BYTES);
      const buffer = Buffer.alloc(length);
      fs.readSync(fd, buffer, 0, length, size - length);
      return buffer.toString('utf8').split('\n').filter(Boolean).slice(-40);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
}

function readSummary(file: string): RunExit['summary'] {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as { runId?: unknown; status?: unknown };
    return {
      ...(typeof value.runId === 'number' ? { runId: value.runId } : {}),
      ...(typeof value.status === 'string' ? { status: value.status } : {}),
    };
  } catch {
    return undefined;
  }
}

export function runLogPaths(logDir: string, id: number): { log: string; summary: string } {
  return { log: path.join(logDir, `${id}.log`), summary: path.join(logDir, `${id}.json`) };
}

export function ledgeRunLauncher(options: LedgeRunLauncherOptions): PipelineLauncher {
  return {
    start(run) {
      fs.mkdirSync(options.logDir, { recursive: true });
      const files = runLogPaths(options.logDir, run.id);
      const out = fs.openSync(files.summary, 'w');
      const err = fs.openSync(files.log, 'a'); // after what the preparer wrote
      const [command, ...prefix] = options.ledge;
      const args = [
        ...prefix,
        'run',
        '--json',
        '--cause',
        causeText(run.id, run.causes),
        ...(isForced(run) ? ['--force'] : []),
        ...(options.runArgs ?? []),
        ...run.stages,
      ];
      const child = spawn(command!, args, {
        cwd: options.cwd,
        detached: true,
        stdio: ['ignore', out, err],
        env: { ...(options.env ?? process.env), CI: 'true', LEDGE_CONTROL_RUN: String(run.id) },
      });
      fs.closeSync(out);
      fs.closeSync(err);
      const exited = new Promise<RunExit>((resolve) => {
        const done = (code: number | null, signal: string | null) =>
          resolve({ code, signal, summary: readSummary(files.summary), stderrTail: tail(files.log) });
        child.once('error', (error) => {
          fs.appendFileSync(files.log, `ledge: error: cannot start ledge run: ${error.message}\n`);
          done(127, null);
        });
        child.once('exit', done);
      });
      const pid = child.pid ?? -1;
      let killTimer: NodeJS.Timeout | undefined;
      void exited.then(() => clearTimeout(killTimer));
      return {
        pid,
        pidStart: pid > 0 ? (processStartTime(pid) ?? null) : null,
        exited,
        terminate(graceMs) {
          if (pid <= 0 || child.exitCode !== null || child.signalCode !== null) return;
          // ledge run stops its stages' process groups itself and records them interrupted.
          try {
            process.kill(-pid, 'SIGTERM');
          } catch {
            // Exited meanwhile.
          }
          clearTimeout(killTimer);
          killTimer = setTimeout(() => signalTree(pid, 'SIGKILL'), graceMs);
        },
      };
    },
  };
}
