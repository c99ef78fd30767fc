/**
 * Runs one stage's commands: each through `/bin/sh -c`, in order, in the stage's working
 * directory, in a process group of its own so that stopping a stage stops everything it
 * started. Output is passed on line by line as it arrives and kept as the stage's log.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export type OutputStream = 'stdout' | 'stderr';

export interface StageProcessOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Called with every complete line (without its newline), as it arrives. */
  onLine: (stream: OutputStream, line: string) => void;
  signal?: AbortSignal | undefined;
  /** How long a stopped stage may take to exit after SIGTERM before it gets SIGKILL. */
  killGraceMs?: number;
}

export interface StageProcessResult {
  /** The first failing command's exit code, 0 when all succeeded. */
  exitCode: number;
  /** The signal that ended the failing command, if any. */
  signal: NodeJS.Signals | null;
  /** The command that failed (index into the list). */
  failedCommand?: number;
  /** Whether the run was stopped through `signal`. */
  aborted: boolean;
  log: Buffer;
}

/**
 * Keeps a stage's output: all of it up to `headBytes + tailBytes`, beyond that the head and
 * the tail with a marker saying how much was left out.
 */
export class LogBuffer {
  private readonly head: Buffer[] = [];
  private headSize = 0;
  private readonly tail: Buffer[] = [];
  private tailSize = 0;
  private dropped = 0;

  constructor(
    private readonly headBytes = 4 << 20,
    private readonly tailBytes = 12 << 20,
  ) {}

  append(chunk: Buffer): void {
    if (this.headSize < this.headBytes && this.tail.length === 0) {
      this.head.push(chunk);
      this.headSize += chunk.length;
      return;
    }
    this.tail.push(chunk);
    this.tailSize += chunk.length;
    while (this.tailSize > this.tailBytes && this.tail.length > 1) {
      const first = this.tail.shift()!;
      this.tailSize -= first.length;
      this.dropped += first.length;
    }
  }

  toBuffer(): Buffer {
    const marker =
      this.dropped > 0 ? [Buffer.from(`\n[… ${this.dropped} bytes of output left out …]\n`)] : [];
    return Buffer.concat([...this.head, ...marker, ...this.tail]);
  }
}

/** Splits a byte stream into lines, keeping a partial last line until it completes. */
class LineSplitter {
  private partial = '';

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.emit(line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  flush(): void {
    if (this.partial !== '') this.emit(this.partial);
    this.partial = '';
  }
}

function runOne(
  command: string,
  options: StageProcessOptions,
  log: LogBuffer,
): Promise<{ code: number; signal: NodeJS.Signals | null; aborted: boolean }> {
  return new Promise((resolve) => {
    if (options.signal?.aborted) {
      resolve({ code: 130, signal: null, aborted: true });
      return;
    }
    const child: ChildProcess = spawn('/bin/sh', ['-c', command], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: stopping it stops its children too
    });
    const splitters = {
      stdout: new LineSplitter((line) => options.onLine('stdout', line)),
      stderr: new LineSplitter((line) => options.onLine('stderr', line)),
    };
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream]?.on('data', (chunk: Buffer) => {
        log.append(chunk);
        splitters[stream].push(chunk);
      });
    }
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      aborted = true;
      signalGroup(child, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), options.killGraceMs ?? 5000);
      killTimer.unref();
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    const finish = () => {
      if (settled || !exit) return;
      settled = true;
      options.signal?.removeEventListener('abort', stop);
      if (killTimer) clearTimeout(killTimer);
      splitters.stdout.flush();
      splitters.stderr.flush();
      resolve({ code: exit.code ?? 128 + signalNumber(exit.signal), signal: exit.signal, aborted });
    };
    child.on('error', (error) => {
      const line = `ledge: cannot start the command in ${options.cwd}: ${error.message}`;
      log.append(Buffer.from(`${line}\n`));
      options.onLine('stderr', line);
      exit ??= { code: 127, signal: null };
      finish();
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Whatever the command left running in its group goes with it; a process that escaped
      // the group but holds the output pipes open does not keep the stage running.
      signalGroup(child, 'SIGKILL');
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, 2000).unref();
    });
    child.on('close', (code, signal) => {
      exit ??= { code, signal };
      finish();
    });
  });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGINT: 2,
    SIGKILL: 9,
    SIGTERM: 15,
    SIGSEGV: 11,
  };
  return signal ? (numbers[signal] ?? 1) : 1;
}

/** Runs `commands` in order and stops at the first that fails. */
export async function runStageCommands(
  commands: string[],
  options: StageProcessOptions,
): Promise<StageProcessResult> {
  const log = new LogBuffer();
  for (let index = 0; index < commands.length; index++) {
    const result = await runOne(commands[index]!, options, log);
    if (result.code !== 0 || result.aborted) {
      return {
        exitCode: result.code,
        signal: result.signal,
        failedCommand: index,
        aborted: result.aborted,
        log: log.toBuffer(),
      };
    }
  }
  return { exitCode: 0, signal: null, aborted: false, log: log.toBuffer() };
}

/** The last `count` non-empty lines of a log, for error messages. */
export function logTail(log: Buffer, count: number): string[] {
  const lines = log.toString('utf8').split('\n');
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  return lines.slice(-count);
}
