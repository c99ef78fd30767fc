/**
 * One backend of the local target: the real `ledge serve <bundle> --port 0` in a child process
 * of the supervisor. It is started, found listening (the URL `ledge serve` prints), checked
 * (readiness, a smoke inference), given traffic by the proxy, and finally drained: once the
 * proxy has no request in flight to it, SIGTERM (the server finishes what it has and exits 0),
 * SIGKILL if it takes longer than the drain timeout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import { smokeInference } from '../model-probes.js';
import type { ModelToDeploy } from '../target.js';

export interface BackendSpec {
  deploymentId: number | null;
  model: ModelToDeploy;
}

export interface BackendCommand {
  /** The `ledge serve` command line before the bundle: `[node, bin/ledge.js, 'serve']`. */
  command: string[];
  /** Extra flags after the ones the supervisor sets. */
  extraArgs: string[];
  /** Working directory (the workspace: `ledge serve` records monitoring there). */
  cwd: string;
  env?: NodeJS.ProcessEnv | undefined;
  /** Each line the server prints, for the supervisor's log. */
  onOutput?: (line: string) => void;
}

export interface BackendExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const SERVING_LINE = /^serving (\S+) version (\S+) at (http:\/\/\S+)$/m;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `promise` at most `ms`: its value, or undefined on timeout (the timer is cleared). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class BackendProcess {
  readonly spec: BackendSpec;
  readonly child: ChildProcess;
  readonly startedAt = new Date().toISOString();
  /** Set once it listens. */
  url: string | undefined;
  port: number | undefined;
  servedName: string | undefined;
  servedVersion: string | undefined;
  /** When it started taking traffic. */
  servingSince: string | undefined;
  /** Requests the proxy has in flight to it. */
  inflight = 0;
  /** The supervisor stops it (drain, failed check): its exit is no crash. */
  retiring = false;
  exit: BackendExit | undefined;
  readonly exited: Promise<BackendExit>;
  /** Keep-alive connections from the proxy to this backend only: dropped with it. */
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

  private stdout = '';
  private stderrTail: string[] = [];
  private idleWaiters: (() => void)[] = [];

  private constructor(spec: BackendSpec, child: ChildProcess, onOutput?: (line: string) => void) {
    this.spec = spec;
    this.child = child;
    const lines = (stream: 'stdout' | 'stderr') => {
      let partial = '';
      return (chunk: Buffer) => {
        const text = partial + chunk.toString('utf8');
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          if (stream === 'stdout' && this.url === undefined) this.stdout += `${line}\n`;
          if (stream === 'stderr') {
            this.stderrTail.push(line);
            if (this.stderrTail.length > 20) this.stderrTail.shift();
          }
          onOutput?.(line);
        }
      };
    };
    child.stdout?.on('data', lines('stdout'));
    child.stderr?.on('data', lines('stderr'));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.agent.destroy();
        resolve(this.exit);
      });
      child.once('error', () => {
        this.exit = { code: null, signal: null };
        resolve(this.exit);
      });
    });
  }

  static start(spec: BackendSpec, command: BackendCommand): BackendProcess {
    const [file, ...pre] = command.command;
    if (!file) throw new Error('no serve command');
    const args = [
      ...pre,
      spec.model.path,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--name',
      spec.model.name,
      '--model-version',
      spec.model.version,
      // Behind the proxy, which may face the network: no loading of arbitrary paths over HTTP.
      '--no-model-control',
      ...command.extraArgs,
    ];
    const child = spawn(file, args, {
      cwd: command.cwd,
      env: command.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new BackendProcess(spec, child, command.onOutput);
  }

  get deploymentId(): number | null {
    return this.spec.deploymentId;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get label(): string {
    return `${this.spec.model.name}@${this.spec.model.version}`;
  }

  /** Why it exited, with the last error line `ledge serve` printed. */
  exitReason(): string {
    const how = this.exit?.signal
      ? `was killed by ${this.exit.signal}`
      : `exited with code ${this.exit?.code}`;
    const error = [...this.stderrTail].reverse().find((line) => line.startsWith('ledge: '));
    return error ? `${how}: ${error.replace(/^ledge: (error: )?/, '')}` : how;
  }

  /** Waits until it prints where it listens; throws if it exits first or takes too long. */
  async waitListening(deadline: number): Promise<void> {
    while (this.url === undefined) {
      const match = SERVING_LINE.exec(this.stdout);
      if (match) {
        this.servedName = match[1]!;
        this.servedVersion = match[2]!;
        this.url = match[3]!;
        this.port = Number(new URL(this.url).port);
        return;
      }
      if (this.exit) throw new Error(`the server ${this.exitReason()}`);
      if (Date.now() > deadline) throw new Error('the server did not start listening in time');
      await Promise.race([sleep(20), this.exited]);
    }
  }

  /** Polls `/v2/health/ready` until it answers 200. */
  async waitReady(deadline: number): Promise<void> {
    let last = 'no answer';
    for (;;) {
      if (this.exit) throw new Error(`the server ${this.exitReason()}`);
      try {
        const response = await fetch(`${this.url}/v2/health/ready`, { signal: AbortSignal.timeout(2000) });
        await response.arrayBuffer();
        if (response.status === 200) return;
        last = `status ${response.status}`;
      } catch (error) {
        last = (error as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`/v2/health/ready did not answer 200 in time (${last})`);
      await Promise.race([sleep(50), this.exited]);
    }
  }

  /** One prediction through `/v1/models/<name>:predict`: its score must be a number in [0, 1]. */
  smoke(text: string, timeoutMs: number): Promise<number> {
    return smokeInference(this.url!, this.servedName ?? this.spec.model.name, text, timeoutMs);
  }

  /** Counts a proxied request; call the returned function when it is done. */
  track(): () => void {
    this.inflight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inflight--;
      if (this.inflight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    };
  }

  private whenIdle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Retires it: waits (up to `timeoutMs`) until the proxy has nothing in flight to it — it
   * gets no new requests once switched away from — then SIGTERM, and SIGKILL when it does not
   * exit within what is left of the timeout.
   */
  async drain(timeoutMs: number): Promise<BackendExit> {
    this.retiring = true;
    if (this.exit) return this.exit;
    const deadline = Date.now() + timeoutMs;
    await within(Promise.race([this.whenIdle(), this.exited]), timeoutMs);
    this.signal('SIGTERM');
    const exit = await within(this.exited, Math.max(1000, deadline - Date.now()));
    if (exit) return exit;
    this.signal('SIGKILL');
    return this.exited;
  }

  /** Stops it at once (a version that failed its checks): SIGTERM, SIGKILL after a second. */
  async kill(): Promise<BackendExit> {
    this.retiring = true;
    if (this.exit) return this.exit;
    this.signal('SIGTERM');
    const exit = await within(this.exited, 1000);
    if (exit) return exit;
    this.signal('SIGKILL');
    return this.exited;
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      if (!this.exit) this.child.kill(signal);
    } catch {
      // already gone
    }
  }
}
