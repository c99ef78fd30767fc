/**
 * Pipelines and metadata benchmark (issue 3): the no-op `ledge run` of a pipeline that depends
 * on the 25,000-file IMDB tree; `ledge runs list --where …` over 10,000 recorded runs with 50
 * metrics each, on SQLite and on PostgreSQL; and the per-stage overhead of `ledge run` over
 * running the same commands directly, on a 10-stage chain. Medians over N runs, a markdown
 * report on stdout, and with --write the "## Pipelines and metadata (issue 3)" section of
 * docs/benchmarks.md.
 *
 *   npm run build && npm run bench:pipeline -- --write     # full: 5 runs, 10,000 seeded runs
 *   npm run build && npm run bench:pipeline -- --quick     # smoke: 2 runs, 2,000 seeded runs
 *
 * Progress goes to stderr. Workspaces and the PostgreSQL cluster live under os.tmpdir() and are
 * removed at the end (also after an error or Ctrl-C).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { extractImdb, prng, summarize as summarizeData } from './lib/data.js';
import { check, killRunning, type RunResult, removeTree, run, runShell, sh, shellQuote } from './lib/exec.js';
import { benchEnv, snapshotLedge } from './lib/ledge.js';
import { type Machine as BaseMachine, machineInfo as baseMachineInfo } from './lib/machine.js';
import { type PostgresCluster, postgresBinDir, startPostgresCluster } from './lib/postgres.js';
import {
  fmtBytes,
  fmtCount,
  fmtSeconds,
  type Summary,
  summarize,
  table,
  updateSectionAfter,
} from './lib/report.js';

const SECTION = '## Pipelines and metadata (issue 3)';
const PREVIOUS_SECTION = '## Data versioning (issue 2)';
const REPRODUCE = 'npm run build && npm run bench:pipeline -- --write';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The ledge CLI the benchmark runs: a private snapshot of the build (see `snapshotLedge`). */
let LEDGE_BIN = path.join(ROOT, 'bin', 'ledge.js');
const NPROC = os.availableParallelism();
/** A sanity limit per command, so a hang cannot stall the benchmark forever. */
const TIMEOUT_MS = 600_000;

/** The targets of issue 3, in seconds. */
const TARGET_NOOP_S = 0.5;
const TARGET_LIST_S = 0.5;
const TARGET_STAGE_OVERHEAD_S = 0.1;

const STAGES = 10;
const WHERE = 'metrics.accuracy > 0.9 or params.train.epochs = 5';
const COUNT_CMD = 'ls data/aclImdb/train/pos | wc -l > count.txt';
/** The scale variant of figure 1: the same stage shape with a one-file dependency. */
const SMALL_CMD = 'wc -l < data/small.txt > count.txt';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  runs: number;
  quick: boolean;
  write: boolean;
  imdb: string;
  seedRuns: number;
  metrics: number;
  postgres: boolean;
  keep: boolean;
  /** `bin/ledge.js` of the build to measure. */
  ledge: string;
  argv: string[];
}

const USAGE = `usage: node dist/bench/pipeline-bench.js [options]
  --runs N            timed runs per measurement, median reported (default 5; 2 with --quick)
  --quick             smoke mode: 2 runs, 2,000 seeded runs instead of 10,000
  --write             update the "${SECTION}" section of docs/benchmarks.md
  --imdb PATH         IMDB tarball (default ../shared/datasets/imdb/aclImdb_train.tar.gz)
  --seed-runs N       recorded runs to seed the metadata databases with (default 10000)
  --metrics N         metrics per seeded run, besides accuracy (default 50)
  --no-postgres       skip the PostgreSQL figures
  --ledge PATH        bin/ledge.js of the build to measure (default: this checkout's)
  --keep              keep the temp directory (for debugging)`;

function parseOptions(argv: string[]): Options {
  const opts: Partial<Options> = {};
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    return v;
  };
  const positiveInt = (raw: string, flag: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} must be a positive integer, not '${raw}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') opts.quick = true;
    else if (arg === '--write') opts.write = true;
    else if (arg === '--no-postgres') opts.postgres = false;
    else if (arg === '--keep') opts.keep = true;
    else if (arg === '--runs') opts.runs = positiveInt(value(i++, arg), arg);
    else if (arg === '--seed-runs') opts.seedRuns = positiveInt(value(i++, arg), arg);
    else if (arg === '--metrics') opts.metrics = positiveInt(value(i++, arg), arg);
    else if (arg === '--imdb') opts.imdb = path.resolve(value(i++, arg));
    else if (arg === '--ledge') opts.ledge = path.resolve(value(i++, arg));
    else if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown option '${arg}'\n${USAGE}`);
  }
  const quick = opts.quick ?? false;
  return {
    runs: opts.runs ?? (quick ? 2 : 5),
    quick,
    write: opts.write ?? false,
    imdb: opts.imdb ?? path.resolve(ROOT, '..', 'shared', 'datasets', 'imdb', 'aclImdb_train.tar.gz'),
    seedRuns: opts.seedRuns ?? (quick ? 2000 : 10_000),
    metrics: opts.metrics ?? 50,
    postgres: opts.postgres ?? true,
    keep: opts.keep ?? false,
    ledge: opts.ledge ?? path.join(ROOT, 'bin', 'ledge.js'),
    argv,
  };
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

function ledge(...args: string[]): string[] {
  return [process.execPath, LEDGE_BIN, ...args];
}

/** Runs and times a command that must succeed. */
async function timed(argv: string[], cwd: string, env: NodeJS.ProcessEnv, what: string): Promise<RunResult> {
  return check(await run(argv, { cwd, env, timeoutMs: TIMEOUT_MS }), what);
}

/** Runs and times a command with its stdout sent to /dev/null (by a `bash -c 'exec …'`). */
async function timedToNull(
  argv: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  what: string,
): Promise<RunResult> {
  const script = `exec ${argv.map(shellQuote).join(' ')} > /dev/null`;
  return check(await runShell(script, { cwd, env, timeoutMs: TIMEOUT_MS }), what);
}

/** A fresh workspace: `git init` and `ledge init`, with these files written. */
function newWorkspace(dir: string, env: NodeJS.ProcessEnv, files: Record<string, string> = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  sh(['git', 'init', '-q'], { cwd: dir, env });
  // No background `git gc --auto` running into the timings.
  sh(['git', 'config', 'gc.auto', '0'], { cwd: dir, env });
  sh(ledge('-q', 'init'), { cwd: dir, env });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/**
 * Commits what a user would after a run (ledge.yaml, ledge.lock, pointer files, .gitignore, ledge's
 * config), but never the IMDB tree itself; ledge records the commit.
 */
function commitAll(dir: string, env: NodeJS.ProcessEnv, message: string): void {
  // The tree is in .git/info/exclude (see figureNoop); tracked, ledge also lists it in .gitignore.
  sh(['git', 'add', '-A'], { cwd: dir, env });
  sh(['git', 'commit', '-q', '-m', message], { cwd: dir, env });
}

interface RunJson {
  status: string;
  stages: { name: string; outcome: string }[];
}

function runJson(dir: string, env: NodeJS.ProcessEnv, ...args: string[]): RunJson {
  return JSON.parse(sh(ledge('run', '--json', ...args), { cwd: dir, env })) as RunJson;
}

// ---------------------------------------------------------------------------------------------
// Machine and peers

function firstLine(argv: string[]): string | undefined {
  try {
    return sh(argv).split('\n')[0]?.trim();
  } catch {
    return undefined;
  }
}

interface Machine extends BaseMachine {
  tmpFs: string;
  sqlite: string;
  postgres: string | undefined;
}

function machineInfo(tmp: string, ledgeRoot: string): Machine {
  const base = baseMachineInfo(ledgeRoot);
  const memory = new Database(':memory:');
  const sqlite = (memory.prepare('select sqlite_version() as v').get() as { v: string }).v;
  memory.close();
  const pgBin = postgresBinDir();
  return {
    ...base,
    tmpFs: firstLine(['stat', '-f', '-c', '%T', tmp]) ?? 'unknown',
    sqlite,
    postgres: pgBin ? firstLine([path.join(pgBin, 'postgres'), '--version']) : undefined,
  };
}

interface Peer {
  name: string;
  command: string;
  installed: boolean;
  /** Why it was not measured. */
  why: string;
}

/** Whether `apt-cache policy` knows an installable candidate for any of these packages. */
function debianCandidates(packages: string[]): string[] {
  const probe = spawnSync('apt-cache', ['policy', ...packages], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return [];
  const found: string[] = [];
  let current: string | undefined;
  for (const line of probe.stdout.split('\n')) {
    const head = /^(\S+):$/.exec(line);
    if (head) current = head[1];
    const candidate = /^\s+Candidate:\s*(\S+)/.exec(line);
    if (current && candidate && candidate[1] !== '(none)') found.push(`${current} ${candidate[1]}`);
  }
  return found;
}

function detectPeer(name: string, command: string, packages: string[]): Peer {
  const installed = spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
  const debian = debianCandidates(packages);
  let why: string;
  if (installed) why = `\`${command}\` is installed, but this benchmark does not drive it yet`;
  else if (debian.length > 0) why = `not installed (Debian has ${debian.join(', ')}: \`apt-get install\` it)`;
  else
    why =
      `not installed and not installable here: Debian has no package for it (\`apt-cache policy ${packages.join(' ')}\`: ` +
      'no candidate) and PyPI, where it is published, is not reachable from this machine (only the npm registry ' +
      "and Debian's archive are)";
  return { name, command, installed, why };
}

// ---------------------------------------------------------------------------------------------
// Figure 1: no-op `ledge run` with the IMDB tree as a dependency

type NoopKey = 'tracked' | 'untracked' | 'small';

interface NoopResult {
  key: NoopKey;
  /** `ledge add data/aclImdb` (tracked variant only). */
  add?: number;
  cold: number;
  noop: number[];
  direct: number[];
}

interface NoopFigure {
  files: number;
  bytes: number;
  extractS: number;
  variants: NoopResult[];
  version: number[];
}

const noopPipeline = (cmd: string, dep: string) =>
  ['stages:', '  count:', `    cmd: ${cmd}`, `    deps: [${dep}]`, '    outs: [count.txt]', ''].join('\n');

async function noopVariant(
  key: NoopKey,
  ws: string,
  env: NodeJS.ProcessEnv,
  versions: number[],
  opts: Options,
): Promise<NoopResult> {
  const result: NoopResult = { key, cold: 0, noop: [], direct: [] };
  fs.appendFileSync(path.join(ws, '.git', 'info', 'exclude'), '/data/aclImdb/\n');
  if (key === 'tracked') {
    const add = await timed(ledge('-q', 'add', 'data/aclImdb'), ws, env, 'ledge add');
    result.add = add.seconds;
    log(`${key}: ledge add data/aclImdb ${fmtSeconds(add.seconds)}`);
  }
  const cold = await timed(ledge('run', '-q'), ws, env, 'first ledge run');
  result.cold = cold.seconds;
  const count = fs.readFileSync(path.join(ws, 'count.txt'), 'utf8').trim();
  log(`${key}: first ledge run ${fmtSeconds(cold.seconds)} (count.txt: ${count})`);
  commitAll(ws, env, 'pipeline');
  const countMtime = fs.statSync(path.join(ws, 'count.txt')).mtimeMs;
  // One untimed no-op first, so every timed one finds the same state.
  const warm = runJson(ws, env);
  if (warm.status !== 'up-to-date') throw new Error(`${key}: the run after the first is not a no-op`);
  const direct = (key === 'small' ? SMALL_CMD : COUNT_CMD).replace('count.txt', 'count-direct.txt');
  for (let i = 0; i < opts.runs; i++) {
    const noop = await timed(ledge('run', '-q'), ws, env, 'no-op ledge run');
    const sh1 = await timed(['sh', '-c', direct], ws, env, 'the command directly');
    result.noop.push(noop.seconds);
    result.direct.push(sh1.seconds);
    const v = await timed(ledge('--version'), ws, env, 'ledge --version');
    versions.push(v.seconds);
    log(
      `${key} run ${i + 1}/${opts.runs}: no-op ledge run ${fmtSeconds(noop.seconds)}, command directly ${fmtSeconds(sh1.seconds)}`,
    );
  }
  const after = runJson(ws, env);
  if (after.status !== 'up-to-date' || fs.statSync(path.join(ws, 'count.txt')).mtimeMs !== countMtime) {
    throw new Error(`${key}: a timed no-op ledge run ran the stage`);
  }
  return result;
}

async function figureNoop(work: string, opts: Options): Promise<NoopFigure> {
  if (!fs.existsSync(opts.imdb)) throw new Error(`IMDB tarball not found at ${opts.imdb} (pass --imdb PATH)`);
  const env = benchEnv();
  const files = { 'ledge.yaml': noopPipeline(COUNT_CMD, 'data/aclImdb') };
  // Untracked first; then the same tree moves (a rename) into the second workspace and is added.
  const plain = newWorkspace(path.join(work, 'noop-untracked'), env, files);
  const started = performance.now();
  extractImdb(opts.imdb, path.join(plain, 'data'));
  const extractS = (performance.now() - started) / 1000;
  const data = summarizeData(path.join(plain, 'data', 'aclImdb'));
  log(`IMDB: ${fmtCount(data.files)} files, ${fmtBytes(data.bytes)} extracted in ${fmtSeconds(extractS)}`);
  sh(['sync']);
  const versions: number[] = [];
  const untracked = await noopVariant('untracked', plain, env, versions, opts);
  const tracked = newWorkspace(path.join(work, 'noop-tracked'), env, files);
  fs.mkdirSync(path.join(tracked, 'data'));
  fs.renameSync(path.join(plain, 'data', 'aclImdb'), path.join(tracked, 'data', 'aclImdb'));
  removeTree(plain);
  const trackedResult = await noopVariant('tracked', tracked, env, versions, opts);
  removeTree(tracked);
  // For scale: what the same no-op costs when the dependency is one small file.
  const smallWs = newWorkspace(path.join(work, 'noop-small'), env, {
    'ledge.yaml': noopPipeline(SMALL_CMD, 'data/small.txt'),
  });
  fs.mkdirSync(path.join(smallWs, 'data'));
  fs.writeFileSync(path.join(smallWs, 'data', 'small.txt'), 'one\ntwo\nthree\n');
  const small = await noopVariant('small', smallWs, env, versions, opts);
  removeTree(smallWs);
  return {
    files: data.files,
    bytes: data.bytes,
    extractS,
    variants: [trackedResult, untracked, small],
    version: versions,
  };
}

// ---------------------------------------------------------------------------------------------
// Figure 2: `ledge runs list` over many recorded runs

type DbKey = 'sqlite' | 'postgres';
type QueryKey = 'where' | 'whereAll' | 'plain';

const QUERY_LABEL: Record<QueryKey, string> = {
  where: `\`runs list --where "${WHERE}"\` (default limit 50)`,
  whereAll: `same with \`--limit 10000 --json > /dev/null\``,
  plain: '`runs list` (newest 50, no filter)',
};

interface DbResult {
  key: DbKey;
  seedS: number;
  size: number | undefined;
  rows: Record<QueryKey, number>;
  samples: Record<QueryKey, number[]>;
}

interface ListFigure {
  seeded: number;
  matches: number;
  dbs: DbResult[];
  skipped?: string;
}

type MetadataModule = typeof import('../src/metadata/metadata-store.js');

async function metadataModule(): Promise<MetadataModule> {
  const file = path.join(
    path.dirname(path.dirname(LEDGE_BIN)),
    'dist',
    'src',
    'metadata',
    'metadata-store.js',
  );
  return (await import(pathToFileURL(file).href)) as MetadataModule;
}

interface SeedRun {
  epochs: number;
  accuracy: number;
}

/**
 * Writes `n` finished pipeline runs straight into the executions table (multi-row inserts of
 * 500 in one transaction), with the columns `startExecution` + `finishExecution` fill in.
 */
async function seedRuns(target: string, n: number, metricCount: number): Promise<SeedRun[]> {
  const { MetadataStore } = await metadataModule();
  const store = await MetadataStore.open(target);
  const random = prng(0x15e3);
  const seeded: SeedRun[] = [];
  const start = Date.parse('2026-01-01T00:00:00Z');
  const host = os.hostname();
  const user = os.userInfo().username;
  try {
    await store.db.transaction().execute(async (trx) => {
      for (let from = 0; from < n; from += 500) {
        const rows = [];
        for (let i = from; i < Math.min(n, from + 500); i++) {
          const epochs = 1 + Math.floor(random() * 20);
          const lr = Number((0.001 + random() * 0.099).toFixed(4));
          const metrics: Record<string, number> = {};
          for (let m = 0; m < metricCount; m++) metrics[`m${m}`] = Number(random().toFixed(6));
          const accuracy = Number((0.5 + random() * 0.5).toFixed(6));
          metrics.accuracy = accuracy;
          seeded.push({ epochs, accuracy });
          const began = start + i * 600_000;
          rows.push({
            type: 'run',
            name: 'ledge.yaml',
            parent_id: null,
            status: 'succeeded',
            exit_code: 0,
            cause: 'manual',
            started_at: new Date(began).toISOString(),
            ended_at: new Date(began + 60_000 + Math.floor(random() * 540_000)).toISOString(),
            git_commit: (i * 2654435761).toString(16).padStart(40, '0').slice(-40),
            git_dirty: 0,
            user_name: user,
            host,
            platform: `${process.platform}/${process.arch}`,
            node_version: process.version,
            ledge_version: '0.1.0',
            params: JSON.stringify({ train: { epochs, lr } }),
            metrics: JSON.stringify(metrics),
            log_digest: null,
            cache_key: null,
            pid: null,
            workspace: `${host}:/bench/ws`,
            properties: JSON.stringify({ stages: ['train'], cpus: NPROC }),
          });
        }
        await trx.insertInto('executions').values(rows).execute();
      }
    });
    if (/^postgres/.test(target)) await sql`analyze executions`.execute(store.db);
  } finally {
    await store.close();
  }
  return seeded;
}

async function postgresSize(url: string): Promise<number | undefined> {
  const { MetadataStore } = await metadataModule();
  const store = await MetadataStore.open(url);
  try {
    const result = await sql<{
      size: string;
    }>`select pg_total_relation_size('executions')::text as size`.execute(store.db);
    return Number(result.rows[0]?.size);
  } catch {
    return undefined;
  } finally {
    await store.close();
  }
}

function listArgs(query: QueryKey): string[] {
  if (query === 'where') return ledge('runs', 'list', '--where', WHERE);
  if (query === 'whereAll') return ledge('runs', 'list', '--where', WHERE, '--limit', '10000', '--json');
  return ledge('runs', 'list');
}

async function listOnDb(
  key: DbKey,
  ws: string,
  target: string,
  env: NodeJS.ProcessEnv,
  opts: Options,
): Promise<{ result: DbResult; expected: number }> {
  const t0 = performance.now();
  const seeded = await seedRuns(target, opts.seedRuns, opts.metrics);
  const seedS = (performance.now() - t0) / 1000;
  const expected = seeded.filter((r) => r.accuracy > 0.9 || r.epochs === 5).length;
  const size =
    key === 'sqlite'
      ? ['', '-wal'].reduce(
          (sum, suffix) => sum + (fs.statSync(target + suffix, { throwIfNoEntry: false })?.size ?? 0),
          0,
        )
      : await postgresSize(target);
  log(
    `${key}: seeded ${fmtCount(opts.seedRuns)} runs × ${opts.metrics + 1} metrics in ${fmtSeconds(seedS)}` +
      `${size === undefined ? '' : ` (${fmtBytes(size)})`}; ${fmtCount(expected)} match the filter`,
  );
  // Untimed: check what each command returns (and warm the caches).
  const all = JSON.parse(sh(listArgs('whereAll'), { cwd: ws, env })) as unknown[];
  const want = Math.min(expected, 10_000);
  if (all.length !== want)
    throw new Error(`${key}: --where --json returned ${all.length} rows, expected ${want}`);
  // The table's rows, its header line not counted.
  const lines = (query: QueryKey) => sh(listArgs(query), { cwd: ws, env }).trim().split('\n').length - 1;
  const rows: Record<QueryKey, number> = {
    where: lines('where'),
    whereAll: all.length,
    plain: lines('plain'),
  };
  if (rows.where !== Math.min(50, expected) || rows.plain !== Math.min(50, opts.seedRuns)) {
    throw new Error(`${key}: runs list printed ${rows.where} / ${rows.plain} lines, expected 50`);
  }
  const samples: Record<QueryKey, number[]> = { where: [], whereAll: [], plain: [] };
  for (let i = 0; i < opts.runs; i++) {
    const where = await timed(listArgs('where'), ws, env, 'runs list --where');
    const whereAll = await timedToNull(listArgs('whereAll'), ws, env, 'runs list --where --json');
    const plain = await timed(listArgs('plain'), ws, env, 'runs list');
    samples.where.push(where.seconds);
    samples.whereAll.push(whereAll.seconds);
    samples.plain.push(plain.seconds);
    log(
      `${key} run ${i + 1}/${opts.runs}: --where ${fmtSeconds(where.seconds)}, --where --limit 10000 --json ` +
        `${fmtSeconds(whereAll.seconds)}, plain ${fmtSeconds(plain.seconds)}`,
    );
  }
  return { result: { key, seedS, size, rows, samples }, expected };
}

async function figureList(
  work: string,
  opts: Options,
  postgres: () => Promise<PostgresCluster>,
  stopPostgres: () => void,
): Promise<ListFigure> {
  const ws = newWorkspace(path.join(work, 'runs'), benchEnv());
  const figure: ListFigure = { seeded: opts.seedRuns, matches: 0, dbs: [] };
  const sqlite = await listOnDb(
    'sqlite',
    ws,
    path.join(ws, '.ledge', 'state', 'metadata.db'),
    benchEnv(),
    opts,
  );
  figure.dbs.push(sqlite.result);
  figure.matches = sqlite.expected;
  if (!opts.postgres) figure.skipped = 'skipped (--no-postgres)';
  else if (!postgresBinDir()) figure.skipped = 'PostgreSQL is not installed (Debian package postgresql)';
  else {
    const cluster = await postgres();
    log(`postgres: ${cluster.version} on port ${cluster.port}`);
    try {
      const pg = await listOnDb('postgres', ws, cluster.url, benchEnv({ LEDGE_DB_URL: cluster.url }), opts);
      if (pg.expected !== sqlite.expected) throw new Error('the two databases were seeded differently');
      figure.dbs.push(pg.result);
    } finally {
      stopPostgres();
    }
  }
  removeTree(ws);
  return figure;
}

// ---------------------------------------------------------------------------------------------
// Figure 3: per-stage overhead on a 10-stage chain of trivial commands

type OverheadKey = 'forced' | 'forcedJ1' | 'fresh';

const OVERHEAD_LABEL: Record<OverheadKey, string> = {
  forced: `\`ledge run --force --no-run-cache -q\` (default -j ${NPROC})`,
  forcedJ1: '`ledge run --force --no-run-cache -q -j 1`',
  fresh: '`ledge run -q` in a fresh workspace (first run, no ledge.lock)',
};

interface OverheadFigure {
  direct: number[];
  ledge: Record<OverheadKey, number[]>;
}

const stageCommand = (i: number) => `echo ${i} > out${i}.txt`;

function chainPipeline(): string {
  const lines = ['stages:'];
  for (let i = 0; i < STAGES; i++) {
    lines.push(`  s${i}:`, `    cmd: ${stageCommand(i)}`);
    if (i > 0) lines.push(`    deps: [out${i - 1}.txt]`);
    lines.push(`    outs: [out${i}.txt]`);
  }
  return `${lines.join('\n')}\n`;
}

async function figureOverhead(work: string, opts: Options): Promise<OverheadFigure> {
  const env = benchEnv();
  const files = { 'ledge.yaml': chainPipeline() };
  const ws = newWorkspace(path.join(work, 'chain'), env, files);
  commitAll(ws, env, 'pipeline');
  const first = runJson(ws, env);
  if (first.stages.filter((s) => s.outcome === 'ran').length !== STAGES)
    throw new Error(`the first run of the chain did not run all ${STAGES} stages`);
  commitAll(ws, env, 'lock');
  const directDir = path.join(work, 'chain-direct');
  fs.mkdirSync(directDir);
  // As ledge runs each stage: `/bin/sh -c CMD`, one after another.
  const direct = Array.from({ length: STAGES }, (_, i) => `/bin/sh -c ${shellQuote(stageCommand(i))}`).join(
    ' && ',
  );
  const out: OverheadFigure = { direct: [], ledge: { forced: [], forcedJ1: [], fresh: [] } };
  for (let i = 0; i < opts.runs; i++) {
    const d = await timed(['bash', '-c', direct], directDir, env, 'the commands directly');
    const forced = await timed(ledge('run', '--force', '--no-run-cache', '-q'), ws, env, 'ledge run --force');
    const j1 = await timed(
      ledge('run', '--force', '--no-run-cache', '-q', '-j', '1'),
      ws,
      env,
      'ledge run --force -j 1',
    );
    const freshWs = newWorkspace(path.join(work, `chain-fresh-${i}`), env, files);
    commitAll(freshWs, env, 'pipeline');
    const fresh = await timed(ledge('run', '-q'), freshWs, env, 'first ledge run');
    if (!fs.existsSync(path.join(freshWs, `out${STAGES - 1}.txt`)))
      throw new Error('fresh run wrote no output');
    removeTree(freshWs);
    out.direct.push(d.seconds);
    out.ledge.forced.push(forced.seconds);
    out.ledge.forcedJ1.push(j1.seconds);
    out.ledge.fresh.push(fresh.seconds);
    log(
      `chain run ${i + 1}/${opts.runs}: directly ${fmtSeconds(d.seconds)}, forced ${fmtSeconds(forced.seconds)}, ` +
        `forced -j 1 ${fmtSeconds(j1.seconds)}, fresh workspace ${fmtSeconds(fresh.seconds)}`,
    );
  }
  // Every timed forced run executed (not restored) all stages and recorded them.
  const stages = JSON.parse(
    sh(ledge('runs', 'list', '--type', 'stage', '--limit', '100000', '--json'), { cwd: ws, env }),
  ) as { status: string }[];
  const want = STAGES * (1 + 2 * opts.runs);
  if (stages.length !== want || stages.some((s) => s.status !== 'succeeded')) {
    throw new Error(
      `expected ${want} succeeded stage executions, found ${stages.length}: ${[...new Set(stages.map((s) => s.status))].join(', ')}`,
    );
  }
  removeTree(ws);
  removeTree(directDir);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Report

interface Results {
  noop: NoopFigure;
  list: ListFigure;
  overhead: OverheadFigure;
  mlflow: Peer;
  dvc: Peer;
}

const yesNo = (ok: boolean) => (ok ? 'met' : '**not met**');
const cells = (s: Summary) => [String(s.runs), fmtSeconds(s.median), fmtSeconds(s.min), fmtSeconds(s.max)];
const DB_LABEL: Record<DbKey, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };
const NOOP_LABEL: Record<NoopKey, string> = {
  tracked: 'tracked with `ledge add data/aclImdb` (pointer file)',
  untracked: 'untracked plain directory',
  small: 'for scale: one 14-byte file instead of the tree',
};

/** Per-stage overhead: (ledge − direct) / stages, from the medians. */
function perStage(f: OverheadFigure, key: OverheadKey): number {
  return (summarize(f.ledge[key]).median - summarize(f.direct).median) / STAGES;
}

function verdicts(r: Results, opts: Options): string[][] {
  const rows: string[][] = [];
  const imdb = `${fmtCount(r.noop.files)}-file IMDB tree`;
  for (const v of r.noop.variants) {
    if (v.key === 'small') continue;
    const s = summarize(v.noop);
    const how = v.key === 'tracked' ? 'tracked with `ledge add`' : 'an untracked directory';
    rows.push([
      `no-op \`ledge run\` ≤ ${TARGET_NOOP_S} s, ${imdb} as a dependency: ${how}`,
      `${fmtSeconds(s.median)} (min ${fmtSeconds(s.min)})`,
      yesNo(s.median <= TARGET_NOOP_S),
    ]);
  }
  const scale = `${fmtCount(r.list.seeded)} runs × ${opts.metrics} metrics${opts.quick ? ' (quick mode: fewer runs than the target)' : ''}`;
  for (const query of ['where', 'whereAll'] as const) {
    const what =
      query === 'where'
        ? '`runs list --where …` (default limit 50)'
        : `\`runs list --where … --limit 10000 --json\` (all ${fmtCount(r.list.matches)} matches)`;
    for (const key of ['sqlite', 'postgres'] as const) {
      const db = r.list.dbs.find((x) => x.key === key);
      const target = `${what} ≤ ${TARGET_LIST_S} s over ${scale}: ${DB_LABEL[key]}`;
      if (!db) {
        rows.push([target, 'not measured', r.list.skipped ?? 'not measured']);
        continue;
      }
      const s = summarize(db.samples[query]);
      rows.push([
        target,
        `${fmtSeconds(s.median)} (min ${fmtSeconds(s.min)})`,
        yesNo(s.median <= TARGET_LIST_S),
      ]);
    }
  }
  for (const key of ['forced', 'forcedJ1', 'fresh'] as const) {
    const overhead = perStage(r.overhead, key);
    const what =
      key === 'forced'
        ? 'all stages rerun (`--force --no-run-cache`)'
        : key === 'forcedJ1'
          ? 'all stages rerun, `-j 1`'
          : 'first run in a fresh workspace';
    rows.push([
      `overhead of \`ledge run\` ≤ ${TARGET_STAGE_OVERHEAD_S} s per stage, ${STAGES}-stage chain: ${what}`,
      `${fmtSeconds(overhead)} per stage`,
      yesNo(overhead <= TARGET_STAGE_OVERHEAD_S),
    ]);
  }
  return rows;
}

function report(r: Results, machine: Machine, opts: Options, started: Date, minutes: number): string {
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  const mode = opts.quick ? 'quick (smoke) mode: NOT the target sizes' : 'full';
  const args = opts.argv.length ? ` (this run: \`${opts.argv.map(shellQuote).join(' ')}\`)` : '';
  const version = summarize(r.noop.version);
  push(
    `_Generated by \`bench/pipeline-bench.ts\` on ${started.toISOString().replace(/\.\d+Z$/, 'Z')} in ${minutes.toFixed(1)} min; ${mode}, ${opts.runs} timed run(s) per measurement._`,
    '',
    `Reproduce: \`${REPRODUCE}\`${args}. Options: \`--runs N\`, \`--quick\`, \`--seed-runs N\`, \`--no-postgres\`, \`--imdb PATH\`.`,
    '',
    `**Machine:** ${machine.cpu}, ${machine.nproc} cores (os.availableParallelism), ${machine.memory} RAM, ${machine.kernel}; ` +
      `temp dir on ${machine.tmpFs}; Node ${machine.node}; SQLite ${machine.sqlite} (better-sqlite3); ` +
      `${machine.postgres ?? 'PostgreSQL not installed'}; ledge at ${machine.commit}${opts.ledge === path.join(ROOT, 'bin', 'ledge.js') ? '' : ` (build measured: ${opts.ledge})`}.`,
    '',
    `**Conditions:** a ${machine.nproc}-core machine shared with other work (1-minute load average ` +
      `${machine.loadStart.toFixed(2)} at the start, ${machine.loadEnd?.toFixed(2) ?? 'n/a'} at the end), so expect noise. ` +
      'Every figure is the wall time of the CLI as a user runs it (`node bin/ledge.js …`, a new process each time, ' +
      'CI=true, no LEDGE_* variables), median of the runs shown, with min and max; the page cache is warm. ' +
      `For scale: \`ledge --version\` (Node start-up and loading the CLI, nothing else) takes ${fmtSeconds(version.median)} ` +
      `(median, min ${fmtSeconds(version.min)}), a fixed cost inside every ledge figure below.`,
    '',
  );
  push('### Verdicts', '');
  push(
    'Targets from issue 3, judged on the medians of this run.',
    '',
    table(['target', 'measured (median)', 'verdict'], verdicts(r, opts)),
    '',
  );

  push('### 1. No-op `ledge run` with the IMDB tree as a dependency', '');
  push(
    `A workspace (\`git init\`, \`ledge init\`) holding the IMDB training split (${fmtCount(r.noop.files)} files, ` +
      `${fmtBytes(r.noop.bytes)}, extracted from \`aclImdb_train.tar.gz\`) in \`data/aclImdb\`, and a one-stage ` +
      `\`ledge.yaml\`: \`cmd: ${COUNT_CMD}\`, \`deps: [data/aclImdb]\`, \`outs: [count.txt]\`. Two variants of the ` +
      'same tree: tracked by ledge (`ledge add data/aclImdb`, so a pointer file stands for it) and a plain ' +
      'untracked directory. The first `ledge run` runs the stage (and, untracked, hashes the whole tree); then ' +
      '`ledge.yaml`, `ledge.lock` and the pointer file are committed to git (the tree itself is not) and each timed `ledge run -q` finds everything up to date (checked after ' +
      'the timed runs: status up-to-date, `count.txt` not rewritten). "The command directly" is the stage command ' +
      'run by `sh -c` in the same workspace (writing another file). For scale, a third workspace has the same ' +
      `stage with a one-file dependency (\`cmd: ${SMALL_CMD}\`, \`deps: [data/small.txt]\`).`,
    '',
  );
  const noopRows: string[][] = [];
  for (const v of r.noop.variants) {
    if (v.add !== undefined)
      noopRows.push([
        NOOP_LABEL[v.key],
        '`ledge add data/aclImdb` (before the first run)',
        '1',
        fmtSeconds(v.add),
        '',
        '',
      ]);
    noopRows.push([NOOP_LABEL[v.key], 'first `ledge run` (runs the stage)', '1', fmtSeconds(v.cold), '', '']);
    noopRows.push([NOOP_LABEL[v.key], '**no-op `ledge run -q`**', ...cells(summarize(v.noop))]);
    noopRows.push([NOOP_LABEL[v.key], 'the command directly (`sh -c`)', ...cells(summarize(v.direct))]);
  }
  noopRows.push(['—', 'floor: `ledge --version`', ...cells(version)]);
  push(
    table(['dependency', 'command', 'runs', 'median', 'min', 'max'], noopRows, [
      'l',
      'l',
      'r',
      'r',
      'r',
      'r',
    ]),
    '',
  );
  const small = r.noop.variants.find((v) => v.key === 'small');
  if (small) {
    const base = summarize(small.noop).median;
    const extra = (key: NoopKey) => {
      const v = r.noop.variants.find((x) => x.key === key);
      return v ? fmtSeconds(summarize(v.noop).median - base) : 'n/a';
    };
    push(
      `Differences of the medians: checking the ${fmtCount(r.noop.files)}-file tree adds ${extra('tracked')} ` +
        `(tracked) and ${extra('untracked')} (untracked) to a no-op \`ledge run\`; the ${fmtSeconds(base)} of ` +
        `the one-file pipeline is ledge's fixed cost, of which ${fmtSeconds(version.median)} is \`ledge --version\`.`,
      '',
    );
  }

  push(`### 2. \`ledge runs list\` over ${fmtCount(r.list.seeded)} recorded runs`, '');
  push(
    `The metadata database is seeded with ${fmtCount(r.list.seeded)} finished pipeline runs (executions of type ` +
      `\`run\`), each with params \`{train: {epochs: 1..20, lr}}\` and ${opts.metrics} metrics \`m0..m${opts.metrics - 1}\` ` +
      `plus \`accuracy\` (uniform in 0.5..1): ${fmtCount(r.list.matches)} of them match \`${WHERE}\`. Seeding writes ` +
      "the rows directly (multi-row inserts through the metadata store's Kysely instance, after its migrations), " +
      'not through `ledge run`. SQLite is the workspace default `.ledge/state/metadata.db`; PostgreSQL is a private ' +
      'cluster on 127.0.0.1 (initdb + pg_ctl, trust authentication, fsync off: only reads are timed) reached ' +
      'through `LEDGE_DB_URL`. Each command is checked once before timing (row count against the seeded data). ' +
      "The `--json` variant sends its output to /dev/null through `bash -c 'exec …'`.",
    '',
  );
  const listRows: string[][] = [];
  for (const db of r.list.dbs) {
    const size = db.size === undefined ? '' : `, ${fmtBytes(db.size)}`;
    for (const query of ['where', 'whereAll', 'plain'] as const) {
      listRows.push([
        `${DB_LABEL[db.key]}${query === 'where' ? ` (seeded in ${fmtSeconds(db.seedS)}${size})` : ''}`,
        QUERY_LABEL[query],
        fmtCount(db.rows[query]),
        ...cells(summarize(db.samples[query])),
      ]);
    }
  }
  if (r.list.skipped) listRows.push(['PostgreSQL', r.list.skipped, '', '', '', '', '']);
  push(
    table(['database', 'command', 'rows out', 'runs', 'median', 'min', 'max'], listRows, [
      'l',
      'l',
      'r',
      'r',
      'r',
      'r',
      'r',
    ]),
    '',
  );
  push(
    `**Peer:** MLflow (\`mlflow runs search\` / the tracking server) is the reference — ${r.mlflow.why}. ` +
      'It was not measured.',
    '',
  );

  push(`### 3. Overhead of \`ledge run\` per stage (${STAGES}-stage chain)`, '');
  push(
    `A chain of ${STAGES} stages \`s0..s${STAGES - 1}\`: stage i runs \`echo i > out{i}.txt\`, ` +
      'depends on the previous stage\'s output and declares its own. "Directly" runs the same commands one after ' +
      'another as ledge runs them, each by `/bin/sh -c` (from one `bash -c`). `--force --no-run-cache` makes every ' +
      'stage execute (recorded in SQLite, outputs cached, `ledge.lock` rewritten); the fresh-workspace figure is a ' +
      'first run after `git init`, `ledge init` and a commit of `ledge.yaml` (new metadata database, empty cache). ' +
      'Afterwards the benchmark checks that every timed forced run recorded all stages as succeeded. ' +
      `Overhead per stage = (ledge − directly) / ${STAGES}, from the medians; it includes ledge's fixed start-up ` +
      `(\`ledge --version\`: ${fmtSeconds(version.median)}), spread over the stages.`,
    '',
  );
  const direct = summarize(r.overhead.direct);
  const overheadRows: string[][] = [
    [`the ${STAGES} commands directly`, ...cells(direct), '—'],
    ...(['forced', 'forcedJ1', 'fresh'] as const).map((key) => [
      OVERHEAD_LABEL[key],
      ...cells(summarize(r.overhead.ledge[key])),
      fmtSeconds(perStage(r.overhead, key)),
    ]),
  ];
  push(
    table(['command', 'runs', 'median', 'min', 'max', 'overhead per stage'], overheadRows, [
      'l',
      'r',
      'r',
      'r',
      'r',
      'r',
    ]),
    '',
  );
  push(`**Peer:** DVC (\`dvc repro\`) is the reference — ${r.dvc.why}. It was not measured.`, '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const started = new Date();
  const t0 = performance.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-pipeline-bench-'));
  let cluster: PostgresCluster | undefined;
  const postgres = async () => {
    cluster ??= await startPostgresCluster();
    return cluster;
  };
  const stopPostgres = () => {
    cluster?.stop();
    cluster = undefined;
  };
  const cleanup = () => {
    killRunning();
    stopPostgres();
    if (!opts.keep) removeTree(work);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping and removing ${work}`);
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  log(`${opts.quick ? 'quick' : 'full'} mode, ${opts.runs} run(s), ${NPROC} cores, work dir ${work}`);
  try {
    LEDGE_BIN = snapshotLedge(opts.ledge, work);
    const machine = machineInfo(work, path.dirname(path.dirname(opts.ledge)));
    const mlflow = detectPeer('MLflow', 'mlflow', ['mlflow', 'python3-mlflow']);
    const dvc = detectPeer('DVC', 'dvc', ['dvc', 'python3-dvc']);
    log(
      `peers: mlflow ${mlflow.installed ? 'installed' : 'not installed'}, dvc ${dvc.installed ? 'installed' : 'not installed'}`,
    );
    const noop = await figureNoop(work, opts);
    const list = await figureList(work, opts, postgres, stopPostgres);
    const overhead = await figureOverhead(work, opts);
    machine.loadEnd = os.loadavg()[0]!;
    const results: Results = { noop, list, overhead, mlflow, dvc };
    const markdown = report(results, machine, opts, started, (performance.now() - t0) / 60_000);
    process.stdout.write(`${SECTION}\n\n${markdown.trim()}\n`);
    if (opts.write) {
      const file = path.join(ROOT, 'docs', 'benchmarks.md');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      updateSectionAfter(file, SECTION, markdown, PREVIOUS_SECTION);
      log(`updated ${path.relative(ROOT, file)}`);
    }
    return 0;
  } finally {
    cleanup();
    if (opts.keep) log(`kept ${work}`);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`[bench] error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
