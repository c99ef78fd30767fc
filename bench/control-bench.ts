/**
 * The control-plane benchmark (issue 7): the real `ledge server` (a child process, as users run
 * it) in temp workspaces, measured from outside through its API.
 *
 *   1. Saved change → run started: a one-stage pipeline (`cp input.txt output.txt && sleep 2`) under the
 *      watch trigger; the dependency `input.txt` is saved and the control run's `startedAt` (the
 *      `ledge run` child spawned) is compared with the time of the save. Reported with the
 *      debounce window and the time beyond it (issue 7: ≤ 2 s after the window).
 *   2. Saved `params.yaml` → the new model serving: the example pipeline (examples/imdb/ledge.yaml,
 *      examples/imdb/deploy.yaml on a free port, the bundled 2,000-review sample) under the watch
 *      trigger; `train.epochs` is raised and the stable port's /v2/models/imdb-sentiment-int8 is
 *      polled until a new version answers. A run the quality gate refuses is counted as gated
 *      (the old model keeps serving) and the next epoch count is tried.
 *   3. A burst of 100 signed GitHub push deliveries sent at once to the one-stage pipeline's
 *      server: how many runs they became, and that every delivery is the cause of exactly one run.
 *
 *   npm run build && npm run bench:control -- --write     # 5 repetitions of each
 *   npm run build && npm run bench:control -- --quick     # 1 repetition of each
 *
 * Progress goes to stderr, the markdown report to stdout; with --write the "## Control plane
 * (issue 7)" section of docs/benchmarks.md. Everything is written under os.tmpdir() and removed
 * at the end; the servers get SIGTERM and the local target `ledge deploy stop` (also after an
 * error).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/free-port.js';
import { check, run } from './lib/exec.js';
import { benchEnv, snapshotLedge } from './lib/ledge.js';
import { machineInfo, machineLine } from './lib/machine.js';
import { parseBenchOptions } from './lib/options.js';
import { fmtSeconds, median, table, updateSectionAfter } from './lib/report.js';

const SECTION = '## Control plane (issue 7)';
const PREVIOUS_SECTION = '## Images (issue 6)';
const REPRODUCE = 'npm run build && npm run bench:control -- --write';
const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(THIS_FILE), '..', '..');
const EXAMPLE = path.join(ROOT, 'examples', 'imdb');
const SAMPLE_ARCHIVE = path.join(EXAMPLE, 'data', 'aclImdb_sample.tar.gz');
const TIMEOUT_MS = 600_000;
/** Issue 7: a saved change starts its run within this many seconds after the debounce window. */
const TARGET_START_SECONDS = 2;
/** Issue 7: a burst of deliveries becomes at most this many runs. */
const TARGET_BURST_RUNS = 2;
const GITHUB_SECRET = 'bench-webhook-secret';
const ENDED = ['succeeded', 'failed', 'gated', 'cancelled', 'interrupted'];

const USAGE = `usage: node dist/bench/control-bench.js [--quick] [--write] [--runs N] [--debounce S] [--burst N] [--keep]
  --quick        1 repetition of each measurement
  --write        update the "${SECTION}" section of docs/benchmarks.md
  --runs N       repetitions of each measurement (default 5; 1 with --quick)
  --debounce S   the watch trigger's debounce window in seconds (default 1, as in server.yaml)
  --burst N      webhook deliveries per burst (default 100)
  --keep         keep the temp directory`;

type Options = ReturnType<typeof parseOptions>;

function parseOptions(argv: string[]) {
  return parseBenchOptions(argv, USAGE, {
    runs: { full: 5, quick: 1, min: 1 },
    debounce: { full: 1, min: 0.05, max: 600, integer: false },
    burst: { full: 100, min: 1 },
  });
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// Workspaces and the server

interface Workspace {
  dir: string;
  ledgeBin: string;
}

async function ledge(ws: Workspace, args: string[], what: string): Promise<string> {
  const result = check(
    await run([process.execPath, ws.ledgeBin, ...args], {
      cwd: ws.dir,
      env: benchEnv(),
      timeoutMs: TIMEOUT_MS,
    }),
    what,
  );
  return result.stdout;
}

async function git(dir: string, args: string[]): Promise<void> {
  check(await run(['git', ...args], { cwd: dir, env: benchEnv() }), `git ${args[0]}`);
}

/** A git repository with a ledge workspace, `files` written into it and committed. */
async function makeWorkspace(
  dir: string,
  ledgeBin: string,
  files: Record<string, string>,
  copies: Record<string, string> = {},
): Promise<Workspace> {
  fs.mkdirSync(dir, { recursive: true });
  const ws = { dir, ledgeBin };
  await git(dir, ['init', '-q', '-b', 'main']);
  await ledge(ws, ['init'], 'ledge init');
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  for (const [rel, from] of Object.entries(copies)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.copyFileSync(from, path.join(dir, rel));
  }
  return ws;
}

interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `ledge server --port 0 --json` in the workspace; its JSON log goes to `logFile`. */
async function startServer(ws: Workspace, logFile: string): Promise<Server> {
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [ws.ledgeBin, 'server', '--port', '0', '--json'], {
    cwd: ws.dir,
    env: benchEnv({ LEDGE_GITHUB_SECRET: GITHUB_SECRET }),
    stdio: ['ignore', 'pipe', logFd],
  });
  fs.closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  let stdout = '';
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('ledge server did not start within 60 s')), 60_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        // `--json` prints one JSON document (over several lines) once it listens.
        let parsed: { url?: unknown } | undefined;
        try {
          parsed = JSON.parse(stdout) as { url?: unknown };
        } catch {
          return; // not all of it yet
        }
        clearTimeout(timer);
        if (typeof parsed.url === 'string') resolve(parsed.url.replace(/\/$/, ''));
        else reject(new Error(`ledge server printed no URL: ${stdout}`));
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(
          new Error(
            `ledge server exited: ${fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' / ')}`,
          ),
        );
      });
    });
    return { url, child, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface QueueRun {
  id: number;
  status: string;
  causes: { kind: string; at: string; delivery?: string; paths?: string[] }[];
  requestedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  reason: string | null;
  pipelineRunId: number | null;
}

async function apiGet<T>(url: string, token: string): Promise<T> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const queueRuns = (server: Server, token: string) =>
  apiGet<QueueRun[]>(`${server.url}/api/queue?limit=1000`, token);

/** The first run with an id above `after`, once it has started. */
function startedAfter(server: Server, token: string, after: number, timeoutMs: number): Promise<QueueRun> {
  return until(
    async () => (await queueRuns(server, token)).find((r) => r.id > after && r.startedAt !== null),
    `a run after run ${after} to start`,
    timeoutMs,
  );
}

/** Waits until nothing is queued or running. */
async function idle(server: Server, token: string, timeoutMs: number): Promise<void> {
  await until(
    async () => ((await queueRuns(server, token)).every((r) => ENDED.includes(r.status)) ? true : undefined),
    'the queue to be idle',
    timeoutMs,
  );
}

const lastId = async (server: Server, token: string) =>
  Math.max(0, ...(await queueRuns(server, token)).map((r) => r.id));

// ---------------------------------------------------------------------------------------------
// 1 and 3: the one-stage pipeline

/**
 * Its run lasts ~2 s, longer than a burst of deliveries takes to arrive, as a real pipeline's; the
 * server runs it with `--force` (server.yaml `run_args`) so that a webhook's run, which finds the
 * workspace unchanged, does that work too instead of a no-op.
 */
const SMALL_PIPELINE = `stages:
  copy:
    cmd: cp input.txt output.txt && sleep 2
    deps: [input.txt]
    outs: [output.txt]
`;

interface StartSample {
  seconds: number;
}

async function measureStart(
  server: Server,
  ws: Workspace,
  token: string,
  opts: Options,
): Promise<StartSample[]> {
  const samples: StartSample[] = [];
  for (let i = 0; i < opts.runs; i++) {
    await idle(server, token, 60_000);
    const before = await lastId(server, token);
    // Quiet before the save, so the debounce window starts at the save.
    await sleep(Math.max(500, opts.debounce * 1000));
    const saved = Date.now();
    fs.writeFileSync(path.join(ws.dir, 'input.txt'), `change ${i} at ${new Date(saved).toISOString()}\n`);
    const started = await startedAfter(server, token, before, 30_000 + opts.debounce * 1000);
    const seconds = (Date.parse(started.startedAt!) - saved) / 1000;
    if (!started.causes.some((c) => c.kind === 'file' && c.paths?.includes('input.txt')))
      throw new Error(
        `run ${started.id} was not caused by the saved input.txt: ${JSON.stringify(started.causes)}`,
      );
    samples.push({ seconds });
    log(`  save ${i + 1}: run ${started.id} started ${fmtSeconds(seconds)} after the save`);
  }
  await idle(server, token, 60_000);
  return samples;
}

interface BurstSample {
  deliveries: number;
  accepted: number;
  refused: number;
  sendSeconds: number;
  runs: number;
  runStatuses: string[];
  causesPerRun: number[];
  /** How long the run the first delivery started lasted. */
  firstRunSeconds: number;
  missing: number;
  duplicated: number;
}

/** A signed push of `commit` to main, as GitHub sends it. */
function signedDelivery(server: Server, delivery: string, commit: string): Promise<Response> {
  const body = JSON.stringify({
    ref: 'refs/heads/main',
    after: commit,
    repository: { full_name: 'bench/ledge-control' },
  });
  return fetch(`${server.url}/api/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': delivery,
      'x-hub-signature-256': `sha256=${createHmac('sha256', GITHUB_SECRET).update(body).digest('hex')}`,
    },
    body,
  });
}

/**
 * Bursts of deliveries, each a push of `commit` (the workspace's HEAD: a push run brings the
 * workspace to its commit first, and one it already has just runs).
 */
async function measureBurst(
  server: Server,
  token: string,
  opts: Options,
  commit: string,
): Promise<BurstSample[]> {
  const samples: BurstSample[] = [];
  for (let i = 0; i < opts.runs; i++) {
    await idle(server, token, 60_000);
    const before = await lastId(server, token);
    const deliveries = Array.from({ length: opts.burst }, () => randomUUID());
    const sendStart = performance.now();
    const answers = await Promise.all(
      deliveries.map(async (d) => {
        const response = await signedDelivery(server, d, commit);
        await response.arrayBuffer();
        return response.status;
      }),
    );
    const sendSeconds = (performance.now() - sendStart) / 1000;
    await idle(server, token, 120_000);
    const runs = (await queueRuns(server, token)).filter((r) => r.id > before).sort((a, b) => a.id - b.id);
    const seen = new Map<string, number>();
    for (const r of runs)
      for (const c of r.causes)
        if (c.kind === 'webhook' && c.delivery) seen.set(c.delivery, (seen.get(c.delivery) ?? 0) + 1);
    const sample: BurstSample = {
      deliveries: deliveries.length,
      accepted: answers.filter((s) => s === 202).length,
      refused: answers.filter((s) => s !== 202).length,
      sendSeconds,
      runs: runs.length,
      runStatuses: runs.map((r) => r.status),
      causesPerRun: runs.map((r) => r.causes.length),
      firstRunSeconds:
        runs[0]?.startedAt && runs[0].endedAt
          ? (Date.parse(runs[0].endedAt) - Date.parse(runs[0].startedAt)) / 1000
          : Number.NaN,
      missing: deliveries.filter((d) => !seen.has(d)).length,
      duplicated: [...seen.values()].filter((n) => n > 1).length,
    };
    samples.push(sample);
    log(
      `  burst ${i + 1}: ${sample.accepted}/${sample.deliveries} accepted in ${fmtSeconds(sendSeconds)} → ` +
        `${sample.runs} runs (${sample.causesPerRun.join(' + ')} causes; ${sample.runStatuses.join(', ')}); ` +
        `${sample.missing} lost, ${sample.duplicated} run twice`,
    );
  }
  return samples;
}

// ---------------------------------------------------------------------------------------------
// 2: the example pipeline, delivered continuously

interface DeliverySample {
  epochs: number;
  outcome: string;
  startSeconds: number;
  /** Saved → the new version answering on the stable port (served runs only). */
  servingSeconds: number | undefined;
  /** Saved → the run ended. */
  endSeconds: number;
  version: string | undefined;
  stages: Record<string, number>;
  reason: string | null;
}

async function servingVersion(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${url}/v2/models/imdb-sentiment-int8`);
    if (!response.ok) return undefined;
    const body = (await response.json()) as { versions?: string[] };
    return body.versions?.[0];
  } catch {
    return undefined;
  }
}

async function stageSeconds(
  server: Server,
  token: string,
  runId: number | null,
): Promise<Record<string, number>> {
  if (runId === null) return {};
  const detail = await apiGet<{
    stages: { name: string; status: string; startedAt: string; endedAt: string | null }[];
  }>(`${server.url}/api/runs/${runId}`, token);
  const seconds: Record<string, number> = {};
  for (const s of detail.stages)
    if (s.endedAt) seconds[s.name] = (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000;
  return seconds;
}

async function measureDelivery(
  server: Server,
  ws: Workspace,
  token: string,
  port: number,
  opts: Options,
): Promise<DeliverySample[]> {
  const target = `http://127.0.0.1:${port}`;
  const samples: DeliverySample[] = [];
  const paramsFile = path.join(ws.dir, 'params.yaml');
  let epochs = Number(/epochs: (\d+)/.exec(fs.readFileSync(paramsFile, 'utf8'))?.[1] ?? '2');
  for (let attempt = 0; samples.filter((s) => s.servingSeconds !== undefined).length < opts.runs; attempt++) {
    if (attempt >= opts.runs * 2) break;
    await idle(server, token, TIMEOUT_MS);
    const servedBefore = await servingVersion(target);
    if (servedBefore === undefined) throw new Error(`nothing answers on the local target ${target}`);
    const before = await lastId(server, token);
    await sleep(Math.max(500, opts.debounce * 1000));
    epochs += 1;
    const saved = Date.now();
    fs.writeFileSync(
      paramsFile,
      fs.readFileSync(paramsFile, 'utf8').replace(/epochs: \d+/, `epochs: ${epochs}`),
    );
    const started = await startedAfter(server, token, before, 60_000);
    const startSeconds = (Date.parse(started.startedAt!) - saved) / 1000;
    // Served: a new version answers on the stable port; or the run ended without that (gated).
    let servingSeconds: number | undefined;
    let version: string | undefined;
    let ended: QueueRun | undefined;
    await until(
      async () => {
        const now = await servingVersion(target);
        if (servingSeconds === undefined && now !== undefined && now !== servedBefore) {
          servingSeconds = (Date.now() - saved) / 1000;
          version = now;
        }
        const runNow = (await queueRuns(server, token)).find((r) => r.id === started.id);
        if (runNow && ENDED.includes(runNow.status)) ended = runNow;
        return ended && (servingSeconds !== undefined || ended.status !== 'succeeded') ? true : undefined;
      },
      `run ${started.id} (epochs ${epochs}) to deliver`,
      TIMEOUT_MS,
    );
    const endSeconds = (Date.parse(ended!.endedAt!) - saved) / 1000;
    const sample: DeliverySample = {
      epochs,
      outcome: ended!.status,
      startSeconds,
      servingSeconds,
      endSeconds,
      version,
      stages: await stageSeconds(server, token, ended!.pipelineRunId),
      reason: ended!.reason,
    };
    samples.push(sample);
    log(
      `  epochs ${epochs}: run ${started.id} started ${fmtSeconds(startSeconds)}, ${sample.outcome}` +
        (servingSeconds === undefined
          ? ` (${sample.reason ?? 'no new version served'})`
          : `, version ${servedBefore} → ${version} serving ${fmtSeconds(servingSeconds)} after the save`),
    );
  }
  return samples;
}

// ---------------------------------------------------------------------------------------------
// Main

interface Results {
  start: StartSample[];
  cdStart: number[];
  delivery: DeliverySample[];
  burst: BurstSample[];
  firstRunSeconds: number;
}

const fmtRange = (values: number[]) =>
  values.length === 0
    ? 'n/a'
    : values.length === 1
      ? fmtSeconds(values[0]!)
      : `${fmtSeconds(median(values))} (${fmtSeconds(Math.min(...values))}–${fmtSeconds(Math.max(...values))})`;

function report(r: Results, opts: Options, minutes: number): string {
  const machine = machineInfo(ROOT);
  const starts = r.start.map((s) => s.seconds);
  const beyond = starts.map((s) => s - opts.debounce);
  const served = r.delivery.filter((s) => s.servingSeconds !== undefined);
  const gated = r.delivery.filter((s) => s.outcome === 'gated');
  const servingTimes = served.map((s) => s.servingSeconds!);
  const worstBurst = Math.max(...r.burst.map((b) => b.runs));
  const lost = r.burst.reduce((n, b) => n + b.missing, 0);
  const twice = r.burst.reduce((n, b) => n + b.duplicated, 0);
  const refused = r.burst.reduce((n, b) => n + b.refused, 0);
  const unsuccessful = r.burst.reduce(
    (n, b) => n + b.runStatuses.filter((st) => st !== 'succeeded').length,
    0,
  );
  const stageNames = ['prepare', 'train', 'evaluate', 'quantize', 'register', 'package', 'deploy'];
  const stageMedian = (name: string) => {
    const values = served.map((s) => s.stages[name]).filter((v): v is number => v !== undefined);
    return values.length > 0 ? fmtSeconds(median(values)) : '–';
  };
  const lines: string[] = [];
  lines.push(
    `_Generated by \`bench/control-bench.ts\` on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} in ` +
      `${minutes.toFixed(1)} min; ${opts.quick ? 'quick' : 'full'}; ${opts.runs} ${opts.runs === 1 ? 'repetition' : 'repetitions'} of each, medians (min–max)._`,
    '',
    `Reproduce: \`${REPRODUCE}\` (this run: \`${opts.argv.join(' ') || '(no options)'}\`). Options: \`--quick\`, ` +
      '`--runs N`, `--debounce S`, `--burst N`.',
    '',
    machineLine(machine),
    '',
    '**Setup:** the real `ledge server` (a child process, SQLite metadata store, loopback) in temp git ' +
      'workspaces, measured from the outside through its REST API. Times are from the moment the benchmark ' +
      "saved the file to the control run's `startedAt` (the `ledge run` child spawned) or to the new version " +
      `answering on the local target's stable port. Watch trigger debounce: ${opts.debounce} s.`,
    '',
    '### Verdicts',
    '',
    table(
      ['target', 'measured', 'verdict'],
      [
        [
          `saved change → run started ≤ ${TARGET_START_SECONDS} s after the debounce window`,
          `${fmtRange(starts)} after the save = debounce ${opts.debounce} s + ${fmtRange(beyond)}`,
          beyond.every((b) => b <= TARGET_START_SECONDS) ? 'met' : '**not met**',
        ],
        [
          'saved `params.yaml` → the new model serving on the local target (example pipeline, sample data): report it',
          served.length === 0
            ? `no run was delivered (${r.delivery.map((s) => s.outcome).join(', ')})`
            : `${fmtRange(servingTimes)} (${served.length} of ${r.delivery.length} runs delivered` +
              `${gated.length > 0 ? `; ${gated.length} gated, the old model kept serving` : ''})`,
          served.length > 0 ? 'reported' : '**not met**',
        ],
        [
          `${opts.burst} webhook deliveries in a burst → at most ${TARGET_BURST_RUNS} runs, none lost or run twice`,
          `${r.burst.map((b) => b.runs).join(', ')} runs per burst; ${lost} lost, ${twice} run twice, ` +
            `${refused} refused, ${unsuccessful} not succeeded`,
          worstBurst <= TARGET_BURST_RUNS && lost === 0 && twice === 0 && refused === 0 && unsuccessful === 0
            ? 'met'
            : '**not met**',
        ],
      ],
    ),
    '',
    '### Saved change → run started',
    '',
    `The verdict is measured on a one-stage pipeline (\`cp input.txt output.txt && sleep 2\`, dependency \`input.txt\`); each repetition waits for ` +
      'the queue to be idle and the directory to be quiet, saves `input.txt`, and reads the run it caused from ' +
      '`GET /api/queue` (its cause: `{kind: file, paths: [input.txt]}`).',
    '',
    table(
      ['saved file', 'saves', 'debounce', 'save → run started', 'beyond the debounce window'],
      [
        [
          '`input.txt` (a dependency; one-stage pipeline)',
          String(starts.length),
          `${opts.debounce} s`,
          fmtRange(starts),
          fmtRange(beyond),
        ],
        [
          '`params.yaml` (the example pipeline, below)',
          String(r.cdStart.length),
          `${opts.debounce} s`,
          fmtRange(r.cdStart),
          fmtRange(r.cdStart.map((s) => s - opts.debounce)),
        ],
      ],
    ),
    '',
    '### Saved `params.yaml` → the new model serving (the example pipeline)',
    '',
    '`examples/imdb/ledge.yaml` (prepare → train → evaluate ‖ quantize → register → package ‖ deploy) with ' +
      '`examples/imdb/deploy.yaml` (the local target on a free port; the quality gate: int8 accuracy ≥ 0.8 ' +
      'and no worse than the model deployed) on the bundled 2,000-review sample, 2^22 hashed features. A ' +
      `first \`ledge run\` (${fmtSeconds(r.firstRunSeconds)}, every stage) deploys a model; then each repetition ` +
      "raises `train.epochs` in `params.yaml` and polls the stable port's `/v2/models/imdb-sentiment-int8` " +
      'until a new version answers (prepare is unchanged and skipped; every other stage runs).',
    '',
    table(
      ['epochs', 'outcome', 'save → run started', 'save → new version serving', 'save → run ended'],
      r.delivery.map((s) => [
        String(s.epochs),
        s.outcome === 'gated' ? `gated: ${(s.reason ?? '').slice(0, 90)}` : s.outcome,
        fmtSeconds(s.startSeconds),
        s.servingSeconds === undefined ? '– (old model serving)' : fmtSeconds(s.servingSeconds),
        fmtSeconds(s.endSeconds),
      ]),
    ),
    '',
    served.length === 0
      ? ''
      : `Stage times of the delivered runs (median): ${stageNames
          .filter((n) => stageMedian(n) !== '–')
          .map((n) => `${n} ${stageMedian(n)}`)
          .join(', ')}. ` +
          'The new version serves before the run ends: `package` (the OCI image) runs next to `deploy`.',
    '',
    '### A burst of webhook deliveries',
    '',
    `${opts.burst} GitHub \`push\` deliveries to \`main\`, each with its own \`X-GitHub-Delivery\` id and a valid ` +
      "`X-Hub-Signature-256`, sent at once (one `fetch` each) to the one-stage pipeline's server; then the runs " +
      'created are read from `GET /api/queue` and every delivery id looked up in their causes.',
    '',
    table(
      [
        'burst',
        'accepted (202)',
        'sent in',
        'first run lasted',
        'runs',
        'causes per run',
        'statuses',
        'lost',
        'run twice',
      ],
      r.burst.map((b, i) => [
        String(i + 1),
        `${b.accepted} of ${b.deliveries}`,
        fmtSeconds(b.sendSeconds),
        fmtSeconds(b.firstRunSeconds),
        String(b.runs),
        b.causesPerRun.join(' + '),
        b.runStatuses.join(', '),
        String(b.missing),
        String(b.duplicated),
      ]),
    ),
    '',
    'The first delivery queues a run that starts at once; the others arrive while it runs and join the one ' +
      'run waiting behind it (docs/control-plane.md, "The run queue"). The stage sleeps 2 s and the server runs ' +
      'it with `--force` (`run_args` in server.yaml) so that the run lasts longer than the burst takes to ' +
      'arrive, as a real pipeline run does; a burst that outlasts a run spreads over more runs (a run ' +
      'that has started takes no new causes), each delivery still the cause of exactly one. Every delivery ' +
      "pushes the workspace's own HEAD to main, so each run checks the pushed commit (clean tree, on main, " +
      'already there) and runs: a run must succeed to count.',
  );
  return lines.filter((line, i, all) => !(line === '' && all[i - 1] === '')).join('\n');
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-bench-control-'));
  const servers: Server[] = [];
  let example: Workspace | undefined;
  const stopAll = async () => {
    for (const server of servers.splice(0)) await server.stop();
    if (example)
      await run([process.execPath, example.ledgeBin, 'deploy', 'stop'], {
        cwd: example.dir,
        env: benchEnv(),
      });
    example = undefined;
  };
  const interrupted = () => {
    void stopAll().finally(() => {
      if (!opts.keep) fs.rmSync(tmp, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    log(`setting up in ${tmp}`);
    const ledgeBin = snapshotLedge(path.join(ROOT, 'bin', 'ledge.js'), tmp);

    // 1 and 3: the one-stage pipeline.
    const small = await makeWorkspace(path.join(tmp, 'small'), ledgeBin, {
      'ledge.yaml': SMALL_PIPELINE,
      'input.txt': 'first\n',
      '.ledge/server.yaml':
        `port: 0\nrun_args: [--force]\ntriggers:\n  watch: { debounce: ${opts.debounce} }\n` +
        '  github: { secret_env: LEDGE_GITHUB_SECRET, branch: main }\n',
    });
    await git(small.dir, ['add', '-A']);
    await git(small.dir, ['commit', '-qm', 'pipeline']);
    const smallToken = (
      JSON.parse(
        await ledge(small, ['token', 'create', '--name', 'bench', '--json'], 'ledge token create'),
      ) as {
        token: string;
      }
    ).token;
    await ledge(small, ['run'], 'ledge run');
    const smallServer = await startServer(small, path.join(tmp, 'small-server.log'));
    servers.push(smallServer);
    log(`saved change → run started (${opts.runs}×, debounce ${opts.debounce} s)`);
    const start = await measureStart(smallServer, small, smallToken, opts);
    log(`${opts.runs} bursts of ${opts.burst} signed GitHub deliveries`);
    // The saves above left input.txt edited: commit them, so that the pushed commit is HEAD and the
    // workspace is clean, as a server's clone is.
    await git(small.dir, ['commit', '-qam', 'saved changes']);
    const head = (await run(['git', 'rev-parse', 'HEAD'], { cwd: small.dir, env: benchEnv() })).stdout.trim();
    const burst = await measureBurst(smallServer, smallToken, opts, head);
    await smallServer.stop();
    servers.splice(servers.indexOf(smallServer), 1);

    // 2: the example pipeline.
    const port = await freePort();
    example = await makeWorkspace(
      path.join(tmp, 'imdb'),
      ledgeBin,
      {
        '.ledge/deploy.yaml': fs
          .readFileSync(path.join(EXAMPLE, 'deploy.yaml'), 'utf8')
          .replace('port: 8080', `port: ${port}`),
        '.ledge/server.yaml': `port: 0\ntriggers:\n  watch: { debounce: ${opts.debounce} }\n`,
      },
      {
        'ledge.yaml': path.join(EXAMPLE, 'ledge.yaml'),
        'params.yaml': path.join(EXAMPLE, 'params.yaml'),
        'data/aclImdb.tar.gz': SAMPLE_ARCHIVE,
      },
    );
    if (!fs.readFileSync(path.join(example.dir, '.ledge', 'deploy.yaml'), 'utf8').includes(`port: ${port}`))
      throw new Error('examples/imdb/deploy.yaml no longer says `port: 8080`: update the benchmark');
    await ledge(example, ['add', 'data/aclImdb.tar.gz'], 'ledge add');
    await git(example.dir, ['add', '-A']);
    await git(example.dir, ['commit', '-qm', 'The IMDB example pipeline']);
    const exampleToken = (
      JSON.parse(
        await ledge(example, ['token', 'create', '--name', 'bench', '--json'], 'ledge token create'),
      ) as {
        token: string;
      }
    ).token;
    log('the example pipeline: a first ledge run (every stage, deployed to the local target)');
    const firstStart = performance.now();
    await ledge(example, ['run'], 'the first ledge run of the example pipeline');
    const firstRunSeconds = (performance.now() - firstStart) / 1000;
    log(`  ${fmtSeconds(firstRunSeconds)}`);
    const exampleServer = await startServer(example, path.join(tmp, 'imdb-server.log'));
    servers.push(exampleServer);
    log(`saved params.yaml → the new model serving (${opts.runs}×)`);
    const delivery = await measureDelivery(exampleServer, example, exampleToken, port, opts);

    const results: Results = {
      start,
      cdStart: delivery.map((d) => d.startSeconds),
      delivery,
      burst,
      firstRunSeconds,
    };
    await stopAll();
    const body = report(results, opts, (performance.now() - started) / 60_000);
    process.stdout.write(`${SECTION}\n\n${body}\n`);
    if (opts.write) {
      updateSectionAfter(path.join(ROOT, 'docs', 'benchmarks.md'), SECTION, body, PREVIOUS_SECTION);
      log('docs/benchmarks.md updated');
    }
  } finally {
    await stopAll();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    if (!opts.keep) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`control-bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
