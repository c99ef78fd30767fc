/**
 * The deployment benchmark (issue 6), local target: what clients see while ledge swaps model
 * versions behind the stable port.
 *
 *   1. Blue/green under steady load: autocannon (its API, in this process) keeps `--connections`
 *      clients predicting through the stable port while `ledge deploy` alternates two versions of
 *      the IMDB model `--swaps` times. Every response is counted: non-2xx, connection errors and
 *      timeouts are failed requests (the target: 0). Each swap's steps (start, ready, smoke,
 *      switch, drain) come from `ledge deploy --json`.
 *   2. A broken version under the same load: a bundle whose `model.onnx` is garbage. The deploy
 *      must fail, the serving version must never stop answering (failed requests: 0), and the
 *      time from the deploy's start to its failure is reported; the old version serves throughout,
 *      so "time to the old version serving again" is 0 on this target.
 *
 * The images (build times against `podman build`, sizes, bytes pulled by an engine for a
 * model-only update) are measured by bench/image-bench.ts.
 *
 *   npm run build && npm run bench:deploy -- --write     # full: the 25,000-review archive
 *   npm run build && npm run bench:deploy -- --quick     # smoke: the 2,000-review sample
 *
 * Progress goes to stderr, the markdown report to stdout; with --write the "## Deployment
 * (issue 6)" section of docs/benchmarks.md. Everything is written under os.tmpdir() and removed
 * at the end; the target is stopped (also after an error).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/free-port.js';
import { check, run } from './lib/exec.js';
import { benchEnv, snapshotLedge } from './lib/ledge.js';
import { machineInfo, machineLine, packageVersion } from './lib/machine.js';
import { parseBenchOptions } from './lib/options.js';
import { type LoadSummary, startPredictLoad } from './lib/predict-load.js';
import { fmtCount, fmtSeconds, median, table, updateSectionAfter } from './lib/report.js';

const SECTION = '## Deployment (issue 6)';
const PREVIOUS_SECTION = '## Serving (issue 5)';
const REPRODUCE = 'npm run build && npm run bench:deploy -- --write';
const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(THIS_FILE), '..', '..');
const FULL_ARCHIVE = path.resolve(ROOT, '..', 'shared', 'datasets', 'imdb', 'aclImdb_train.tar.gz');
const SAMPLE_ARCHIVE = path.join(ROOT, 'examples', 'imdb', 'data', 'aclImdb_sample.tar.gz');
const TIMEOUT_MS = 600_000;
/** Issue 6: time from a failing health check to the old version serving again. */
const TARGET_RECOVERY_SECONDS = 5;

const USAGE = `usage: node dist/bench/deploy-bench.js [--quick] [--write] [--swaps N] [--connections N] [--keep]
  --quick          the 2,000-review sample, 4 swaps
  --write          update the "${SECTION}" section of docs/benchmarks.md
  --swaps N        blue/green swaps under load (default 10; 4 with --quick)
  --connections N  concurrent clients of the load (default 16)
  --keep           keep the temp directory`;

type Options = ReturnType<typeof parseOptions>;

function parseOptions(argv: string[]) {
  return parseBenchOptions(argv, USAGE, {
    swaps: { full: 10, quick: 4, min: 1 },
    connections: { full: 16, min: 1 },
  });
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

// ---------------------------------------------------------------------------------------------
// The load: autocannon through the stable port, every response counted

function startLoad(url: string, texts: string[], connections: number): { stop: () => Promise<LoadSummary> } {
  return startPredictLoad({ root: ROOT, url, model: 'imdb-sentiment', texts, connections });
}

// ---------------------------------------------------------------------------------------------
// The workspace: two versions of the IMDB model and a broken one, a local target on a free port

interface Setup {
  work: string;
  ledgeBin: string;
  texts: string[];
  port: number;
  versions: [string, string];
  broken: string;
  modelBytes: number;
}

async function setUp(work: string, opts: Options): Promise<Setup> {
  const ledgeBin = snapshotLedge(path.join(ROOT, 'bin', 'ledge.js'), work);
  const ws = path.join(work, 'ws');
  fs.mkdirSync(ws);
  const ledge = async (args: string[], what: string) =>
    check(
      await run([process.execPath, ledgeBin, ...args], { cwd: ws, env: benchEnv(), timeoutMs: TIMEOUT_MS }),
      what,
    );
  await ledge(['init'], 'ledge init');
  const archive = opts.quick ? SAMPLE_ARCHIVE : FULL_ARCHIVE;
  if (!fs.existsSync(archive)) throw new Error(`IMDB archive not found at ${archive}`);
  await ledge(['imdb', 'prepare', '--source', archive, '--out', 'prep'], 'ledge imdb prepare');
  const versions: string[] = [];
  for (const epochs of [2, 3]) {
    fs.writeFileSync(path.join(ws, `params-${epochs}.yaml`), `train:\n  epochs: ${epochs}\n`);
    const out = `model-${epochs}-epochs`;
    await ledge(
      [
        'train',
        '--train',
        'prep/train.jsonl',
        '--validation',
        'prep/validation.jsonl',
        '--params',
        `params-${epochs}.yaml`,
        '--out',
        out,
        '--name',
        'imdb-sentiment',
      ],
      'ledge train',
    );
    await ledge(['model', 'register', out, '--name', 'imdb-sentiment'], 'ledge model register');
    versions.push(`imdb-sentiment@${versions.length + 1}`);
  }
  fs.cpSync(path.join(ws, 'model-3-epochs'), path.join(ws, 'broken'), { recursive: true });
  fs.writeFileSync(path.join(ws, 'broken', 'model.onnx'), Buffer.alloc(4096, 7));
  const port = await freePort();
  // No quality gate against the deployed version: the swaps alternate a better and a worse model.
  fs.writeFileSync(
    path.join(ws, '.ledge', 'deploy.yaml'),
    `targets:\n  local:\n    port: ${port}\n    gate: {metric: accuracy, against_deployed: false}\n`,
  );
  const texts = fs
    .readFileSync(path.join(ws, 'prep', 'validation.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { text: string }).text);
  return {
    work: ws,
    ledgeBin,
    texts,
    port,
    versions: versions as [string, string],
    broken: './broken',
    modelBytes: fs.statSync(path.join(ws, 'model-2-epochs', 'model.onnx')).size,
  };
}

interface DeployJson {
  ok?: boolean;
  reason?: string;
  steps?: { step: string; ok: boolean; ms: number; detail?: string }[];
  deployment?: { id: number; status: string };
}

interface Swap {
  model: string;
  seconds: number;
  ok: boolean;
  steps: Record<string, number>;
  reason: string | undefined;
}

async function deploy(setup: Setup, model: string): Promise<Swap> {
  const started = performance.now();
  const result = await run([process.execPath, setup.ledgeBin, 'deploy', model, '--json'], {
    cwd: setup.work,
    env: benchEnv(),
    timeoutMs: TIMEOUT_MS,
  });
  const seconds = (performance.now() - started) / 1000;
  let parsed: DeployJson = {};
  try {
    parsed = JSON.parse(result.stdout) as DeployJson;
  } catch {
    // a failed deploy prints its error on stderr
  }
  const steps: Record<string, number> = {};
  for (const step of parsed.steps ?? []) steps[step.step] = step.ms / 1000;
  return {
    model,
    seconds,
    ok: result.code === 0,
    steps,
    reason: result.code === 0 ? undefined : (parsed.reason ?? result.stderr.trim().split('\n').at(-1)),
  };
}

async function servingVersion(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${url}/v2/models/imdb-sentiment`);
    const body = (await response.json()) as { versions?: string[] };
    return body.versions?.[0];
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Main

interface Results {
  swaps: Swap[];
  swapLoad: LoadSummary;
  broken: Swap;
  brokenLoad: LoadSummary;
  servedBefore: string | undefined;
  servedAfter: string | undefined;
}

async function measure(setup: Setup, opts: Options): Promise<Results> {
  const url = `http://127.0.0.1:${setup.port}`;
  const first = await deploy(setup, setup.versions[0]);
  if (!first.ok) throw new Error(`the first deploy failed: ${first.reason}`);
  log(`deployed ${setup.versions[0]} at ${url} in ${fmtSeconds(first.seconds)}`);

  log(`${opts.swaps} swaps under load (${opts.connections} clients)`);
  const load = startLoad(url, setup.texts, opts.connections);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const swaps: Swap[] = [];
  for (let i = 0; i < opts.swaps; i++) {
    const model = setup.versions[(i + 1) % 2]!;
    const swap = await deploy(setup, model);
    log(
      `  swap ${i + 1}: ${model} ${swap.ok ? 'ok' : `FAILED: ${swap.reason}`} in ${fmtSeconds(swap.seconds)}`,
    );
    swaps.push(swap);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const swapLoad = await load.stop();

  log('a broken version under load');
  const servedBefore = await servingVersion(url);
  const brokenLoadRun = startLoad(url, setup.texts, opts.connections);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const broken = await deploy(setup, setup.broken);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const brokenLoad = await brokenLoadRun.stop();
  const servedAfter = await servingVersion(url);
  log(
    `  broken deploy ${broken.ok ? 'SUCCEEDED (unexpected)' : 'failed as expected'} in ${fmtSeconds(broken.seconds)}`,
  );
  return { swaps, swapLoad, broken, brokenLoad, servedBefore, servedAfter };
}

function report(setup: Setup, r: Results, opts: Options, minutes: number): string {
  const machine = machineInfo(ROOT);
  const failed = (l: LoadSummary) => l.non2xx + l.errors + l.timeouts;
  const swapFailed = failed(r.swapLoad);
  const brokenFailed = failed(r.brokenLoad);
  const okSwaps = r.swaps.filter((s) => s.ok);
  const stepMedian = (name: string) => {
    const values = okSwaps.map((s) => s.steps[name]).filter((v): v is number => v !== undefined);
    return values.length > 0 ? fmtSeconds(median(values)) : 'n/a';
  };
  const lines: string[] = [];
  lines.push(
    `_Generated by \`bench/deploy-bench.ts\` on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} in ` +
      `${minutes.toFixed(1)} min; ${opts.quick ? 'quick' : 'full'}._`,
    '',
    `Reproduce: \`${REPRODUCE}\` (this run: \`${opts.argv.join(' ') || '(no options)'}\`). Options: \`--quick\`, ` +
      '`--swaps N`, `--connections N`. Build times, image sizes and the bytes an engine pulls are in ' +
      '"Images (issue 6)".',
    '',
    machineLine(machine, [`autocannon ${packageVersion(ROOT, 'autocannon')}`]),
    '',
    `**Setup:** a workspace with two registered versions of the IMDB model (${opts.quick ? 'the 2,000-review sample' : 'the 25,000-review archive'}; ` +
      `2 and 3 epochs; \`model.onnx\` ${fmtCount(setup.modelBytes)} bytes) on the \`local\` target (supervised ` +
      '`ledge serve` processes behind a reverse proxy on a stable port). The load: autocannon through its API in ' +
      `the benchmark process, ${opts.connections} keep-alive connections predicting one validation review per ` +
      'request through the stable port, from before the first swap until after the last; a failed request is a ' +
      'non-2xx answer, a connection error or a timeout (10 s).',
    '',
    '### Verdicts',
    '',
    table(
      ['target', 'measured', 'verdict'],
      [
        [
          'requests failed during a local blue/green swap under steady load: 0',
          `${fmtCount(swapFailed)} of ${fmtCount(r.swapLoad.ok + swapFailed)} over ${r.swaps.length} swaps ` +
            `(${okSwaps.length} succeeded)`,
          swapFailed === 0 && okSwaps.length === r.swaps.length ? 'met' : '**not met**',
        ],
        [
          `time from a failing health check to the old version serving again ≤ ${TARGET_RECOVERY_SECONDS} s (local)`,
          `0 s: the old version never stopped (${r.servedBefore ?? '?'} before, ${r.servedAfter ?? '?'} after); ` +
            `the broken deploy was refused in ${fmtSeconds(r.broken.seconds)} with ${fmtCount(brokenFailed)} failed ` +
            'requests',
          !r.broken.ok && brokenFailed === 0 && r.servedBefore === r.servedAfter ? 'met' : '**not met**',
        ],
      ],
    ),
    '',
    '### Swaps under load',
    '',
    table(
      [
        'swaps',
        'requests answered',
        'failed',
        'p50',
        'p99',
        'max',
        'deploy (median)',
        'start',
        'ready',
        'smoke',
        'switch',
        'drain',
      ],
      [
        [
          String(r.swaps.length),
          fmtCount(r.swapLoad.ok),
          fmtCount(swapFailed),
          `${r.swapLoad.p50Ms} ms`,
          `${r.swapLoad.p99Ms} ms`,
          `${r.swapLoad.maxMs} ms`,
          fmtSeconds(median(r.swaps.map((s) => s.seconds))),
          stepMedian('start'),
          stepMedian('ready'),
          stepMedian('smoke'),
          stepMedian('switch'),
          stepMedian('drain'),
        ],
      ],
    ),
    '',
    '"deploy" is the whole `ledge deploy` command (a new Node.js process: the quality gate, the deployment ' +
      "record, the rollout); the steps are those the target reports. Latencies are autocannon's (whole " +
      'milliseconds) over every request of the series, swaps included.',
    '',
    `**A broken version** (\`model.onnx\` replaced by 4 KiB of garbage, under the same load): \`ledge deploy\` ` +
      `exited ${r.broken.ok ? '0 (unexpected)' : 'non-zero'} after ${fmtSeconds(r.broken.seconds)}` +
      (r.broken.reason
        ? ` — \`${r.broken.reason.slice(0, 160)}${r.broken.reason.length > 160 ? '…' : ''}\``
        : '') +
      `; ${fmtCount(r.brokenLoad.ok)} requests were answered meanwhile, ${fmtCount(brokenFailed)} failed, and the ` +
      `stable port served ${r.servedBefore ?? '?'} before and ${r.servedAfter ?? '?'} after. The local target ` +
      'starts the new version next to the old one and switches only after it is ready and has answered a smoke ' +
      'inference, so a version that fails its health check never receives traffic and the old one is never ' +
      'interrupted.',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-bench-deploy-'));
  let setup: Setup | undefined;
  try {
    log(`setting up in ${tmp}`);
    setup = await setUp(tmp, opts);
    const results = await measure(setup, opts);
    const body = report(setup, results, opts, (performance.now() - started) / 60_000);
    process.stdout.write(`${SECTION}\n\n${body}\n`);
    if (opts.write) {
      updateSectionAfter(path.join(ROOT, 'docs', 'benchmarks.md'), SECTION, body, PREVIOUS_SECTION);
      log('docs/benchmarks.md updated');
    }
  } finally {
    if (setup) {
      await run([process.execPath, setup.ledgeBin, 'deploy', 'stop'], { cwd: setup.work, env: benchEnv() });
    }
    if (!opts.keep) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`deploy-bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
