/**
 * The serving benchmark (issue 5): how fast `ledge serve` answers the IMDB model over HTTP on
 * loopback, next to the in-process limit of the same model.
 *
 *   1. The limit: in-process throughput of the IMDB model (TextModel) at batch sizes 1..256,
 *      with the reviews preprocessed once (`scoreIds`, ONNX Runtime alone) and with
 *      preprocessing (`predict(texts)`, what the server has to do as well).
 *   2. HTTP throughput and p50/p90/p99 latency of `POST /v1/models/<name>:predict` at 1, 16 and
 *      64 concurrent connections, dynamic batching on (defaults) vs off (`--no-batching`),
 *      monitoring on (default) vs off (`--no-monitoring`); CPU of the server and of the load
 *      generator, server RSS under load. Then the knobs: `--max-delay-ms`, `--max-batch`,
 *      8 reviews per request, HTTP pipelining, the prediction log on disk.
 *   3. The verdicts against the targets of issue 5.
 *
 * The server is the real CLI (`node bin/ledge.js serve <bundle> --port 0`, a private snapshot of
 * the build) in its own process, restarted for every point, in a directory that is not a ledge
 * workspace (no metadata store, no default prediction log). The load generator is autocannon (v8,
 * its API) in a second process: this file run as `serve-bench.js --loadgen CONFIG`. Every
 * request body is `{"instances": ["<review>"]}` with the next of the 5,000 validation reviews.
 *
 *   npm run build && npm run bench:serve -- --write     # full: the 25,000-review archive
 *   npm run build && npm run bench:serve -- --quick     # smoke: the 2,000-review sample, short points
 *
 * Progress goes to stderr, the markdown report to stdout; with --write the "## Serving (issue 5)"
 * section of docs/benchmarks.md. Everything is written under os.tmpdir() and removed at the end
 * (also after an error or Ctrl-C); every server and load generator is stopped.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { prng } from './lib/data.js';
import { check, removeTree, run, shellQuote } from './lib/exec.js';
import { benchEnv, snapshotLedge } from './lib/ledge.js';
import {
  type Machine as BaseMachine,
  machineInfo as baseMachineInfo,
  packageVersion,
} from './lib/machine.js';
import { fmtCount, fmtMiB, fmtRatio, fmtSeconds, median, table, updateSectionAfter } from './lib/report.js';

const SECTION = '## Serving (issue 5)';
const PREVIOUS_SECTION = '## The IMDB model (issue 4)';
const REPRODUCE = 'npm run build && npm run bench:serve -- --write';
const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(THIS_FILE), '..', '..');
const NPROC = os.availableParallelism();
const FULL_ARCHIVE = path.resolve(ROOT, '..', 'shared', 'datasets', 'imdb', 'aclImdb_train.tar.gz');
const SAMPLE_ARCHIVE = path.join(ROOT, 'examples', 'imdb', 'data', 'aclImdb_sample.tar.gz');
/** A sanity limit per CLI command. */
const TIMEOUT_MS = 900_000;

/** The targets of issue 5. */
const TARGET_HTTP_SHARE = 0.5;
const TARGET_BATCHING_RATIO = 3;
const TARGET_P99_MS = 20;
const TARGET_MONITORING_COST = 0.05;

const BATCH_SIZES = [1, 8, 32, 64, 128, 256];
const CONCURRENCY = [1, 16, 64];
/** Predictions a second that get input statistics for drift (the monitor's default: one window a second). */
const DRIFT_SAMPLES_PER_SECOND = 1000;
/** The ratio Triton reports for its dynamic batcher (issue 5). */
const TRITON_RATIO = 3.3;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  quick: boolean;
  write: boolean;
  imdb: string;
  /** Repetitions of the main grid (interleaved), medians reported. */
  runs: number;
  /** Seconds measured per point, and of warm-up before it. */
  duration: number;
  warmup: number;
  /** Passes over the validation reviews per in-process measurement (the fastest is kept). */
  passes: number;
  knobs: boolean;
  /** Adjacent pairs of monitoring on and off at c=64, for the monitoring cost. */
  monitoringPairs: number;
  keep: boolean;
  ledge: string;
  argv: string[];
}

const USAGE = `usage: node dist/bench/serve-bench.js [options]
  --quick         smoke mode: the 2,000-review sample, 2.5 s points, 1 run
  --write         update the "${SECTION}" section of docs/benchmarks.md
  --imdb PATH     IMDB archive (default ../shared/datasets/imdb/aclImdb_train.tar.gz;
                  with --quick examples/imdb/data/aclImdb_sample.tar.gz)
  --runs N        repetitions of the main grid, interleaved, medians reported (default 5; 1 with --quick)
  --duration S    seconds measured per point (default 10; 2.5 with --quick)
  --warmup S      seconds of load before each measured point (default 3; 1 with --quick)
  --no-knobs      skip the knob exploration (max delay, max batch, 8 reviews per request, ...)
  --monitoring-pairs N
                  adjacent monitoring on/off pairs at c=64 for the monitoring cost (default 6; 1 with --quick)
  --ledge PATH    bin/ledge.js of the build to measure (default: this checkout's)
  --keep          keep the temp directory (for debugging)`;

function parseOptions(argv: string[]): Options {
  const opts: Partial<Options> = {};
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    return v;
  };
  const positive = (raw: string, flag: string, integer: boolean): number => {
    const n = Number(raw);
    if (!(n > 0) || (integer && !Number.isInteger(n)))
      throw new Error(`${flag} must be a positive ${integer ? 'integer' : 'number'}, not '${raw}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') opts.quick = true;
    else if (arg === '--write') opts.write = true;
    else if (arg === '--no-knobs') opts.knobs = false;
    else if (arg === '--keep') opts.keep = true;
    else if (arg === '--runs') opts.runs = positive(value(i++, arg), arg, true);
    else if (arg === '--monitoring-pairs') opts.monitoringPairs = positive(value(i++, arg), arg, true);
    else if (arg === '--duration') opts.duration = positive(value(i++, arg), arg, false);
    else if (arg === '--warmup') opts.warmup = positive(value(i++, arg), arg, false);
    else if (arg === '--imdb') opts.imdb = path.resolve(value(i++, arg));
    else if (arg === '--ledge') opts.ledge = path.resolve(value(i++, arg));
    else if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown option '${arg}'\n${USAGE}`);
  }
  const quick = opts.quick ?? false;
  return {
    quick,
    write: opts.write ?? false,
    imdb: opts.imdb ?? (quick ? SAMPLE_ARCHIVE : FULL_ARCHIVE),
    runs: opts.runs ?? (quick ? 1 : 5),
    duration: opts.duration ?? (quick ? 2.5 : 10),
    warmup: opts.warmup ?? (quick ? 1 : 3),
    passes: quick ? 1 : 5,
    knobs: opts.knobs ?? true,
    monitoringPairs: opts.monitoringPairs ?? (quick ? 1 : 6),
    keep: opts.keep ?? false,
    ledge: opts.ledge ?? path.join(ROOT, 'bin', 'ledge.js'),
    argv,
  };
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ms = (x: number) => (x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(1)} ms`);
const us = (seconds: number) =>
  seconds >= 1e-3 ? ms(seconds * 1000) : `${(seconds * 1e6).toFixed(seconds < 1e-5 ? 1 : 0)} µs`;
const rate = (n: number) => `${fmtCount(n)}/s`;
const yesNo = (ok: boolean) => (ok ? 'met' : '**not met**');
const cores = (x: number) => x.toFixed(2);

/** Nearest-rank quantile of sorted values. */
function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

// ---------------------------------------------------------------------------------------------
// /proc: CPU time and memory of a process, and of the machine

/** CPU seconds (user + system, all threads) a process has used, from /proc/<pid>/stat. */
function processCpuSeconds(pid: number, clockTicks: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`, clockTicks);
}

/** CPU seconds of a process's main thread (its thread id is the process id). */
function mainThreadCpuSeconds(pid: number, clockTicks: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`, clockTicks);
}

function statCpuSeconds(file: string, clockTicks: number): number {
  const stat = fs.readFileSync(file, 'utf8');
  // After the command name (in parentheses, which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** Busy and stolen CPU seconds of the whole machine since boot, from /proc/stat. */
function machineCpuSeconds(clockTicks: number): { busy: number; steal: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // user nice system idle iowait irq softirq steal …: busy is everything but idle, iowait and steal.
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return {
    busy: ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) / clockTicks,
    steal: (steal ?? 0) / clockTicks,
  };
}

/** A `Vm*` line of /proc/<pid>/status in KiB (VmRSS: now, VmHWM: peak since start). */
function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s*(\\d+) kB`, 'm').exec(
      fs.readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The load generator (a separate process: this file with --loadgen CONFIG)

interface LoadgenConfig {
  url: string;
  path: string;
  bodiesFile: string;
  connections: number;
  pipelining: number;
  warmupSeconds: number;
  durationSeconds: number;
  serverPid: number;
  /** The server's /metrics, read before and after the measured run (monitoring on only). */
  metricsUrl: string | undefined;
  clockTicks: number;
}

interface BatchCounters {
  batches: number;
  docs: number;
}

interface LoadResult {
  /** 2xx responses in the measured run, and everything else that went wrong. */
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  warmupOk: number;
  seconds: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  loadgenCpuSeconds: number;
  serverCpuSeconds: number;
  /** …of which the server's main thread (HTTP, JSON, the model call, monitoring's hooks). */
  serverMainCpuSeconds: number;
  machineBusySeconds: number;
  machineStealSeconds: number;
  /** Model calls and documents scored in the measured run (from the server's /metrics). */
  batches: BatchCounters | undefined;
}

interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
}

interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}

type Autocannon = (
  options: Record<string, unknown>,
  done: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

async function readBatchCounters(url: string | undefined): Promise<BatchCounters | undefined> {
  if (url === undefined) return undefined;
  const text = await (await fetch(url)).text();
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return { batches: sum('ledge_inference_batch_size_count'), docs: sum('ledge_inference_batch_size_sum') };
}

async function loadgenMain(configFile: string): Promise<void> {
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as LoadgenConfig;
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const bodies = (JSON.parse(fs.readFileSync(config.bodiesFile, 'utf8')) as string[]).map((b) =>
    Buffer.from(b),
  );
  // One sequence over all connections: each request takes the next review, so the reviews that
  // meet in a batch are a mix of lengths, as with independent clients.
  let next = 0;
  const request = {
    method: 'POST',
    path: config.path,
    headers: { 'content-type': 'application/json' },
    setupRequest: (req: Record<string, unknown>) => {
      const body = bodies[next]!;
      next = (next + 1) % bodies.length;
      return { ...req, body };
    },
  };
  const load = (seconds: number, onResponse: (status: number, ms: number) => void) =>
    new Promise<AutocannonResult>((resolve, reject) => {
      const instance = autocannon(
        {
          url: config.url,
          connections: config.connections,
          pipelining: config.pipelining,
          duration: seconds,
          timeout: 30,
          requests: [request],
        },
        (error, result) => (error ? reject(error) : resolve(result)),
      );
      instance.on('response', (_client, status, _bytes, responseMs) => onResponse(status, responseMs));
    });

  let warmupOk = 0;
  await load(config.warmupSeconds, (status) => {
    if (status >= 200 && status < 300) warmupOk++;
  });

  // Latencies as autocannon measures each response (hrtime, from writing the request to the end
  // of the response); its own histogram keeps whole milliseconds only.
  let latencies = new Float64Array(1 << 16);
  let ok = 0;
  let non2xx = 0;
  const before = {
    batches: await readBatchCounters(config.metricsUrl),
    server: processCpuSeconds(config.serverPid, config.clockTicks),
    serverMain: mainThreadCpuSeconds(config.serverPid, config.clockTicks),
    machine: machineCpuSeconds(config.clockTicks),
    self: process.cpuUsage(),
    time: performance.now(),
  };
  const result = await load(config.durationSeconds, (status, responseMs) => {
    if (status < 200 || status >= 300) {
      non2xx++;
      return;
    }
    if (ok === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[ok++] = responseMs;
  });
  const seconds = (performance.now() - before.time) / 1000;
  const self = process.cpuUsage(before.self);
  const server = processCpuSeconds(config.serverPid, config.clockTicks);
  const serverMain = mainThreadCpuSeconds(config.serverPid, config.clockTicks);
  const machine = machineCpuSeconds(config.clockTicks);
  const batches = await readBatchCounters(config.metricsUrl);
  const sorted = latencies.subarray(0, ok).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  const out: LoadResult = {
    ok,
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    warmupOk,
    seconds,
    latencyMs: {
      p50: quantile(sorted, 0.5),
      p90: quantile(sorted, 0.9),
      p99: quantile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
      mean: sum / Math.max(ok, 1),
    },
    loadgenCpuSeconds: (self.user + self.system) / 1e6,
    serverCpuSeconds: server - before.server,
    serverMainCpuSeconds: serverMain - before.serverMain,
    machineBusySeconds: machine.busy - before.machine.busy,
    machineStealSeconds: machine.steal - before.machine.steal,
    batches:
      batches && before.batches
        ? { batches: batches.batches - before.batches.batches, docs: batches.docs - before.batches.docs }
        : undefined,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Processes the benchmark started (servers, load generators), stopped on exit or Ctrl-C

const children = new Set<ChildProcess>();

function killChildren(): void {
  for (const child of children) {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

function spawnTracked(argv: string[], cwd: string): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd,
    env: benchEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a benchmark stopped half-way can kill it for sure.
    detached: true,
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** The last `limit` characters of a stream. */
function tail(stream: NodeJS.ReadableStream, limit = 64 << 10): { text: () => string; lines: () => number } {
  let text = '';
  let lines = 0;
  stream.on('data', (chunk: Buffer) => {
    const s = chunk.toString('utf8');
    for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) lines++;
    text += s;
    if (text.length > limit) text = text.slice(text.length - limit);
  });
  return { text: () => text, lines: () => lines };
}

// ---------------------------------------------------------------------------------------------
// The server

interface ServerConfig {
  batching: boolean;
  monitoring: boolean;
  maxBatch?: number;
  maxDelayMs?: number;
  /** --prediction-log DIR (what serving in a workspace does by default). */
  predictionLog?: boolean;
}

function serverFlags(s: ServerConfig): string[] {
  const flags: string[] = [];
  if (!s.batching) flags.push('--no-batching');
  if (!s.monitoring) flags.push('--no-monitoring');
  if (s.maxBatch !== undefined) flags.push('--max-batch', String(s.maxBatch));
  if (s.maxDelayMs !== undefined) flags.push('--max-delay-ms', String(s.maxDelayMs));
  return flags;
}

interface RunningServer {
  pid: number;
  url: string;
  name: string;
  stderr: ReturnType<typeof tail>;
  /** SIGTERM, then wait for the exit (SIGKILL after 20 s); the exit code. */
  stop(): Promise<number | string>;
}

const SERVING_LINE = /serving (\S+) version (\S+) at (http:\/\/\S+)/;

async function startServer(
  ledgeBin: string,
  bundle: string,
  config: ServerConfig,
  cwd: string,
  predictionLogDir: string,
): Promise<RunningServer> {
  const argv = [process.execPath, ledgeBin, 'serve', bundle, '--port', '0', ...serverFlags(config)];
  if (config.predictionLog) argv.push('--prediction-log', predictionLogDir);
  const child = spawnTracked(argv, cwd);
  const stderr = tail(child.stderr!);
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const started = await new Promise<{ name: string; url: string }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`ledge serve did not start in 60 s:\n${stderr.text()}`)),
      60_000,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = SERVING_LINE.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ name: match[1]!, url: match[3]! });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`ledge serve exited with ${code} before serving:\n${stderr.text().slice(-3000)}`));
    });
  });
  return {
    pid: child.pid!,
    url: started.url,
    name: started.name,
    stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const hard = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }, 20_000);
      const code = await exited;
      clearTimeout(hard);
      return code;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Points: a server configuration under a load

interface LoadConfig {
  connections: number;
  pipelining: number;
  /** Reviews per request body. */
  instances: number;
}

interface Point {
  key: string;
  /** What the knob row shows. */
  label: string;
  server: ServerConfig;
  load: LoadConfig;
}

interface Measured {
  point: Point;
  result: LoadResult;
  /** VmRSS after the model loaded and the probe answered, before the load. */
  rssStartKiB: number | undefined;
  /** Peak VmRSS sampled every 100 ms under load (warm-up and measured run), and VmHWM at the end. */
  rssPeakKiB: number | undefined;
  hwmKiB: number | undefined;
  /** Lines the server logged at warn or error (a healthy run has none). */
  serverWarnings: string[];
  /** The server's preprocessing threads, from its server-started log line (0: inline). */
  preprocessThreads: number | undefined;
  exitCode: number | string;
  /** Measurements made of this point (more than 1: other work on the machine disturbed the earlier ones). */
  attempts: number;
}

interface Context {
  work: string;
  ledgeBin: string;
  /** A copy of this script next to the ledge snapshot, run as the load generator. */
  loadgenScript: string;
  bundle: string;
  serveCwd: string;
  bodies: Record<number, string>;
  clockTicks: number;
  opts: Options;
}

async function measurePoint(ctx: Context, point: Point): Promise<Measured> {
  const logDir = path.join(ctx.work, 'prediction-log');
  removeTree(logDir);
  const server = await startServer(ctx.ledgeBin, ctx.bundle, point.server, ctx.serveCwd, logDir);
  let measured: Omit<Measured, 'exitCode' | 'attempts'>;
  try {
    const predictPath = `/v1/models/${server.name}:predict`;
    // A first request, checked: the server answers what the load generator will send.
    const probeBody = (
      JSON.parse(fs.readFileSync(ctx.bodies[point.load.instances]!, 'utf8')) as string[]
    )[0]!;
    const probe = await fetch(server.url + predictPath, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: probeBody,
    });
    const answer = (await probe.json()) as { predictions?: unknown[] };
    if (probe.status !== 200 || answer.predictions?.length !== point.load.instances)
      throw new Error(
        `${point.key}: the probe request got ${probe.status} ${JSON.stringify(answer).slice(0, 300)}`,
      );
    const config: LoadgenConfig = {
      url: server.url,
      path: predictPath,
      bodiesFile: ctx.bodies[point.load.instances]!,
      connections: point.load.connections,
      pipelining: point.load.pipelining,
      warmupSeconds: ctx.opts.warmup,
      durationSeconds: ctx.opts.duration,
      serverPid: server.pid,
      metricsUrl: point.server.monitoring ? `${server.url}/metrics` : undefined,
      clockTicks: ctx.clockTicks,
    };
    const configFile = path.join(ctx.work, 'loadgen.json');
    fs.writeFileSync(configFile, JSON.stringify(config));
    const rssStart = statusKiB(server.pid, 'VmRSS');
    let rssPeak = 0;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, statusKiB(server.pid, 'VmRSS') ?? 0);
    }, 100);
    let out: string;
    try {
      const loadgen = spawnTracked([process.execPath, ctx.loadgenScript, '--loadgen', configFile], ctx.work);
      const stdout = tail(loadgen.stdout!);
      const stderr = tail(loadgen.stderr!);
      const limit = (ctx.opts.warmup + ctx.opts.duration) * 1000 + 120_000;
      const code = await new Promise<number | string>((resolve) => {
        const timer = setTimeout(() => loadgen.kill('SIGKILL'), limit);
        loadgen.on('close', (c, signal) => {
          clearTimeout(timer);
          resolve(c ?? signal ?? 'unknown');
        });
      });
      if (code !== 0)
        throw new Error(`${point.key}: the load generator exited with ${code}:\n${stderr.text()}`);
      out = stdout.text();
    } finally {
      clearInterval(sampler);
    }
    const result = JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
    const warnings = server.stderr
      .text()
      .split('\n')
      .filter((line) => /"level":"(warn|error)"/.test(line));
    measured = {
      point,
      result,
      rssStartKiB: rssStart,
      rssPeakKiB: rssPeak || undefined,
      hwmKiB: statusKiB(server.pid, 'VmHWM'),
      serverWarnings: warnings,
      preprocessThreads: preprocessThreadsOf(server.stderr.text()),
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
  const exitCode = await server.stop();
  removeTree(logDir);
  const r = measured.result;
  log(
    `${point.key}: ${rate((r.ok * point.load.instances) / r.seconds)} reviews, p50 ${ms(r.latencyMs.p50)}, ` +
      `p99 ${ms(r.latencyMs.p99)}, server ${cores(r.serverCpuSeconds / r.seconds)} cores ` +
      `(main thread ${cores(r.serverMainCpuSeconds / r.seconds)}), loadgen ` +
      `${cores(r.loadgenCpuSeconds / r.seconds)}, machine ${cores(r.machineBusySeconds / r.seconds)}, ` +
      `RSS ${fmtMiB(measured.rssPeakKiB)}` +
      (r.batches ? `, mean batch ${(r.batches.docs / Math.max(r.batches.batches, 1)).toFixed(1)}` : '') +
      (r.non2xx + r.errors + r.timeouts > 0
        ? `, non-2xx ${r.non2xx} errors ${r.errors} timeouts ${r.timeouts}`
        : '') +
      (exitCode !== 0 ? `, server exit ${exitCode}` : ''),
  );
  return { ...measured, exitCode, attempts: 1 };
}

/** The preprocessing threads the server reported when it started. */
function preprocessThreadsOf(stderr: string): number | undefined {
  const match = /"preprocessThreads":(\d+)/.exec(stderr);
  return match ? Number(match[1]) : undefined;
}

/** Other work above this many cores during a measured run: the point is measured again. */
const MAX_OTHER_CORES = 0.25;
const MAX_ATTEMPTS = 3;

/** CPU the rest of the machine (other tenants, this benchmark) used during a measured run, in cores. */
function otherCoresOf(m: Measured): number {
  const r = m.result;
  return (r.machineBusySeconds - r.serverCpuSeconds - r.loadgenCpuSeconds) / r.seconds;
}

/**
 * Measures a point; while other work on the machine took more than MAX_OTHER_CORES of it, again
 * (after a pause), up to MAX_ATTEMPTS times; keeps the least disturbed measurement.
 */
async function measureQuietly(ctx: Context, point: Point): Promise<Measured> {
  let best: Measured | undefined;
  let attempt = 0;
  while (attempt < MAX_ATTEMPTS) {
    attempt++;
    const m = await measurePoint(ctx, point);
    if (best === undefined || otherCoresOf(m) < otherCoresOf(best)) best = m;
    if (otherCoresOf(m) <= MAX_OTHER_CORES) break;
    if (attempt < MAX_ATTEMPTS) {
      log(`${point.key}: other work took ${cores(otherCoresOf(m))} cores meanwhile; measuring it again`);
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
  }
  return { ...best!, attempts: attempt };
}

const DEFAULT_SERVER: ServerConfig = { batching: true, monitoring: true };

/** The main grid: batching on/off × monitoring on/off × concurrency 1, 16, 64. */
function gridPoints(): Point[] {
  const points: Point[] = [];
  for (const batching of [true, false]) {
    for (const monitoring of [true, false]) {
      for (const c of CONCURRENCY) {
        points.push({
          key: gridKey(batching, monitoring, c),
          label: '',
          server: { batching, monitoring },
          load: { connections: c, pipelining: 1, instances: 1 },
        });
      }
    }
  }
  return points;
}

/** The monitoring cost's points: the defaults at c=64, with monitoring on and off. */
function monitoringPairPoints(): { on: Point; off: Point } {
  const point = (monitoring: boolean): Point => ({
    key: `pair/monitoring-${monitoring ? 'on' : 'off'}/c64`,
    label: '',
    server: { ...DEFAULT_SERVER, monitoring },
    load: { connections: 64, pipelining: 1, instances: 1 },
  });
  return { on: point(true), off: point(false) };
}

const gridKey = (batching: boolean, monitoring: boolean, c: number) =>
  `batching-${batching ? 'on' : 'off'}/monitoring-${monitoring ? 'on' : 'off'}/c${c}`;

/** The defaults measured before and after the knobs: what the knob rows are compared with. */
const KNOB_BASELINE = ['defaults-before/c64', 'defaults-after/c64'] as const;

/** Mean reviews/s of the knob baseline (the defaults at c=64, before and after the knobs). */
function knobBaseline(knobs: Map<string, Row>): number | undefined {
  const rows = KNOB_BASELINE.map((key) => knobs.get(key)).filter((row): row is Row => row !== undefined);
  return rows.length ? rows.reduce((sum, row) => sum + row.reviewsPerS, 0) / rows.length : undefined;
}

/** How far apart the two measurements of the knob baseline are, as a share of their mean. */
function noiseBand(knobs: Map<string, Row>): string {
  const [a, b] = KNOB_BASELINE.map((key) => knobs.get(key)?.reviewsPerS);
  if (a === undefined || b === undefined) return 'n/a';
  return pct(Math.abs(a - b) / ((a + b) / 2));
}

/** A knob row's reviews/s against the defaults at the same number of requests in flight. */
function vsDefaults(row: Row, grid: Map<string, Row>, knobs: Map<string, Row>): string {
  const inFlight = row.point.load.connections * row.point.load.pipelining;
  if (inFlight === 64) {
    const baseline = knobBaseline(knobs);
    return baseline === undefined ? 'n/a' : signedPct(row.reviewsPerS / baseline - 1);
  }
  const base = grid.get(gridKey(true, true, inFlight));
  return base ? `${signedPct(row.reviewsPerS / base.reviewsPerS - 1)} (grid)` : 'n/a';
}

/** The knobs, each against the default (batching on, max batch 64, max delay 2 ms, monitoring on). */
function knobPoints(): Point[] {
  const single = (connections: number): LoadConfig => ({ connections, pipelining: 1, instances: 1 });
  const eight = (connections: number): LoadConfig => ({ connections, pipelining: 1, instances: 8 });
  const k = (key: string, label: string, server: Partial<ServerConfig>, load: LoadConfig): Point => ({
    key,
    label,
    server: { ...DEFAULT_SERVER, ...server },
    load,
  });
  return [
    k(KNOB_BASELINE[0], '**defaults**, before the knobs', {}, single(64)),
    k('delay2/c1', '`--max-delay-ms 2`, c=1', { maxDelayMs: 2 }, single(1)),
    k('delay2/c16', '`--max-delay-ms 2`, c=16', { maxDelayMs: 2 }, single(16)),
    k('delay0.5/c64', '`--max-delay-ms 0.5`', { maxDelayMs: 0.5 }, single(64)),
    k('delay2/c64', '`--max-delay-ms 2`', { maxDelayMs: 2 }, single(64)),
    k('delay5/c64', '`--max-delay-ms 5`', { maxDelayMs: 5 }, single(64)),
    k('batch8/c64', '`--max-batch 8`', { maxBatch: 8 }, single(64)),
    k('batch16/c64', '`--max-batch 16`', { maxBatch: 16 }, single(64)),
    k('batch32/c64', '`--max-batch 32`', { maxBatch: 32 }, single(64)),
    k(
      'pipelining/c16x4',
      '16 connections × pipelining 4 (64 in flight)',
      {},
      { ...single(16), pipelining: 4 },
    ),
    k(
      'predlog/c64',
      '`--prediction-log DIR` (every prediction to disk, the workspace default)',
      { predictionLog: true },
      single(64),
    ),
    k('x8/c16', '8 reviews per request, c=16', {}, eight(16)),
    k('x8/c64', '8 reviews per request', {}, eight(64)),
    k('x8-batch256/c64', '8 reviews per request, `--max-batch 256`', { maxBatch: 256 }, eight(64)),
    k('x8-nobatch/c64', '8 reviews per request, `--no-batching`', { batching: false }, eight(64)),
    k(KNOB_BASELINE[1], '**defaults**, after the knobs', {}, single(64)),
  ];
}

// ---------------------------------------------------------------------------------------------
// Setup: data and the model, with the real CLI

interface Labelled {
  text: string;
  label: string;
}

interface Setup {
  trainCount: number;
  validationCount: number;
  reviews: string[];
  bundle: string;
  modelBytes: number;
  params: Record<string, unknown>;
  accuracy: number;
  prepareSeconds: number;
  trainSeconds: number;
}

async function setUp(work: string, ledgeBin: string, opts: Options): Promise<Setup> {
  if (!fs.existsSync(opts.imdb)) throw new Error(`IMDB archive not found at ${opts.imdb} (pass --imdb PATH)`);
  const cli = (...args: string[]) => [process.execPath, ledgeBin, ...args];
  const prepare = check(
    await run(cli('imdb', 'prepare', '--source', opts.imdb, '--out', 'prep', '--json'), {
      cwd: work,
      env: benchEnv(),
      timeoutMs: TIMEOUT_MS,
    }),
    'ledge imdb prepare',
  );
  const counts = JSON.parse(prepare.stdout) as { train: number; validation: number };
  const train = check(
    await run(
      cli(
        'train',
        '--train',
        'prep/train.jsonl',
        '--validation',
        'prep/validation.jsonl',
        '--out',
        'model',
        '--json',
      ),
      { cwd: work, env: benchEnv(), timeoutMs: TIMEOUT_MS },
    ),
    'ledge train',
  );
  const card = (
    JSON.parse(train.stdout) as {
      card: { trainer: { params: Record<string, unknown> }; metrics: { validation: { accuracy: number } } };
    }
  ).card;
  const bundle = path.join(work, 'model');
  const reviews = fs
    .readFileSync(path.join(work, 'prep', 'validation.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (JSON.parse(line) as Labelled).text);
  log(
    `data: ${fmtCount(counts.train)} training, ${fmtCount(counts.validation)} validation reviews (prepare ` +
      `${fmtSeconds(prepare.seconds)}); model trained in ${fmtSeconds(train.seconds)}, 2^${card.trainer.params.bits} ` +
      `buckets, validation accuracy ${pct(card.metrics.validation.accuracy)}`,
  );
  return {
    trainCount: counts.train,
    validationCount: counts.validation,
    reviews,
    bundle,
    modelBytes: fs.statSync(path.join(bundle, 'model.onnx')).size,
    params: card.trainer.params,
    accuracy: card.metrics.validation.accuracy,
    prepareSeconds: prepare.seconds,
    trainSeconds: train.seconds,
  };
}

/**
 * Copies this script (and bench/lib) into the ledge snapshot, so a rebuild of the checkout while
 * the benchmark runs cannot change the load generator; autocannon resolves through the
 * snapshot's node_modules link.
 */
function snapshotLoadgen(ledgeBin: string): string {
  const dir = path.join(path.dirname(path.dirname(ledgeBin)), 'bench');
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(path.join(path.dirname(THIS_FILE), 'lib'), path.join(dir, 'lib'), { recursive: true });
  const script = path.join(dir, path.basename(THIS_FILE));
  fs.copyFileSync(THIS_FILE, script);
  return script;
}

/** The validation reviews in a seeded random order (the file is not in random order). */
function shuffled(reviews: string[]): string[] {
  const out = [...reviews];
  const random = prng(0x5e27e);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Request bodies of `instances` reviews each, as a JSON file of strings. */
function writeBodies(work: string, reviews: string[], instances: number): string {
  const bodies: string[] = [];
  for (let i = 0; i + instances <= reviews.length; i += instances) {
    bodies.push(JSON.stringify({ instances: reviews.slice(i, i + instances) }));
  }
  const file = path.join(work, `bodies-${instances}.json`);
  fs.writeFileSync(file, JSON.stringify(bodies));
  return file;
}

// ---------------------------------------------------------------------------------------------
// 1. The limit: in process

interface BatchTiming {
  batch: number;
  /** Median seconds of a pass over all reviews. */
  scoreIds: number;
  predict: number;
  calls: number;
}

/** What monitoring adds per review, in process (seconds per review); undefined if not measurable. */
interface MonitoringWork {
  /** The server's preprocessing (`prepareText`) without and with the input statistics drift needs. */
  prepare: number;
  prepareWithStatistics: number;
  /** `onPredictions` + `onRequest` of the server's monitor, one review per request. */
  hooks: number;
  hookEvents: number;
}

interface LimitFigure {
  reviews: number;
  meanChars: number;
  meanIds: number;
  /** Median seconds to preprocess every review once (`features`). */
  features: number;
  batches: BatchTiming[];
  /** Seconds of one `scoreIds` call on a one-id document: the fixed cost of a model call. */
  perCall: number;
  loadSeconds: number;
  monitoring: MonitoringWork | undefined;
}

type TextModelModule = typeof import('../src/runtime/model/text-model.js');
type ServableModule = typeof import('../src/runtime/server/servable-model.js');
type MonitorModule = typeof import('../src/runtime/monitoring/create-monitor.js');
type PredictionEvent = import('../src/runtime/monitoring/monitor.js').PredictionEvent;

/** Seconds per `scoreIds` call of `batch` reviews, interpolated between the measured batch sizes. */
function callSeconds(f: LimitFigure, batch: number): number {
  const at = f.batches.map((t) => ({ b: f.reviews / t.calls, s: t.scoreIds / t.calls }));
  if (batch <= at[0]!.b) return at[0]!.s;
  for (let i = 1; i < at.length; i++) {
    const lo = at[i - 1]!;
    const hi = at[i]!;
    if (batch <= hi.b) return lo.s + ((hi.s - lo.s) * (batch - lo.b)) / (hi.b - lo.b);
  }
  const last = at[at.length - 1]!;
  return (last.s / last.b) * batch;
}

async function figureLimit(
  ledgeBin: string,
  bundle: string,
  reviews: string[],
  opts: Options,
): Promise<LimitFigure> {
  const file = path.join(
    path.dirname(path.dirname(ledgeBin)),
    'dist',
    'src',
    'runtime',
    'model',
    'text-model.js',
  );
  const { TextModel } = (await import(pathToFileURL(file).href)) as TextModelModule;
  const loadStarted = performance.now();
  const model = await TextModel.load(bundle);
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  try {
    const time = async (fn: () => Promise<void> | void): Promise<number> => {
      const seconds: number[] = [];
      for (let i = 0; i < opts.passes; i++) {
        const t0 = performance.now();
        await fn();
        seconds.push((performance.now() - t0) / 1000);
      }
      // The fastest pass: other work on a shared machine only ever adds time to a CPU-bound loop.
      return Math.min(...seconds);
    };
    // Warm-up: JIT and ONNX Runtime's first runs, every batch size once.
    for (const b of BATCH_SIZES) await model.predict(reviews.slice(0, Math.min(b, reviews.length)));
    for (const text of reviews.slice(0, 200)) model.features(text);
    let docs: Int32Array[] = [];
    const features = await time(() => {
      docs = reviews.map((text) => model.features(text));
    });
    const batches: BatchTiming[] = [];
    for (const b of BATCH_SIZES) {
      const chunks = Math.ceil(reviews.length / b);
      const scoreIds = await time(async () => {
        for (let i = 0; i < reviews.length; i += b) await model.scoreIds(docs.slice(i, i + b));
      });
      const predict = await time(async () => {
        for (let i = 0; i < reviews.length; i += b) await model.predict(reviews.slice(i, i + b));
      });
      batches.push({ batch: b, scoreIds, predict, calls: chunks });
      log(
        `in process, batch ${b}: scoreIds ${rate(reviews.length / scoreIds)}, predict(texts) ` +
          `${rate(reviews.length / predict)}`,
      );
    }
    // The fixed cost of a call: a document of one feature id, scored alone, many times.
    const tiny = [Int32Array.of(1)];
    const tinyCalls = 2000;
    const perCall =
      (await time(async () => {
        for (let i = 0; i < tinyCalls; i++) await model.scoreIds(tiny);
      })) / tinyCalls;
    log(
      `in process: preprocessing ${us(features / reviews.length)} per review, a model call ${us(perCall)} + scoring`,
    );
    return {
      reviews: reviews.length,
      meanChars: reviews.reduce((s, t) => s + t.length, 0) / reviews.length,
      meanIds: docs.reduce((s, d) => s + d.length, 0) / docs.length,
      features,
      batches,
      perCall,
      loadSeconds,
      monitoring: await monitoringWork(ledgeBin, bundle, reviews, opts),
    };
  } finally {
    await model.close();
  }
}

/**
 * What monitoring asks of the server per review, measured in process with the server's own
 * modules: preprocessing with the input statistics (token count, out-of-vocabulary rate) against
 * without, and the monitor's hooks (the server's default monitor, a silent logger) over enough
 * predictions to fill its memory of recent predictions, as a server under load does.
 */
async function monitoringWork(
  ledgeBin: string,
  bundle: string,
  reviews: string[],
  opts: Options,
): Promise<MonitoringWork | undefined> {
  const dist = path.join(path.dirname(path.dirname(ledgeBin)), 'dist', 'src', 'runtime');
  let servable: ServableModule;
  let monitoring: MonitorModule;
  try {
    servable = (await import(
      pathToFileURL(path.join(dist, 'server', 'servable-model.js')).href
    )) as ServableModule;
    monitoring = (await import(
      pathToFileURL(path.join(dist, 'monitoring', 'create-monitor.js')).href
    )) as MonitorModule;
  } catch (error) {
    log(`monitoring's work not measured: ${(error as Error).message}`);
    return undefined;
  }
  const model = await servable.loadTextModel(bundle);
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const monitor = monitoring.createMonitor({ logger: silent });
  try {
    const perReview = async (fn: () => void, passes: number): Promise<number> => {
      const seconds: number[] = [];
      for (let i = 0; i < passes; i++) {
        const t0 = performance.now();
        fn();
        seconds.push((performance.now() - t0) / 1000);
      }
      return median(seconds) / reviews.length;
    };
    for (const text of reviews.slice(0, 200)) servable.prepareText(model, text, true);
    const prepare = await perReview(() => {
      for (const text of reviews) servable.prepareText(model, text, false);
    }, opts.passes);
    const prepareWithStatistics = await perReview(() => {
      for (const text of reviews) servable.prepareText(model, text, true);
    }, opts.passes);
    const prepared = reviews.map((text) => servable.prepareText(model, text, true));
    monitor.addModel?.('bench', '1', model.profile);
    monitor.onModelLoaded('bench', '1', 0);
    let id = 0;
    // A server's ids are 17 characters: the same here, so the remembered predictions weigh the same.
    const nextId = () => (id++).toString(36).padStart(17, '0');
    const hooks = () => {
      for (let i = 0; i < reviews.length; i++) {
        const p = prepared[i]!;
        const event: PredictionEvent = {
          id: nextId(),
          model: 'bench',
          version: '1',
          text: reviews[i]!,
          tokens: p.tokens,
          oovRate: p.oovRate,
          score: (i % 100) / 100,
          label: i % 2 ? 'pos' : 'neg',
        };
        monitor.onPredictions([event]);
        monitor.onRequest({
          model: 'bench',
          version: '1',
          endpoint: 'predict',
          status: 200,
          durationSeconds: 0.001,
          queueSeconds: 0.0005,
        });
      }
      // The hooks note their events and the monitor applies them after the responses are
      // written (or before a read): a read here makes the timed work include applying them.
      monitor.snapshot();
    };
    // Past the default memory of 100,000 predictions, then timed.
    const fill = Math.ceil(110_000 / reviews.length);
    for (let i = 0; i < fill; i++) hooks();
    const passes = Math.max(3, Math.ceil(50_000 / reviews.length));
    const hookSeconds = await perReview(hooks, passes);
    log(
      `in process: server preprocessing ${us(prepare)} per review, ${us(prepareWithStatistics)} with input ` +
        `statistics; monitor hooks ${us(hookSeconds)} per review`,
    );
    return {
      prepare,
      prepareWithStatistics,
      hooks: hookSeconds,
      hookEvents: (fill + passes) * reviews.length,
    };
  } finally {
    await monitor.close();
    await model.close();
  }
}

function limitOf(f: LimitFigure): { predict: BatchTiming; scoreIds: BatchTiming } {
  const best = (key: 'predict' | 'scoreIds') =>
    f.batches.reduce((a, b) => (f.reviews / b[key] > f.reviews / a[key] ? b : a));
  return { predict: best('predict'), scoreIds: best('scoreIds') };
}

// ---------------------------------------------------------------------------------------------
// Machine

interface Machine extends BaseMachine {
  onnxruntime: string;
  autocannon: string;
  hono: string;
}

function machineInfo(ledgeRoot: string): Machine {
  const base = baseMachineInfo(ledgeRoot);
  return {
    ...base,
    onnxruntime: packageVersion(ROOT, 'onnxruntime-node'),
    autocannon: packageVersion(ROOT, 'autocannon'),
    hono: `hono ${packageVersion(ROOT, 'hono')}, @hono/node-server ${packageVersion(ROOT, '@hono/node-server')}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Results {
  setup: Setup;
  limit: LimitFigure;
  /** Every run of every grid point. */
  grid: Measured[];
  /** Adjacent measurements of the defaults at c=64 with monitoring on and off. */
  pairs: MonitoringPair[];
  knobs: Measured[];
}

interface MonitoringPair {
  on: Measured;
  off: Measured;
}

const reviewsPerSecond = (m: Measured) => (m.result.ok * m.point.load.instances) / m.result.seconds;
const cpuPerReview = (m: Measured, cpu: (r: LoadResult) => number) =>
  cpu(m.result) / (m.result.ok * m.point.load.instances);

/** What monitoring costs, pair by pair: throughput lost, and server CPU added per review. */
interface MonitoringCost {
  /** Median over the pairs of 1 − on/off throughput. */
  throughput: number;
  min: number;
  max: number;
  /** Median added server CPU per review (all threads, and the main thread), seconds. */
  cpuPerReview: number;
  mainCpuPerReview: number;
  pairs: number;
}

function monitoringCostOf(pairs: MonitoringPair[]): MonitoringCost | undefined {
  if (pairs.length === 0) return undefined;
  const costs = pairs.map((p) => 1 - reviewsPerSecond(p.on) / reviewsPerSecond(p.off));
  const added = (cpu: (r: LoadResult) => number) =>
    median(pairs.map((p) => cpuPerReview(p.on, cpu) - cpuPerReview(p.off, cpu)));
  return {
    throughput: median(costs),
    min: Math.min(...costs),
    max: Math.max(...costs),
    cpuPerReview: added((r) => r.serverCpuSeconds),
    mainCpuPerReview: added((r) => r.serverMainCpuSeconds),
    pairs: pairs.length,
  };
}

/** A point's figures, the median over its runs. */
interface Row {
  point: Point;
  runs: number;
  reqPerS: number;
  reqMin: number;
  reqMax: number;
  reviewsPerS: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  serverCores: number;
  /** …of which the server's main thread. */
  serverMainCores: number;
  loadgenCores: number;
  otherCores: number;
  serverCpuPerReview: number;
  meanBatch: number | undefined;
  batchesPerS: number | undefined;
  rssStartKiB: number | undefined;
  rssPeakKiB: number | undefined;
  hwmKiB: number | undefined;
  /** The server's preprocessing threads (0: inline), as it reported them. */
  preprocessThreads: number | undefined;
  failures: number;
  warnings: number;
  badExits: number;
  /** Runs measured again because of other load, and runs still disturbed after the last attempt. */
  retried: number;
  contended: number;
}

function summarizePoint(runs: Measured[]): Row {
  const point = runs[0]!.point;
  const each = <T>(fn: (m: Measured) => T) => runs.map(fn);
  const med = (fn: (m: Measured) => number) => median(each(fn));
  const req = each((m) => m.result.ok / m.result.seconds);
  const batched = runs.filter((m) => m.result.batches !== undefined);
  const rss = each((m) => m.rssPeakKiB).filter((x): x is number => x !== undefined);
  const hwm = each((m) => m.hwmKiB).filter((x): x is number => x !== undefined);
  return {
    point,
    runs: runs.length,
    reqPerS: median(req),
    reqMin: Math.min(...req),
    reqMax: Math.max(...req),
    reviewsPerS: median(req) * point.load.instances,
    p50: med((m) => m.result.latencyMs.p50),
    p90: med((m) => m.result.latencyMs.p90),
    p99: med((m) => m.result.latencyMs.p99),
    max: Math.max(...each((m) => m.result.latencyMs.max)),
    serverCores: med((m) => m.result.serverCpuSeconds / m.result.seconds),
    serverMainCores: med((m) => m.result.serverMainCpuSeconds / m.result.seconds),
    loadgenCores: med((m) => m.result.loadgenCpuSeconds / m.result.seconds),
    // Tick-based accounting can put a little more on the processes than on the machine: never below 0.
    otherCores: Math.max(0, med(otherCoresOf)),
    serverCpuPerReview: med((m) => m.result.serverCpuSeconds / (m.result.ok * point.load.instances)),
    meanBatch: batched.length
      ? median(batched.map((m) => m.result.batches!.docs / Math.max(m.result.batches!.batches, 1)))
      : point.server.batching
        ? undefined
        : point.load.instances,
    batchesPerS: batched.length
      ? median(batched.map((m) => m.result.batches!.batches / m.result.seconds))
      : undefined,
    rssStartKiB: median(each((m) => m.rssStartKiB ?? Number.NaN)),
    rssPeakKiB: rss.length ? Math.max(...rss) : undefined,
    hwmKiB: hwm.length ? Math.max(...hwm) : undefined,
    preprocessThreads: runs.find((m) => m.preprocessThreads !== undefined)?.preprocessThreads,
    failures: runs.reduce((s, m) => s + m.result.non2xx + m.result.errors + m.result.timeouts, 0),
    warnings: runs.reduce((s, m) => s + m.serverWarnings.length, 0),
    badExits: runs.filter((m) => m.exitCode !== 0).length,
    retried: runs.filter((m) => m.attempts > 1).length,
    contended: runs.filter((m) => otherCoresOf(m) > MAX_OTHER_CORES).length,
  };
}

function rowsOf(measured: Measured[]): Map<string, Row> {
  const byKey = new Map<string, Measured[]>();
  for (const m of measured) byKey.set(m.point.key, [...(byKey.get(m.point.key) ?? []), m]);
  return new Map([...byKey].map(([key, runs]) => [key, summarizePoint(runs)]));
}

function machineLine(machine: Machine, opts: Options): string {
  return (
    `**Machine:** ${machine.cpu}, ${machine.nproc} cores (os.availableParallelism), ${machine.memory} RAM, ${machine.kernel}; ` +
    `Node ${machine.node}; onnxruntime-node ${machine.onnxruntime}; ${machine.hono}; autocannon ${machine.autocannon}; ` +
    `ledge at ${machine.commit}${opts.ledge === path.join(ROOT, 'bin', 'ledge.js') ? '' : ` (build measured: ${opts.ledge})`}.`
  );
}

function report(r: Results, machine: Machine, opts: Options, started: Date, minutes: number): string {
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  const grid = rowsOf(r.grid);
  const knobs = rowsOf(r.knobs);
  const g = (batching: boolean, monitoring: boolean, c: number) =>
    grid.get(gridKey(batching, monitoring, c))!;
  const limit = limitOf(r.limit);
  const limitRate = r.limit.reviews / limit.predict.predict;
  const scoreRate = r.limit.reviews / limit.scoreIds.scoreIds;
  const archive = path.relative(ROOT, opts.imdb);
  const mode = opts.quick ? 'quick (smoke) mode: NOT the target data or durations' : 'full';
  const args = opts.argv.length ? ` (this run: \`${opts.argv.map(shellQuote).join(' ')}\`)` : '';
  const p = r.setup.params;

  push(
    `_Generated by \`bench/serve-bench.ts\` on ${started.toISOString().replace(/\.\d+Z$/, 'Z')} in ${minutes.toFixed(1)} min; ${mode}; ` +
      `${opts.runs} run(s) of the main grid, ${opts.duration} s measured per point after ${opts.warmup} s of warm-up._`,
    '',
    `Reproduce: \`${REPRODUCE}\`${args}. Options: \`--quick\`, \`--runs N\`, \`--duration S\`, \`--warmup S\`, \`--no-knobs\`, \`--imdb PATH\`.`,
    '',
    machineLine(machine, opts),
    '',
    `**Model and data:** \`${archive}\` through \`ledge imdb prepare\` and \`ledge train\` with its defaults ` +
      `(${p.ngrams === 2 ? '1+2-grams' : `1..${p.ngrams}-grams`}, 2^${p.bits} buckets; \`model.onnx\` ` +
      `${(r.setup.modelBytes / 1e6).toFixed(2)} MB; validation accuracy ${pct(r.setup.accuracy)}): the model of issue 4. ` +
      `The request payloads are its ${fmtCount(r.setup.validationCount)} validation reviews ` +
      `(${fmtCount(r.limit.meanChars)} characters and ${fmtCount(r.limit.meanIds)} feature ids on average), ` +
      'in a seeded random order, cycled.',
    '',
    '**Server:** `node bin/ledge.js serve <bundle> --port 0 [flags]`, the real CLI in its own process, started ' +
      'afresh for every point (model loaded, then a checked probe request) and stopped with SIGTERM after it. Its ' +
      'working directory is not a ledge workspace: nothing is recorded in a metadata store and there is no default ' +
      'prediction log file, so "monitoring on" means the in-process monitor (Prometheus metrics, drift windows, ' +
      'the remembered predictions for feedback, JSON logs) and no disk; the prediction log on disk, what serving ' +
      'inside a workspace adds, is a knob row. Defaults: dynamic batching with `--max-batch 64`, `--max-delay-ms 0` ' +
      '(the requests read in one event-loop turn form a batch; nothing waits for more).',
    '',
    `**Load:** autocannon ${machine.autocannon} through its API in a second Node process (\`serve-bench.js --loadgen\`), ` +
      'one keep-alive connection per unit of concurrency, no pipelining unless said, `POST /v1/models/<name>:predict` ' +
      'with `{"instances": ["<review>"]}`, each request taking the next review of one shared sequence. Each point: ' +
      `${opts.warmup} s of the same load as warm-up, then ${opts.duration} s measured. Throughput is 2xx responses / ` +
      'measured seconds (every response was a 2xx unless a table says otherwise). Latency percentiles are over every ' +
      "response, from autocannon's per-response timing (request written → response read; its own histogram keeps " +
      'whole milliseconds only, so the benchmark keeps the raw values). CPU is per process from /proc (all threads), ' +
      'in cores (CPU-seconds per second); "other" is the rest of the machine (`/proc/stat` busy time minus server and ' +
      'load generator): other tenants and the benchmark itself. Server RSS is VmRSS sampled every 100 ms under load ' +
      '(peak), VmHWM at the end.',
    '',
    `**Conditions:** a ${machine.nproc}-core machine shared with other work (1-minute load average ` +
      `${machine.loadStart.toFixed(2)} at the start, ${machine.loadEnd?.toFixed(2) ?? 'n/a'} at the end), so expect ` +
      'noise. The server and the load generator share these cores. The load generator is one Node thread. The ' +
      'server runs HTTP, JSON, monitoring and ONNX Runtime (one intra-op thread, called on the main thread by the ' +
      'Node binding) on its main thread, and tokenizing and hashing on its preprocessing threads ' +
      `(${threadsPhrase(g(true, true, 64).preprocessThreads)} at the defaults: one per spare core, at most 4). ` +
      (opts.runs > 1
        ? `The main grid ran ${opts.runs} times, interleaved (every configuration once, then again), and its table ` +
          'shows medians (throughput with min–max).'
        : 'The main grid ran once.') +
      ` A point during whose measured seconds the rest of the machine took more than ${MAX_OTHER_CORES} cores is ` +
      `measured again after a pause, up to ${MAX_ATTEMPTS} times, and the least disturbed measurement is kept ` +
      `(this run: ${retriedCount(r)} of ${allMeasured(r).length} measurements were repeated). Stolen CPU ` +
      `(the hypervisor's) during the measured seconds: ${pct(stealShare(r))} of the machine.`,
    '',
  );

  // Verdicts
  const def64 = g(true, true, 64);
  const off64 = g(false, true, 64);
  const def16 = g(true, true, 16);
  const noMon64 = g(true, false, 64);
  const ratio = def64.reqPerS / off64.reqPerS;
  const gridMonCost = 1 - def64.reqPerS / noMon64.reqPerS;
  const pairCost = monitoringCostOf(r.pairs);
  const monCost = pairCost?.throughput ?? gridMonCost;
  const allRows = [...grid.values(), ...knobs.values()];
  const rssMax = Math.max(...allRows.map((row) => row.rssPeakKiB ?? 0));
  const bestKnob = [...allRows].sort((a, b) => b.reviewsPerS - a.reviewsPerS)[0]!;
  push('### Verdicts', '');
  push(
    'Targets from issue 5, judged on the medians of this run with the server at its defaults (batching on, ' +
      'monitoring on) unless the target compares a setting. "The limit" is the in-process throughput including ' +
      'preprocessing (`predict(texts)` at its best batch size), since the server preprocesses too.',
    '',
  );
  push(
    table(
      ['target', 'measured', 'verdict'],
      [
        [
          `HTTP throughput at c=64 ≥ ${TARGET_HTTP_SHARE * 100}% of the in-process limit`,
          `${rate(def64.reqPerS)} = ${pct(def64.reqPerS / limitRate)} of ${rate(limitRate)} (predict, batch ${limit.predict.batch}); ` +
            `${pct(def64.reqPerS / scoreRate)} of ${rate(scoreRate)} without preprocessing (scoreIds, batch ${limit.scoreIds.batch})`,
          yesNo(def64.reqPerS >= TARGET_HTTP_SHARE * limitRate),
        ],
        [
          `batching on ≥ ${TARGET_BATCHING_RATIO}× the throughput of batching off at c=64 (Triton: ${TRITON_RATIO}×)`,
          `${fmtRatio(ratio)} (${rate(def64.reqPerS)} vs ${rate(off64.reqPerS)}; monitoring off: ` +
            `${fmtRatio(noMon64.reqPerS / g(false, false, 64).reqPerS)})`,
          yesNo(ratio >= TARGET_BATCHING_RATIO),
        ],
        [
          `p99 latency ≤ ${TARGET_P99_MS} ms at c=16`,
          `${ms(def16.p99)} (p50 ${ms(def16.p50)}; batching off: p99 ${ms(g(false, true, 16).p99)})`,
          yesNo(def16.p99 <= TARGET_P99_MS),
        ],
        [
          `monitoring on costs ≤ ${TARGET_MONITORING_COST * 100}% throughput (c=64)`,
          (pairCost
            ? `${signedCost(pairCost.throughput)} (median of ${plural(pairCost.pairs, 'adjacent on/off pair')}, ` +
              `${signedCost(pairCost.min)} to ${signedCost(pairCost.max)}; +${us(pairCost.cpuPerReview)} server CPU ` +
              `per review); grid medians: ${signedCost(gridMonCost)} (${rate(def64.reqPerS)} on vs ` +
              `${rate(noMon64.reqPerS)} off)`
            : `${signedCost(gridMonCost)} (${rate(def64.reqPerS)} on vs ${rate(noMon64.reqPerS)} off)`) +
            `; batching off: ${signedCost(1 - off64.reqPerS / g(false, false, 64).reqPerS)}`,
          yesNo(monCost <= TARGET_MONITORING_COST),
        ],
        [
          'server RSS under load: reported',
          `${fmtMiB(def64.rssPeakKiB)} peak at c=64 (defaults); at most ${fmtMiB(rssMax)} over all points`,
          '—',
        ],
        [
          'best throughput seen (any knob): reported',
          `${rate(bestKnob.reviewsPerS)} reviews (${bestKnob.point.label || bestKnob.point.key}) = ` +
            `${pct(bestKnob.reviewsPerS / limitRate)} of the limit`,
          '—',
        ],
      ],
    ),
    '',
  );

  // 1. The limit
  push('### 1. The limit: the model in process', '');
  push(
    `In the benchmark process: \`TextModel.load(bundle)\` (ONNX Runtime, one intra-op thread, as the server loads ` +
      `it; ${fmtSeconds(r.limit.loadSeconds)}), a warm-up, then the ${fmtCount(r.limit.reviews)} reviews in ` +
      'consecutive batches: `scoreIds(ids)` on reviews preprocessed once beforehand (the ONNX Runtime call alone: ' +
      'packing the int64 input, `session.run`), and `predict(texts)` (tokenize, hash the n-grams, then the same ' +
      `call). The fastest of ${opts.passes} pass(es) over all reviews per cell (other work on the shared machine ` +
      'only adds time to a loop like this, so the fastest pass is the closest to what the model can do).',
    '',
  );
  push(
    table(
      [
        'batch size',
        'scoreIds reviews/s',
        'scoreIds per call',
        'predict(texts) reviews/s',
        'predict per call',
      ],
      r.limit.batches.map((t) => [
        String(t.batch),
        fmtCount(r.limit.reviews / t.scoreIds),
        us(t.scoreIds / t.calls),
        fmtCount(r.limit.reviews / t.predict),
        us(t.predict / t.calls),
      ]),
      ['r', 'r', 'r', 'r', 'r'],
    ),
    '',
  );
  const featuresPerReview = r.limit.features / r.limit.reviews;
  const oneCall = callSeconds(r.limit, 1);
  push(
    `Preprocessing alone (\`features(text)\` for every review) takes ${us(featuresPerReview)} per review ` +
      `(${rate(r.limit.reviews / r.limit.features)}). A model call has a fixed cost of about ${us(r.limit.perCall)} ` +
      '(`scoreIds` of a one-id document, alone, timed over 2,000 calls): packing the input tensor, the native call, ' +
      `ONNX Runtime's dispatch. One review scored alone takes ${us(oneCall)}, so ${us(Math.max(0, oneCall - r.limit.perCall))} ` +
      `of it is the review itself; at batch ${limit.scoreIds.batch} a review costs ${us(limit.scoreIds.scoreIds / r.limit.reviews)} ` +
      '(bigger batches are padded to their longest review, which costs more than the saved calls). Batching can ' +
      `save at most the fixed ${us(r.limit.perCall)} per review, against ${us(featuresPerReview)} of preprocessing ` +
      `that no batching removes. **The limit** is therefore ${rate(limitRate)} (predict at batch ` +
      `${limit.predict.batch}); without preprocessing ${rate(scoreRate)} (scoreIds at batch ${limit.scoreIds.batch}).`,
    '',
  );
  const mw = r.limit.monitoring;
  if (mw) {
    push(
      "What monitoring adds per review, measured in process with the server's own modules: the server's " +
        `preprocessing (\`prepareText\`: tokenize once, feature ids) takes ${us(mw.prepare)} per review without the ` +
        `input statistics drift needs and ${us(mw.prepareWithStatistics)} with them (token count and out-of-vocabulary ` +
        `rate: a probe of the vocabulary's hash set per token hash), +${us(mw.prepareWithStatistics - mw.prepare)}; the monitor's hooks ` +
        `(\`onPredictions\` + \`onRequest\`, the server's default monitor with its memory of 100,000 predictions ` +
        `full, ${fmtCount(mw.hookEvents)} predictions) take ${us(mw.hooks)} per review.`,
      '',
    );
  }

  // 2. HTTP
  push('### 2. HTTP throughput and latency', '');
  push(
    'One review per request, so requests/s = reviews/s. "Mean batch" is documents per model call, from the ' +
      "server's own `ledge_inference_batch_size` histogram over the measured seconds (not available with " +
      'monitoring off); "server µs/review" is server CPU time per answered review.',
    '',
  );
  const gridRows: string[][] = [];
  for (const batching of [true, false]) {
    for (const monitoring of [true, false]) {
      for (const c of CONCURRENCY) {
        const row = g(batching, monitoring, c);
        gridRows.push([
          batching ? 'on' : 'off',
          monitoring ? 'on' : 'off',
          String(c),
          throughputCell(row),
          ms(row.p50),
          ms(row.p90),
          ms(row.p99),
          row.meanBatch === undefined ? 'n/a' : row.meanBatch.toFixed(1),
          cores(row.serverCores),
          cores(row.serverMainCores),
          cores(row.loadgenCores),
          cores(row.otherCores),
          us(row.serverCpuPerReview),
          fmtMiB(row.rssPeakKiB),
        ]);
      }
    }
  }
  push(
    table(
      [
        'batching',
        'monitoring',
        'c',
        'requests/s',
        'p50',
        'p90',
        'p99',
        'mean batch',
        'server CPU',
        'main thread',
        'loadgen CPU',
        'other CPU',
        'server µs/review',
        'peak RSS',
      ],
      gridRows,
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
  );
  const problems = problemNotes([...grid.values(), ...knobs.values()]);
  if (problems) push(problems, '');
  const bare64 = g(true, false, 64);
  const hwm = Math.max(...[...grid.values(), ...knobs.values()].map((row) => row.hwmKiB ?? 0));
  push(
    `**Memory.** The server starts at ${fmtMiB(def64.rssStartKiB)} RSS with the model loaded and monitoring on ` +
      `(${fmtMiB(bare64.rssStartKiB)} with monitoring off; \`model.onnx\` is ${(r.setup.modelBytes / 1e6).toFixed(1)} MB) ` +
      `and peaks at ${fmtMiB(def64.rssPeakKiB)} under load at c=64 (${fmtMiB(bare64.rssPeakKiB)} with monitoring ` +
      "off: the monitor's memory of recent predictions and its windows); the highest VmHWM of any point was " +
      `${fmtMiB(hwm)}.`,
    '',
  );
  if (pairCost) {
    push(
      `**Monitoring on and off, side by side.** The grid's medians compare measurements minutes apart; on this ` +
        `shared machine throughput at c=64 moves by up to ±10% between such runs, twice what the target allows. So the ` +
        `cost is also measured in ${plural(pairCost.pairs, 'adjacent pair')} (the defaults at c=64, a fresh server each, ` +
        'monitoring on then off, then off then on, and so on), each compared only with its partner; the verdict ' +
        'takes the median pair.',
      '',
      table(
        [
          'pair',
          'on reviews/s',
          'off reviews/s',
          'cost',
          'on µs/review',
          'off µs/review',
          'on main thread',
          'off main thread',
        ],
        r.pairs.map((p, i) => [
          String(i + 1),
          rate(reviewsPerSecond(p.on)),
          rate(reviewsPerSecond(p.off)),
          signedCost(1 - reviewsPerSecond(p.on) / reviewsPerSecond(p.off)),
          us(cpuPerReview(p.on, (x) => x.serverCpuSeconds)),
          us(cpuPerReview(p.off, (x) => x.serverCpuSeconds)),
          cores(p.on.result.serverMainCpuSeconds / p.on.result.seconds),
          cores(p.off.result.serverMainCpuSeconds / p.off.result.seconds),
        ]),
        ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
    );
  }

  // 3. Knobs
  if (r.knobs.length > 0) {
    push('### 3. The knobs', '');
    push(
      `Each row changes one thing against the defaults (batching on, \`--max-batch 64\`, \`--max-delay-ms 0\`, ` +
        `monitoring on), at c=64 unless it says otherwise, one run of ${opts.duration} s each. The defaults are ` +
        'measured again before and after the knobs, so that the rows compare with what the machine gave at the ' +
        'time (machines shared with other work drift over minutes); "vs defaults" is reviews/s against the mean ' +
        'of those two, or for a row at another concurrency against the defaults at that concurrency in the grid ' +
        '(marked "grid"). With several reviews per request, throughput is in reviews/s.',
      '',
    );
    const knobRows = [...knobs.values()].map((row) => [
      ...knobRow(row.point.label, row).slice(0, 3),
      vsDefaults(row, grid, knobs),
      ...knobRow(row.point.label, row).slice(3),
    ]);
    push(
      table(
        [
          'setting',
          'requests/s',
          'reviews/s',
          'vs defaults',
          'p50',
          'p99',
          'mean batch',
          'server CPU',
          'loadgen CPU',
          'server µs/review',
          'peak RSS',
        ],
        knobRows,
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
    );
  }

  // 4. Reading
  push('### 4. Where the time goes', '');
  push(reading(r, grid, knobs, limitRate), '');
  return lines.join('\n');
}

const allMeasured = (r: Results) => [...r.grid, ...r.pairs.flatMap((p) => [p.on, p.off]), ...r.knobs];
const retriedCount = (r: Results) => allMeasured(r).filter((m) => m.attempts > 1).length;

/** Stolen CPU time over the measured seconds of every point, as a share of all cores. */
function stealShare(r: Results): number {
  const all = allMeasured(r);
  const steal = all.reduce((sum, m) => sum + m.result.machineStealSeconds, 0);
  const seconds = all.reduce((sum, m) => sum + m.result.seconds, 0);
  return steal / Math.max(seconds * NPROC, 1e-9);
}

const threadsPhrase = (n: number | undefined) =>
  n === undefined
    ? 'preprocessing threads'
    : n === 0
      ? 'no preprocessing thread'
      : n === 1
        ? 'one preprocessing thread'
        : `${n} preprocessing threads`;

const costPhrase = (cost: number) =>
  cost >= 0
    ? `cost ${pct(cost)} of the throughput`
    : `cost nothing measurable (${pct(-cost)} more throughput: noise)`;

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

const signedCost = (cost: number) => (cost >= 0 ? `${pct(cost)} lost` : `${pct(-cost)} gained`);

function throughputCell(row: Row): string {
  return row.runs > 1
    ? `${fmtCount(row.reqPerS)} (${fmtCount(row.reqMin)}–${fmtCount(row.reqMax)})`
    : fmtCount(row.reqPerS);
}

function knobRow(label: string, row: Row): string[] {
  return [
    label,
    fmtCount(row.reqPerS),
    fmtCount(row.reviewsPerS),
    ms(row.p50),
    ms(row.p99),
    row.meanBatch === undefined ? 'n/a' : row.meanBatch.toFixed(1),
    cores(row.serverCores),
    cores(row.loadgenCores),
    us(row.serverCpuPerReview),
    fmtMiB(row.rssPeakKiB),
  ];
}

function problemNotes(rows: Row[]): string | undefined {
  const notes: string[] = [];
  for (const row of rows) {
    if (row.failures > 0)
      notes.push(`${row.point.key}: ${row.failures} non-2xx responses, errors or timeouts`);
    if (row.warnings > 0)
      notes.push(`${row.point.key}: the server logged ${row.warnings} warn/error line(s)`);
    if (row.contended > 0)
      notes.push(
        `${row.point.key}: other work still took more than ${MAX_OTHER_CORES} cores in ${row.contended} run(s) ` +
          `after ${MAX_ATTEMPTS} attempts (the least disturbed is shown)`,
      );
    if (row.badExits > 0)
      notes.push(`${row.point.key}: the server did not exit 0 after SIGTERM (${row.badExits} run(s))`);
  }
  return notes.length ? `**Anomalies:** ${notes.join('; ')}.` : undefined;
}

/** What the figures say about the bottleneck, computed from this run. */
function reading(r: Results, grid: Map<string, Row>, knobs: Map<string, Row>, limitRate: number): string {
  const g = (batching: boolean, monitoring: boolean, c: number) =>
    grid.get(gridKey(batching, monitoring, c))!;
  const on = g(true, true, 64);
  const off = g(false, true, 64);
  const bare = g(true, false, 64);
  const f = r.limit;
  const mw = f.monitoring;
  const prep = mw ? mw.prepareWithStatistics : f.features / f.reviews;
  const parts: string[] = [];
  const busy = on.serverCores + on.loadgenCores + on.otherCores;
  parts.push(
    `**The bottleneck.** At c=64 with the defaults the server process used ${cores(on.serverCores)} cores — its ` +
      `main thread ${cores(on.serverMainCores)}, the rest its ${threadsPhrase(on.preprocessThreads)}, the garbage ` +
      `collector and libuv — and the load generator ${cores(on.loadgenCores)} (the rest of the machine ` +
      `${cores(on.otherCores)}): ${cores(busy)} of ${NPROC} cores. ` +
      (on.serverMainCores >= 0.9
        ? "The server's main thread is saturated (HTTP, JSON, the model call and monitoring's hooks), so it is the " +
          'limit'
        : `The server's main thread is busy ${pct(on.serverMainCores)} of the time and the machine is close to ` +
          'full, so no single thread is the limit: a request waits its turn on the way through HTTP, a ' +
          'preprocessing thread and the model while the threads of both processes share the cores. Work added ' +
          "anywhere on that path costs throughput, and throughput moves with how the operating system's scheduler " +
          'places the threads') +
      (on.loadgenCores >= 0.9
        ? '; the load generator is near a full core too, so it may hold the figures down'
        : '') +
      '. A second server process (a cluster of two) could not help on this machine: its cores are taken.',
  );
  if (on.meanBatch !== undefined) {
    const b = on.meanBatch;
    const modelOn = callSeconds(f, b) / b;
    const modelOff = callSeconds(f, 1);
    const hooks = mw?.hooks ?? 0;
    const rest = (cpu: number, model: number) => us(Math.max(0, cpu - prep - model - hooks));
    parts.push(
      `**Per review, batching on** (c=64, mean batch ${b.toFixed(1)}): the server spent ${us(on.serverCpuPerReview)} ` +
        `of CPU. In-process measurements put preprocessing (with the input statistics) at ${us(prep)}, the model call ` +
        `at ${us(modelOn)} (${pct(modelOn / on.serverCpuPerReview)} of the server's CPU)` +
        (mw ? ` and the monitor's hooks at ${us(hooks)}` : '') +
        `, which leaves about ${rest(on.serverCpuPerReview, modelOn)} for the HTTP request and response, reading ` +
        'and parsing the JSON body, routing, prediction ids, the JSON answer, batching and garbage collection. ' +
        `**Batching off**: ${us(off.serverCpuPerReview)} per review, of which the model call (one per request) is ` +
        `about ${us(modelOff)} (${pct(modelOff / off.serverCpuPerReview)}).`,
    );
    const measured = on.reqPerS / off.reqPerS;
    const freeModel = off.serverCpuPerReview / Math.max(off.serverCpuPerReview - modelOff, 1e-9);
    parts.push(
      `**Why batching cannot give ${TRITON_RATIO}× here.** Batching saves the fixed cost of model calls ` +
        `(${us(f.perCall)} each in process), nothing else: the review's own scoring, its preprocessing and the ` +
        'per-request HTTP/JSON work stay. Even if batching made the model call free, the server would still spend ' +
        `about ${us(off.serverCpuPerReview - modelOff)} per review (from ${us(off.serverCpuPerReview)} with batching ` +
        `off): at most ${fmtRatio(freeModel)} the throughput of batching off on a CPU-bound server. Measured: ` +
        `${fmtRatio(measured)}` +
        (measured > freeModel
          ? ' — above that estimate: a request that runs the model alone also pays, beyond the call measured in ' +
            "process, ONNX Runtime's `setImmediate` hop and promise per call and an event-loop turn of its own " +
            '(with batching, the responses of a batch are written in the same turn), and caches shared with the ' +
            'HTTP work; the conclusion stands, the model call is a small part of the server’s work'
          : '') +
        `. Triton's ${TRITON_RATIO}× is for models whose call is dominated by a fixed cost (a GPU kernel launch, ` +
        'dense layers whose matrix products are far more efficient in batches); this model is a sparse sum of ~' +
        `${fmtCount(f.meanIds)} weights per review, cheaper than the HTTP request around it.`,
    );
  }
  const pairCost = monitoringCostOf(r.pairs);
  const cost = pairCost ? pairCost.cpuPerReview : on.serverCpuPerReview - bare.serverCpuPerReview;
  // The server computes input statistics for the drift sample only: at most one window (1,000
  // predictions) a second.
  const statisticsShare = Math.min(1, DRIFT_SAMPLES_PER_SECOND / on.reqPerS);
  const statistics = mw ? (mw.prepareWithStatistics - mw.prepare) * statisticsShare : 0;
  const seen = mw ? statistics + mw.hooks : 0;
  parts.push(
    '**What monitoring costs.** ' +
      (pairCost
        ? `In adjacent pairs at c=64 (batching on), monitoring ${costPhrase(pairCost.throughput)} (median of ` +
          `${plural(pairCost.pairs, 'pair')}; ${signedCost(pairCost.min)} to ${signedCost(pairCost.max)}) and added ${us(pairCost.cpuPerReview)} of server CPU per review ` +
          `(${us(pairCost.mainCpuPerReview)} on the main thread). The grid's medians, minutes apart, say ` +
          `${signedPct(on.reqPerS / bare.reqPerS - 1)} requests/s and ${us(on.serverCpuPerReview)} against ` +
          `${us(bare.serverCpuPerReview)} per review. `
        : `At c=64 (batching on) the server spends ${us(on.serverCpuPerReview)} per review with monitoring and ` +
          `${us(bare.serverCpuPerReview)} without, and answers ${signedPct(on.reqPerS / bare.reqPerS - 1)} ` +
          'requests/s. ') +
      (mw
        ? `In process, the input statistics (token count and out-of-vocabulary rate) take ` +
          `${us(mw.prepareWithStatistics - mw.prepare)} per review they are computed for — the drift sample, at ` +
          `most ${fmtCount(DRIFT_SAMPLES_PER_SECOND)} predictions a second, ${pct(statisticsShare)} of them here: ` +
          `${us(statistics)} per review — and the monitor's hooks ${us(mw.hooks)}` +
          (cost - seen > 1e-6
            ? `; the remaining ${us(cost - seen)} are not seen in isolation (what the server does per request ` +
              'beyond the hooks: building the prediction events and their ids for feedback; and what it shares with ' +
              'the rest of the server: caches, the garbage collector, the thread hand-offs of a busier machine).'
            : '.')
        : ''),
  );
  const on16 = g(true, true, 16);
  const off16 = g(false, true, 16);
  const c1on = g(true, true, 1);
  const c1off = g(false, true, 1);
  const d16 = knobs.get('delay2/c16');
  const d1 = knobs.get('delay2/c1');
  parts.push(
    `**Batching at low concurrency.** With the default \`--max-delay-ms 0\` nothing waits for a batch to fill: ` +
      'the requests read in one event-loop turn run as one batch right after it (as Triton, whose ' +
      '`max_queue_delay_microseconds` is 0 by default, batches what queued while the model was busy). At c=1 a ' +
      `request takes p50 ${ms(c1on.p50)} with batching on and ${ms(c1off.p50)} with it off; at c=16 batching on ` +
      `answers ${rate(on16.reqPerS)} (mean batch ${on16.meanBatch?.toFixed(1) ?? 'n/a'}) against ` +
      `${rate(off16.reqPerS)} off.` +
      (d1 && d16
        ? ` A delay costs latency where the queue cannot fill: with \`--max-delay-ms 2\` (the default before ` +
          `this change) c=1 has p50 ${ms(d1.p50)} and c=16 answers ${rate(d16.reqPerS)} (mean batch ` +
          `${d16.meanBatch?.toFixed(1) ?? 'n/a'}).`
        : ''),
  );
  const baseline = knobBaseline(knobs);
  if (knobs.size > 0 && baseline !== undefined) {
    const k = (key: string) => knobs.get(key);
    const cmp = (row: Row | undefined) =>
      row
        ? `${rate(row.reviewsPerS)} (${signedPct(row.reviewsPerS / baseline - 1)}` +
          `${row.meanBatch === undefined ? '' : `, batch ${row.meanBatch.toFixed(1)}`})`
        : 'n/a';
    parts.push(
      `**Knobs, against the defaults' ${rate(baseline)} at c=64 (measured around them).** \`--max-delay-ms\` ` +
        '0.5 / 2 / 5: ' +
        `${cmp(k('delay0.5/c64'))}, ${cmp(k('delay2/c64'))}, ${cmp(k('delay5/c64'))}. ` +
        `\`--max-batch\` 8 / 16 / 32: ${cmp(k('batch8/c64'))}, ${cmp(k('batch16/c64'))}, ${cmp(k('batch32/c64'))}. ` +
        `16 connections × pipelining 4: ${cmp(k('pipelining/c16x4'))}. The prediction log on disk: ` +
        `${cmp(k('predlog/c64'))}. 8 reviews per request: ${cmp(k('x8/c64'))} reviews/s; with \`--max-batch 256\` ` +
        `${cmp(k('x8-batch256/c64'))}; with \`--no-batching\` ${cmp(k('x8-nobatch/c64'))}. The defaults ` +
        `themselves measured ${noiseBand(knobs)} apart before and after the knobs, so differences of that size ` +
        'are noise: no batching knob moves throughput much at c=64; fewer, larger requests do, because the ' +
        'per-request HTTP and JSON work dominates (while the tail latency grows with the reviews in flight).',
    );
  }
  const best = [...grid.values(), ...knobs.values()].sort((a, b) => b.reviewsPerS - a.reviewsPerS)[0]!;
  parts.push(
    `**Against the limit.** The in-process limit of ${rate(limitRate)} is one thread doing nothing but ` +
      `preprocessing and scoring; the best served figure here is ${rate(best.reviewsPerS)} reviews ` +
      `(${best.point.label || best.point.key}; ${pct(best.reviewsPerS / limitRate)} of the limit).`,
  );
  return parts.join('\n\n');
}

const signedPct = (x: number) => `${x >= 0 ? '+' : '−'}${(Math.abs(x) * 100).toFixed(1)}%`;

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (!fs.existsSync('/proc/self/stat')) throw new Error('this benchmark reads /proc: it runs on Linux only');
  const started = new Date();
  const t0 = performance.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-serve-bench-'));
  const cleanup = () => {
    killChildren();
    if (!opts.keep) removeTree(work);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping and removing ${work}`);
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  log(`${opts.quick ? 'quick' : 'full'} mode, ${NPROC} cores, work dir ${work}`);
  try {
    const ledgeBin = snapshotLedge(opts.ledge, work);
    const machine = machineInfo(path.dirname(path.dirname(opts.ledge)));
    const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
    const setup = await setUp(work, ledgeBin, opts);
    if (setup.params.bits !== 22)
      log(`warning: the default model has 2^${setup.params.bits} buckets, not 2^22`);
    const reviews = shuffled(setup.reviews);
    const limit = await figureLimit(ledgeBin, setup.bundle, reviews, opts);
    const serveCwd = path.join(work, 'serve');
    fs.mkdirSync(serveCwd);
    const ctx: Context = {
      work,
      ledgeBin,
      loadgenScript: snapshotLoadgen(ledgeBin),
      bundle: setup.bundle,
      serveCwd,
      bodies: { 1: writeBodies(work, reviews, 1), 8: writeBodies(work, reviews, 8) },
      clockTicks,
      opts,
    };
    const gridMeasured: Measured[] = [];
    const points = gridPoints();
    for (let i = 0; i < opts.runs; i++) {
      for (const point of points) {
        log(`run ${i + 1}/${opts.runs}, ${point.key}`);
        gridMeasured.push(await measureQuietly(ctx, point));
      }
    }
    // The monitoring cost from adjacent pairs, in ABBA order (on-off, off-on, …) so that a machine
    // drifting over minutes does not favour either side.
    const pairs: MonitoringPair[] = [];
    const pairPoints = monitoringPairPoints();
    for (let i = 0; i < opts.monitoringPairs; i++) {
      const order = i % 2 === 0 ? ([true, false] as const) : ([false, true] as const);
      const measured: Partial<MonitoringPair> = {};
      for (const monitoring of order) {
        log(`monitoring pair ${i + 1}/${opts.monitoringPairs}, monitoring ${monitoring ? 'on' : 'off'}`);
        measured[monitoring ? 'on' : 'off'] = await measureQuietly(
          ctx,
          monitoring ? pairPoints.on : pairPoints.off,
        );
      }
      pairs.push(measured as MonitoringPair);
    }
    const knobMeasured: Measured[] = [];
    if (opts.knobs) {
      for (const point of knobPoints()) knobMeasured.push(await measureQuietly(ctx, point));
    }
    machine.loadEnd = os.loadavg()[0]!;
    const results: Results = { setup, limit, grid: gridMeasured, pairs, knobs: knobMeasured };
    const markdown = report(results, machine, opts, started, (performance.now() - t0) / 60_000);
    process.stdout.write(`${SECTION}\n\n${markdown.trim()}\n`);
    if (opts.write) {
      const file = path.join(ROOT, 'docs', 'benchmarks.md');
      updateSectionAfter(file, SECTION, markdown, PREVIOUS_SECTION);
      log(`updated ${path.relative(ROOT, file)}`);
    }
    return 0;
  } finally {
    cleanup();
    if (opts.keep) log(`kept ${work}`);
  }
}

const [mode, configFile] = process.argv.slice(2);
const entry =
  mode === '--loadgen' && configFile !== undefined ? loadgenMain(configFile).then(() => 0) : main();
entry.then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `[bench] error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
