/**
 * Data versioning benchmark (issue 2): cold `ledge add` against the hashing limit (parallel
 * sha256sum), git-annex and git-lfs; no-op add/status; push/pull through a local directory and
 * S3 (s3rver); peak memory. Medians over N runs, a markdown report on stdout, and with --write
 * the "## Data versioning (issue 2)" section of docs/benchmarks.md.
 *
 *   npm run build && npm run bench:store -- --write          # full: IMDB, 100k files, 1 GiB
 *   npm run build && npm run bench:store -- --quick          # smoke: 10k files, 64 MiB
 *
 * Progress goes to stderr. Data is generated under os.tmpdir() and removed at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type S3rverHandle, startS3rver } from '../test/helpers/s3rver-process.js';
import { copyTree, extractImdb, makeBigFile, makeSmallTree, summarize as summarizeData } from './lib/data.js';
import {
  check,
  haveGnuTime,
  killRunning,
  type RunResult,
  removeTree,
  run,
  runShell,
  sh,
  shellQuote,
  syncDisks,
} from './lib/exec.js';
import { benchEnv, snapshotLedge } from './lib/ledge.js';
import { type Machine as BaseMachine, machineInfo as baseMachineInfo } from './lib/machine.js';
import {
  fmtBytes,
  fmtCount,
  fmtMB,
  fmtMiB,
  fmtRatio,
  fmtSeconds,
  median,
  type Summary,
  summarize,
  table,
  updateSection,
} from './lib/report.js';

const SECTION = '## Data versioning (issue 2)';
const REPRODUCE = 'npm run build && npm run bench:store -- --write';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The ledge CLI the benchmark runs: a private snapshot of the build (see `snapshotLedge`). */
let LEDGE_BIN = path.join(ROOT, 'bin', 'ledge.js');
const NPROC = os.availableParallelism();
/** A sanity limit for ledge itself, so a hang cannot stall the benchmark forever. */
const LEDGE_TIMEOUT_MS = 3600_000;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  runs: number;
  quick: boolean;
  write: boolean;
  imdb: string;
  peerTimeoutS: number;
  slowS: number;
  s3: boolean;
  keep: boolean;
  /** `bin/ledge.js` of the build to measure. */
  ledge: string;
  argv: string[];
}

const USAGE = `usage: node dist/bench/store-bench.js [options]
  --runs N            runs per measurement, median reported (default 3; 1 with --quick)
  --quick             smoke mode: 10,000 small files and a 64 MiB file instead of 100,000 and 1 GiB
  --write             update the "${SECTION}" section of docs/benchmarks.md
  --imdb PATH         IMDB tarball (default ../shared/datasets/imdb/aclImdb_train.tar.gz)
  --peer-timeout S    per-run time limit for git-annex / git-lfs (default 600; 60 with --quick)
  --slow S            a peer whose first run takes longer than S seconds runs only once (default 60)
  --no-s3             skip the S3 (s3rver) transfer figures
  --ledge PATH        bin/ledge.js of the build to measure (default: this checkout's)
  --keep              keep the temp directory (for debugging)`;

function parseOptions(argv: string[]): Options {
  const opts: Partial<Options> & { argv: string[] } = { argv };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    return v;
  };
  const positive = (raw: string, flag: string): number => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, not '${raw}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') opts.quick = true;
    else if (arg === '--write') opts.write = true;
    else if (arg === '--no-s3') opts.s3 = false;
    else if (arg === '--keep') opts.keep = true;
    else if (arg === '--runs') opts.runs = Math.round(positive(value(i++, arg), arg));
    else if (arg === '--imdb') opts.imdb = path.resolve(value(i++, arg));
    else if (arg === '--ledge') opts.ledge = path.resolve(value(i++, arg));
    else if (arg === '--peer-timeout') opts.peerTimeoutS = positive(value(i++, arg), arg);
    else if (arg === '--slow') opts.slowS = positive(value(i++, arg), arg);
    else if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown option '${arg}'\n${USAGE}`);
  }
  const quick = opts.quick ?? false;
  return {
    runs: opts.runs ?? (quick ? 1 : 3),
    quick,
    write: opts.write ?? false,
    imdb: opts.imdb ?? path.resolve(ROOT, '..', 'shared', 'datasets', 'imdb', 'aclImdb_train.tar.gz'),
    peerTimeoutS: opts.peerTimeoutS ?? (quick ? 60 : 600),
    slowS: opts.slowS ?? 60,
    s3: opts.s3 ?? true,
    keep: opts.keep ?? false,
    ledge: opts.ledge ?? path.join(ROOT, 'bin', 'ledge.js'),
    argv,
  };
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

// ---------------------------------------------------------------------------------------------
// Environment

/** The environment every timed command gets: no LEDGE_* overrides, a git identity. */
function baseEnv(): NodeJS.ProcessEnv {
  return benchEnv({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
}

function firstLine(argv: string[]): string | undefined {
  try {
    return sh(argv).split('\n')[0]?.trim();
  } catch {
    return undefined;
  }
}

interface Machine extends BaseMachine {
  tmpFs: string;
  git: string | undefined;
  annex: string | undefined;
  lfs: string | undefined;
}

function machineInfo(tmp: string, ledgeRoot: string): Machine {
  const base = baseMachineInfo(ledgeRoot);
  return {
    ...base,
    tmpFs: firstLine(['stat', '-f', '-c', '%T', tmp]) ?? 'unknown',
    git: firstLine(['git', '--version']),
    annex: firstLine(['git', 'annex', 'version', '--raw']),
    lfs: firstLine(['git', 'lfs', 'version']),
  };
}

// ---------------------------------------------------------------------------------------------
// Datasets

type DatasetKey = 'imdb' | 'tree' | 'big';
type RemoteKind = 'local' | 's3';

interface Dataset {
  key: DatasetKey;
  title: string;
  /** Name of the file or directory inside a workspace. */
  target: string;
  /** The directory holding the pristine `target` between runs. */
  home: string;
  files: number;
  bytes: number;
  remotes: RemoteKind[];
  /** The last cold-add workspace, kept for the no-op and transfer figures. */
  ledgeWs?: string;
}

function datasetPlan(opts: Options): { key: DatasetKey; remotes: RemoteKind[] }[] {
  return [
    { key: 'imdb', remotes: opts.s3 ? ['local', 's3'] : ['local'] },
    { key: 'tree', remotes: ['local'] },
    { key: 'big', remotes: ['local'] },
  ];
}

function treeShape(opts: Options): { dirs: number; perDir: number } {
  return opts.quick ? { dirs: 10, perDir: 1000 } : { dirs: 100, perDir: 1000 };
}

const bigBytes = (opts: Options) => (opts.quick ? 64 : 1024) * 2 ** 20;

function prepareDataset(key: DatasetKey, remotes: RemoteKind[], work: string, opts: Options): Dataset {
  const home = path.join(work, 'data', key);
  fs.mkdirSync(home, { recursive: true });
  let target: string;
  let title: string;
  const started = performance.now();
  if (key === 'imdb') {
    if (!fs.existsSync(opts.imdb)) {
      throw new Error(`IMDB tarball not found at ${opts.imdb} (pass --imdb PATH)`);
    }
    extractImdb(opts.imdb, home);
    target = 'aclImdb';
    title = 'IMDB train';
  } else if (key === 'tree') {
    const { dirs, perDir } = treeShape(opts);
    target = 'tree';
    makeSmallTree(path.join(home, target), dirs, perDir);
    title = `${fmtCount(dirs * perDir)}-file tree`;
  } else {
    target = 'big.bin';
    makeBigFile(path.join(home, target), bigBytes(opts));
    title = `${fmtBytes(bigBytes(opts))} file`;
  }
  syncDisks();
  const { files, bytes } = summarizeData(path.join(home, target));
  log(
    `${key}: ${fmtCount(files)} files, ${fmtBytes(bytes)} ready in ${fmtSeconds((performance.now() - started) / 1000)}`,
  );
  return { key, title, target, home, files, bytes, remotes };
}

// ---------------------------------------------------------------------------------------------
// Figure 1: cold add

type ToolKey = 'ledge' | 'sha256sum' | 'lfs' | 'annex';

const TOOL_LABEL: Record<ToolKey, string> = {
  ledge: '`ledge add`',
  sha256sum: 'parallel `sha256sum` (hashing limit)',
  lfs: "`git lfs track '*'` + `git add`",
  annex: '`git annex add`',
};

interface Sample {
  seconds: number;
  timedOut: boolean;
  maxRssKiB: number | undefined;
}

interface ToolResult {
  tool: ToolKey;
  status: 'ok' | 'not installed' | 'failed';
  samples: Sample[];
  /** Why a peer ran fewer times than asked, or failed. */
  note?: string;
}

interface Availability {
  annex: boolean;
  lfs: boolean;
}

function detectPeers(): Availability {
  const annex = firstLine(['git', 'annex', 'version']) !== undefined;
  const lfs = firstLine(['git', 'lfs', 'version']) !== undefined;
  if (!annex) log('git-annex is not installed (Debian package: git-annex); skipping that peer');
  if (!lfs) log('git-lfs is not installed (Debian package: git-lfs); skipping that peer');
  return { annex, lfs };
}

function ledgeArgs(...args: string[]): string[] {
  return [process.execPath, LEDGE_BIN, ...args];
}

/** Moves the pristine data into a workspace (a rename: no copying, identical bytes). */
function moveIn(d: Dataset, dir: string): void {
  fs.renameSync(path.join(d.home, d.target), path.join(dir, d.target));
}

function moveOut(d: Dataset, dir: string): void {
  fs.renameSync(path.join(dir, d.target), path.join(d.home, d.target));
}

function sample(r: RunResult): Sample {
  return { seconds: r.seconds, timedOut: r.timedOut, maxRssKiB: r.maxRssKiB };
}

async function coldAddOnce(
  tool: ToolKey,
  d: Dataset,
  i: number,
  last: boolean,
  work: string,
  opts: Options,
): Promise<RunResult> {
  const env = baseEnv();
  const peerTimeout = opts.peerTimeoutS * 1000;
  const dir = path.join(work, `ws-${tool}-${d.key}-${i}`);
  const target = shellQuote(d.target);
  switch (tool) {
    case 'sha256sum': {
      syncDisks();
      return runShell(`find ${target} -type f -print0 | xargs -0 -P${NPROC} -n 1000 sha256sum >/dev/null`, {
        cwd: d.home,
        env,
        rss: true,
        timeoutMs: peerTimeout,
      });
    }
    case 'ledge': {
      fs.mkdirSync(dir, { recursive: true });
      sh(ledgeArgs('-q', 'init'), { cwd: dir, env });
      moveIn(d, dir);
      syncDisks();
      const r = await run(ledgeArgs('add', d.target), {
        cwd: dir,
        env,
        rss: true,
        timeoutMs: LEDGE_TIMEOUT_MS,
      });
      check(r, 'ledge add');
      if (last) {
        d.ledgeWs = dir;
      } else {
        moveOut(d, dir);
        removeTree(dir);
      }
      syncDisks();
      return r;
    }
    case 'lfs': {
      fs.mkdirSync(dir, { recursive: true });
      sh(['git', 'init', '-q'], { cwd: dir, env });
      sh(['git', 'lfs', 'install', '--local'], { cwd: dir, env });
      moveIn(d, dir);
      syncDisks();
      try {
        return await runShell(`git lfs track '*' >/dev/null && git add -- ${target}`, {
          cwd: dir,
          env,
          rss: true,
          timeoutMs: peerTimeout,
        });
      } finally {
        // git add leaves the working files alone: the data can go back.
        moveOut(d, dir);
        removeTree(dir);
        syncDisks();
      }
    }
    case 'annex': {
      fs.mkdirSync(dir, { recursive: true });
      sh(['git', 'init', '-q'], { cwd: dir, env });
      sh(['git', 'annex', 'init', '-q', 'bench'], { cwd: dir, env });
      // git annex add replaces files with symlinks: it gets a copy, made before timing.
      copyTree(path.join(d.home, d.target), path.join(dir, d.target));
      syncDisks();
      try {
        return await run(['git', 'annex', 'add', '--quiet', d.target], {
          cwd: dir,
          env,
          rss: true,
          timeoutMs: peerTimeout,
        });
      } finally {
        removeTree(dir);
        syncDisks();
      }
    }
  }
}

async function coldAdd(d: Dataset, peers: Availability, work: string, opts: Options): Promise<ToolResult[]> {
  // ledge goes last in each round, so its final workspace can keep the data.
  const order: ToolKey[] = ['sha256sum', 'lfs', 'annex', 'ledge'];
  const results = new Map<ToolKey, ToolResult>(
    order.map((tool) => [tool, { tool, status: 'ok', samples: [] }]),
  );
  for (const tool of ['annex', 'lfs'] as const) {
    if (!peers[tool]) {
      const result = results.get(tool)!;
      result.status = 'not installed';
      result.note = tool === 'annex' ? 'Debian package git-annex' : 'Debian package git-lfs';
    }
  }
  const done = new Set<ToolKey>();
  for (let i = 0; i < opts.runs; i++) {
    for (const tool of order) {
      const result = results.get(tool)!;
      if (result.status !== 'ok' || done.has(tool)) continue;
      const r = await coldAddOnce(tool, d, i, i === opts.runs - 1, work, opts);
      if (!r.timedOut && r.code !== 0) {
        if (tool === 'ledge' || tool === 'sha256sum') check(r, tool);
        result.status = 'failed';
        const tail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ');
        result.note = `exit ${r.code ?? r.signal}: ${tail.slice(0, 300)}`;
        log(`${d.key} run ${i + 1}: ${tool} FAILED (${result.note})`);
        continue;
      }
      result.samples.push(sample(r));
      const shown = r.timedOut ? `> ${opts.peerTimeoutS} s (timed out)` : fmtSeconds(r.seconds);
      log(`${d.key} run ${i + 1}/${opts.runs}: ${tool} cold add ${shown}, max RSS ${fmtMiB(r.maxRssKiB)}`);
      const isPeer = tool === 'annex' || tool === 'lfs';
      if (isPeer && i < opts.runs - 1 && (r.timedOut || r.seconds > opts.slowS)) {
        done.add(tool);
        result.note = r.timedOut
          ? `timed out after ${opts.peerTimeoutS} s: run once`
          : `first run took over ${opts.slowS} s: run once`;
        log(`${d.key}: ${tool} is slow, not repeating it (${result.note})`);
      }
    }
  }
  return order.map((tool) => results.get(tool)!);
}

// ---------------------------------------------------------------------------------------------
// Figure 2: no-op add and status

interface NoopResult {
  add: Sample[];
  status: Sample[];
}

async function noops(d: Dataset, opts: Options): Promise<NoopResult> {
  const ws = d.ledgeWs!;
  const env = baseEnv();
  const out: NoopResult = { add: [], status: [] };
  for (let i = 0; i < opts.runs; i++) {
    syncDisks();
    const add = check(
      await run(ledgeArgs('add', d.target), { cwd: ws, env, rss: true, timeoutMs: LEDGE_TIMEOUT_MS }),
      'no-op ledge add',
    );
    if (!/^unchanged /m.test(add.stdout))
      throw new Error(`no-op ledge add changed something:\n${add.stdout}`);
    const status = check(
      await run(ledgeArgs('status'), { cwd: ws, env, rss: true, timeoutMs: LEDGE_TIMEOUT_MS }),
      'ledge status',
    );
    if (!/up to date/.test(status.stdout)) throw new Error(`ledge status after add:\n${status.stdout}`);
    out.add.push(sample(add));
    out.status.push(sample(status));
    log(
      `${d.key} run ${i + 1}/${opts.runs}: no-op add ${fmtSeconds(add.seconds)}, status ${fmtSeconds(status.seconds)}`,
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Figure 3: push / pull

interface TransferSample {
  seconds: number;
  objects: number;
  bytes: number;
  maxRssKiB: number | undefined;
}

interface TransferResultSet {
  kind: RemoteKind;
  push: TransferSample[];
  noopPush: TransferSample[];
  /** No-op push that asks the remote anyway (`--verify-remote`), when the build has the flag. */
  verifyPush: TransferSample[];
  pull: TransferSample[];
  /** Local only: `cp -a` of the same data, the cost of creating the files a pull writes. */
  copyFloor: TransferSample[];
  /** S3 only: listing the pushed prefix with the bare SDK, the floor for a no-op push that lists. */
  listFloor: Record<ListMode, TransferSample[]>;
}

const S3_LIST = fileURLToPath(new URL('./lib/s3-list.js', import.meta.url));
type ListMode = 'sequential' | 'ranges';
const LIST_MODES: ListMode[] = ['sequential', 'ranges'];
const LIST_LABEL: Record<ListMode, string> = {
  sequential: 'baseline: bare AWS SDK lists the prefix, page after page',
  ranges: 'baseline: bare AWS SDK lists the 16 `sha256/<hex>` ranges in parallel (as ledge lists)',
};

interface PushJson {
  transferred: number;
  bytes: number;
}

let verifyFlag: boolean | undefined;

/** Whether the measured build's `ledge push` has `--verify-remote`. */
function supportsVerifyRemote(): boolean {
  verifyFlag ??= sh(ledgeArgs('push', '--help')).includes('--verify-remote');
  return verifyFlag;
}

function parseJson<T>(r: RunResult, what: string): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`${what}: not JSON output:\n${r.stdout.slice(0, 500)}`);
  }
}

async function transfers(
  d: Dataset,
  kind: RemoteKind,
  work: string,
  s3: () => Promise<S3rverHandle>,
  opts: Options,
): Promise<TransferResultSet> {
  const ws = d.ledgeWs!;
  const out: TransferResultSet = {
    kind,
    push: [],
    noopPush: [],
    verifyPush: [],
    pull: [],
    copyFloor: [],
    listFloor: { sequential: [], ranges: [] },
  };
  let env = baseEnv();
  for (let i = 0; i < opts.runs; i++) {
    const name = `bench-${kind}-${i}`;
    const remoteDir = path.join(work, `remote-${d.key}-${i}`);
    let s3Server: S3rverHandle | undefined;
    const s3Prefix = `${d.key}-run${i}`;
    if (kind === 'local') {
      fs.mkdirSync(remoteDir, { recursive: true });
      sh(ledgeArgs('-q', 'remote', 'add', name, remoteDir), { cwd: ws, env });
    } else {
      const server = await s3();
      s3Server = server;
      env = {
        ...env,
        AWS_ACCESS_KEY_ID: server.accessKeyId,
        AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
      };
      const url = `s3://${server.bucket}/${s3Prefix}`;
      sh(ledgeArgs('-q', 'remote', 'add', name, url, '--endpoint', server.endpoint), { cwd: ws, env });
    }
    const timed = { cwd: ws, env, rss: true, timeoutMs: LEDGE_TIMEOUT_MS };

    syncDisks();
    const push = check(await run(ledgeArgs('push', '-r', name, '--json'), timed), 'ledge push');
    const pushed = parseJson<PushJson>(push, 'ledge push');
    out.push.push({
      seconds: push.seconds,
      objects: pushed.transferred,
      bytes: pushed.bytes,
      maxRssKiB: push.maxRssKiB,
    });

    syncDisks();
    const noop = check(await run(ledgeArgs('push', '-r', name, '--json'), timed), 'no-op ledge push');
    const again = parseJson<PushJson>(noop, 'no-op ledge push');
    if (again.transferred !== 0) throw new Error(`no-op push transferred ${again.transferred} objects`);
    out.noopPush.push({ seconds: noop.seconds, objects: 0, bytes: 0, maxRssKiB: noop.maxRssKiB });

    let floorText = '';
    if (supportsVerifyRemote()) {
      syncDisks();
      const verify = check(
        await run(ledgeArgs('push', '-r', name, '--json', '--verify-remote'), timed),
        'no-op ledge push --verify-remote',
      );
      const sent = parseJson<PushJson>(verify, 'no-op ledge push --verify-remote').transferred;
      if (sent !== 0) throw new Error(`no-op push --verify-remote transferred ${sent} objects`);
      out.verifyPush.push({ seconds: verify.seconds, objects: 0, bytes: 0, maxRssKiB: verify.maxRssKiB });
      floorText += `, no-op push --verify-remote ${fmtSeconds(verify.seconds)}`;
    }
    for (const mode of s3Server ? LIST_MODES : []) {
      syncDisks();
      const list = check(
        await run(
          [process.execPath, S3_LIST, s3Server!.endpoint, s3Server!.bucket, `${s3Prefix}/`, mode],
          timed,
        ),
        'SDK listing',
      );
      const keys = Number(list.stdout.trim());
      if (keys !== pushed.transferred)
        throw new Error(`SDK listing found ${keys} keys, pushed ${pushed.transferred}`);
      out.listFloor[mode].push({ seconds: list.seconds, objects: keys, bytes: 0, maxRssKiB: list.maxRssKiB });
      floorText += `, SDK listing (${mode}) ${fmtSeconds(list.seconds)}`;
    }

    // A fresh clone: only what git would carry, the pointer file and the shared config.
    const clone = path.join(work, `clone-${d.key}-${kind}-${i}`);
    fs.mkdirSync(path.join(clone, '.ledge'), { recursive: true });
    fs.copyFileSync(path.join(ws, '.ledge', 'config.yaml'), path.join(clone, '.ledge', 'config.yaml'));
    fs.copyFileSync(path.join(ws, `${d.target}.ledge`), path.join(clone, `${d.target}.ledge`));
    syncDisks();
    const pull = check(
      await run(ledgeArgs('pull', '-r', name, '--json'), { ...timed, cwd: clone }),
      'ledge pull',
    );
    const pulled = parseJson<{ fetch: PushJson }>(pull, 'ledge pull');
    const got = summarizeData(path.join(clone, d.target));
    if (got.files !== d.files || got.bytes !== d.bytes) {
      throw new Error(
        `pull into a fresh clone produced ${got.files} files / ${got.bytes} bytes, expected ${d.files} / ${d.bytes}`,
      );
    }
    out.pull.push({
      seconds: pull.seconds,
      objects: pulled.fetch.transferred,
      bytes: pulled.fetch.bytes,
      maxRssKiB: pull.maxRssKiB,
    });
    removeTree(clone);
    syncDisks();

    let copyText = '';
    if (kind === 'local') {
      const copy = path.join(work, `copy-${d.key}-${i}`);
      const cp = check(
        await run(['cp', '-a', path.join(ws, d.target), copy], {
          env,
          rss: true,
          timeoutMs: LEDGE_TIMEOUT_MS,
        }),
        'cp -a',
      );
      out.copyFloor.push({ seconds: cp.seconds, objects: d.files, bytes: d.bytes, maxRssKiB: cp.maxRssKiB });
      copyText = `, cp -a ${fmtSeconds(cp.seconds)}`;
      removeTree(copy);
    }
    log(
      `${d.key} via ${kind} run ${i + 1}/${opts.runs}: push ${fmtSeconds(push.seconds)} (${fmtCount(pushed.transferred)} objects), ` +
        `no-op push ${fmtSeconds(noop.seconds)}${floorText}, pull ${fmtSeconds(pull.seconds)}${copyText}`,
    );
    removeTree(remoteDir);
    syncDisks();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Report

interface DatasetResults {
  d: Dataset;
  cold: ToolResult[];
  noop: NoopResult;
  transfers: TransferResultSet[];
}

const secondsOf = (samples: { seconds: number }[]) => summarize(samples.map((s) => s.seconds));

/** A time summary; a timed-out peer shows its limit as a lower bound. */
function timeCells(r: ToolResult, opts: Options): { median: string; min: string; max: string } {
  if (r.status !== 'ok' || r.samples.length === 0) {
    const text = r.status === 'ok' ? 'n/a' : r.status;
    return { median: text, min: '', max: '' };
  }
  if (r.samples.some((s) => s.timedOut)) {
    const bound = `> ${fmtSeconds(opts.peerTimeoutS)} (timeout)`;
    return { median: bound, min: '', max: '' };
  }
  const s = secondsOf(r.samples);
  return { median: fmtSeconds(s.median), min: fmtSeconds(s.min), max: fmtSeconds(s.max) };
}

interface Ratio {
  value: number;
  /** The true ratio is at least `value` (the peer timed out). */
  lowerBound: boolean;
}

function peerRatio(peer: ToolResult, ledge: ToolResult, opts: Options): Ratio | undefined {
  if (peer.status !== 'ok' || peer.samples.length === 0) return undefined;
  const ledgeMedian = secondsOf(ledge.samples).median;
  if (peer.samples.some((s) => s.timedOut))
    return { value: opts.peerTimeoutS / ledgeMedian, lowerBound: true };
  return { value: secondsOf(peer.samples).median / ledgeMedian, lowerBound: false };
}

function ratioText(r: Ratio | undefined): string {
  if (!r) return 'n/a';
  return `${r.lowerBound ? '> ' : ''}${fmtRatio(r.value)}`;
}

function coldTable(res: DatasetResults, opts: Options): string {
  const get = (tool: ToolKey) => res.cold.find((r) => r.tool === tool)!;
  const ledge = get('ledge');
  const sha = get('sha256sum');
  const ledgeMedian = secondsOf(ledge.samples).median;
  const rows = res.cold.map((r) => {
    const cells = timeCells(r, opts);
    let ratio = '';
    if (r.tool === 'sha256sum')
      ratio = `ledge / sha256sum = ${fmtRatio(ledgeMedian / secondsOf(sha.samples).median)}`;
    if (r.tool === 'annex') ratio = `annex / ledge = ${ratioText(peerRatio(r, ledge, opts))}`;
    if (r.tool === 'lfs') ratio = `lfs / ledge = ${ratioText(peerRatio(r, ledge, opts))}`;
    const ok = r.status === 'ok' && r.samples.length > 0 && !r.samples.some((s) => s.timedOut);
    const med = ok ? secondsOf(r.samples).median : Number.NaN;
    const rate = ok ? throughput(res.d.files, res.d.bytes, med) : '';
    const note = r.note ?? (r.samples.length < opts.runs && r.status === 'ok' ? 'fewer runs' : '');
    return [
      TOOL_LABEL[r.tool],
      String(r.samples.length),
      cells.median,
      cells.min,
      cells.max,
      ratio,
      rate,
      note,
    ];
  });
  return table(['tool', 'runs', 'median', 'min', 'max', 'ratio', 'throughput (median)', 'note'], rows, [
    'l',
    'r',
    'r',
    'r',
    'r',
    'l',
    'r',
    'l',
  ]);
}

const files = (n: number) => `${fmtCount(n)} file${n === 1 ? '' : 's'}`;

/** files/s and MB/s; just MB/s for a single file. */
function throughput(files: number, bytes: number, seconds: number): string {
  const mb = `${fmtMB(bytes / seconds)} MB/s`;
  return files > 2 ? `${fmtCount(files / seconds)} files/s, ${mb}` : mb;
}

function summaryRow(label: string, s: Summary): string[] {
  return [label, String(s.runs), fmtSeconds(s.median), fmtSeconds(s.min), fmtSeconds(s.max)];
}

function transferTable(all: DatasetResults[]): string {
  const rows: string[][] = [];
  for (const res of all) {
    for (const t of res.transfers) {
      const where = t.kind === 'local' ? 'local directory' : 'S3 (s3rver, 127.0.0.1)';
      const add = (op: string, samples: TransferSample[]) => {
        const s = secondsOf(samples);
        const objects = median(samples.map((x) => x.objects));
        const bytes = median(samples.map((x) => x.bytes));
        const rate = objects > 0 ? throughput(objects, bytes, s.median) : 'nothing to send';
        rows.push([`${res.d.title}`, where, op, ...summaryRow('', s).slice(1), fmtCount(objects), rate]);
      };
      add('`ledge push`', t.push);
      add('no-op `ledge push`', t.noopPush);
      if (t.verifyPush.length > 0) add('no-op `ledge push --verify-remote` (asks the remote)', t.verifyPush);
      for (const mode of LIST_MODES) {
        const samples = t.listFloor[mode];
        if (samples.length === 0) continue;
        const s = secondsOf(samples);
        const keys = median(samples.map((x) => x.objects));
        rows.push([
          res.d.title,
          where,
          LIST_LABEL[mode],
          ...summaryRow('', s).slice(1),
          fmtCount(keys),
          `${fmtCount(keys / s.median)} keys/s`,
        ]);
      }
      add('`ledge pull` (fresh clone)', t.pull);
      if (t.copyFloor.length > 0)
        add('baseline: `cp -a` of the same data (creates the same files)', t.copyFloor);
    }
  }
  return table(
    ['data', 'remote', 'operation', 'runs', 'median', 'min', 'max', 'objects', 'throughput (median)'],
    rows,
    ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

function rssCells(samples: Sample[]): string {
  const values = samples.map((s) => s.maxRssKiB).filter((v): v is number => v !== undefined);
  if (values.length === 0) return 'n/a';
  const s = summarize(values);
  return `${fmtMiB(s.median)} (${fmtMiB(s.min)}–${fmtMiB(s.max)})`;
}

function memoryTable(all: DatasetResults[]): string {
  const rows: string[][] = [];
  for (const res of all) {
    for (const r of res.cold) {
      if (r.status !== 'ok' || r.samples.length === 0) continue;
      rows.push([res.d.title, `${TOOL_LABEL[r.tool]} (cold)`, String(r.samples.length), rssCells(r.samples)]);
    }
    rows.push([res.d.title, 'no-op `ledge add`', String(res.noop.add.length), rssCells(res.noop.add)]);
    rows.push([res.d.title, '`ledge status`', String(res.noop.status.length), rssCells(res.noop.status)]);
    for (const t of res.transfers) {
      const pull = t.pull.map((p) => ({ seconds: p.seconds, timedOut: false, maxRssKiB: p.maxRssKiB }));
      const push = t.push.map((p) => ({ seconds: p.seconds, timedOut: false, maxRssKiB: p.maxRssKiB }));
      rows.push([res.d.title, `\`ledge push\` (${t.kind})`, String(push.length), rssCells(push)]);
      rows.push([res.d.title, `\`ledge pull\` (${t.kind})`, String(pull.length), rssCells(pull)]);
    }
  }
  return table(['data', 'command', 'runs', 'max RSS: median (min–max)'], rows, ['l', 'l', 'r', 'r']);
}

interface Verdict {
  target: string;
  measured: string;
  met: string;
}

const yesNo = (ok: boolean) => (ok ? 'met' : '**not met**');

function verdicts(all: DatasetResults[], opts: Options): Verdict[] {
  const out: Verdict[] = [];
  const quickNote = opts.quick ? ' (quick mode: smaller data than the target)' : '';
  for (const res of all) {
    const ledge = res.cold.find((r) => r.tool === 'ledge')!;
    const sha = res.cold.find((r) => r.tool === 'sha256sum')!;
    const ratio = secondsOf(ledge.samples).median / secondsOf(sha.samples).median;
    out.push({
      target: `cold add within 1.5x of parallel sha256sum: ${res.d.title}`,
      measured: `${fmtRatio(ratio)} (${fmtSeconds(secondsOf(ledge.samples).median)} vs ${fmtSeconds(secondsOf(sha.samples).median)})`,
      met: yesNo(ratio <= 1.5),
    });
    const annex = res.cold.find((r) => r.tool === 'annex')!;
    const r = peerRatio(annex, ledge, opts);
    let met: string;
    if (annex.status === 'not installed') met = 'not measured (git-annex not installed)';
    else if (!r) met = `not measured (git annex add ${annex.status})`;
    else if (r.lowerBound)
      met = r.value >= 10 ? 'met (annex timed out)' : 'unknown (annex timed out too early)';
    else met = yesNo(r.value >= 10);
    out.push({
      target: `cold add ≥ 10x faster than git annex add: ${res.d.title}`,
      measured: ratioText(r),
      met,
    });
  }
  const tree = all.find((res) => res.d.key === 'tree');
  if (tree) {
    const add = secondsOf(tree.noop.add).median;
    const status = secondsOf(tree.noop.status).median;
    out.push({
      target: `no-op add ≤ 1 s on ${tree.d.title}${quickNote}`,
      measured: fmtSeconds(add),
      met: yesNo(add <= 1),
    });
    out.push({
      target: `no-op status ≤ 1 s on ${tree.d.title}${quickNote}`,
      measured: fmtSeconds(status),
      met: yesNo(status <= 1),
    });
  }
  for (const res of all) {
    for (const t of res.transfers) {
      const s = secondsOf(t.noopPush).median;
      const seq = t.listFloor.sequential;
      const ranges = t.listFloor.ranges;
      const floor =
        seq.length > 0 && ranges.length > 0
          ? `; bare-SDK listing alone: ${fmtSeconds(secondsOf(seq).median)} page after page, ${fmtSeconds(secondsOf(ranges).median)} in 16 parallel ranges`
          : '';
      out.push({
        target: `no-op push ≤ 1 s: ${res.d.title} via ${t.kind === 'local' ? 'local directory' : 'S3 (s3rver)'}`,
        measured:
          fmtSeconds(s) +
          (t.verifyPush.length > 0
            ? ` (with --verify-remote: ${fmtSeconds(secondsOf(t.verifyPush).median)})`
            : '') +
          floor,
        met: yesNo(s <= 1),
      });
    }
  }
  return out;
}

function report(
  all: DatasetResults[],
  machine: Machine,
  opts: Options,
  started: Date,
  minutes: number,
): string {
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  const mode = opts.quick ? 'quick (smoke) mode: NOT the target data sizes' : 'full';
  const args = opts.argv.length ? ` (this run: \`${opts.argv.map(shellQuote).join(' ')}\`)` : '';
  push(
    `_Generated by \`bench/store-bench.ts\` on ${started.toISOString().replace(/\.\d+Z$/, 'Z')} in ${minutes.toFixed(1)} min; ${mode}, ${opts.runs} run(s) per measurement._`,
    '',
    `Reproduce: \`${REPRODUCE}\`${args}. Options: \`--runs N\`, \`--quick\`, \`--imdb PATH\`, \`--peer-timeout S\`, \`--no-s3\`.`,
    '',
    `**Machine:** ${machine.cpu}, ${machine.nproc} cores (nproc), ${machine.memory} RAM, ${machine.kernel}; ` +
      `temp dir on ${machine.tmpFs}; Node ${machine.node}; ${machine.git ?? 'git not installed'}; ` +
      `git-annex ${machine.annex ?? 'not installed'}; ${machine.lfs ?? 'git-lfs not installed'}; ledge at ${machine.commit}${opts.ledge === path.join(ROOT, 'bin', 'ledge.js') ? '' : ` (build measured: ${opts.ledge})`}.`,
    '',
    '**Data:** ' +
      all.map((res) => `${res.d.title} (${files(res.d.files)}, ${fmtBytes(res.d.bytes)})`).join('; ') +
      '. IMDB is `aclImdb_train.tar.gz` extracted with `tar xzf`; the tree and the big file are ' +
      'deterministic AES-CTR pseudo-random bytes (incompressible, no duplicate blocks); the tree holds files of ' +
      '200–2,000 bytes in directories of 1,000.',
    '',
    `**Conditions:** a ${machine.nproc}-core machine shared with other work (1-minute load average ` +
      `${machine.loadStart.toFixed(2)} at the start, ${machine.loadEnd?.toFixed(2) ?? 'n/a'} at the end), so expect noise; every figure is the median of the runs ` +
      'shown, with min and max. The OS page cache is warm for every tool alike (the benchmark cannot drop it): ' +
      'these are not cold-disk numbers. `sync` runs before each timed command so earlier writeback does not ' +
      'land in it. "Cold" means no ledge cache and no ledge state: each cold `ledge add` runs in a fresh ' +
      '`ledge init` workspace, with the data moved in beforehand. Peers also start from fresh repositories ' +
      '(`git init` + `git annex init`, or `git init` + `git lfs install --local`); git-annex gets a copy made ' +
      'before timing, since it replaces files with symlinks. Tools differ in durability: ledge flushes its cache ' +
      '(syncfs) before returning, sha256sum writes nothing, git-lfs and git-annex do not flush.',
    '',
  );
  push('### How to read this', '');
  push(
    'Targets from issue 2: cold `ledge add` within 1.5x of parallel `sha256sum` over the same files ' +
      '(`find DIR -type f -print0 | xargs -0 -P$(nproc) -n 1000 sha256sum`, the hashing limit) and at least ' +
      '10x faster than `git annex add`; no-op `ledge add` and `ledge status` ≤ 1 s on 100,000 files; a no-op ' +
      '`ledge push` ≤ 1 s. The verdicts below are computed from the medians of this run. ' +
      'Ratios: "ledge / sha256sum" above 1 means slower than hashing alone; "annex / ledge" and ' +
      '"lfs / ledge" above 1 mean ledge is that many times faster. A peer that exceeds its time limit shows ' +
      `"> ${fmtSeconds(opts.peerTimeoutS)}" and its ratio is a lower bound.`,
    '',
  );
  const v = verdicts(all, opts);
  push(
    table(
      ['target', 'measured (median)', 'verdict'],
      v.map((x) => [x.target, x.measured, x.met]),
    ),
    '',
  );
  const single = all.find((res) => res.d.files === 1);
  if (single) {
    push(
      `For scale: \`ledge status\` on the single tracked ${single.d.title} — mostly Node start-up and module ` +
        `loading — takes ${fmtSeconds(secondsOf(single.noop.status).median)} (median), a fixed cost in every ` +
        'ledge figure that `sha256sum` does not pay.',
      '',
    );
  }
  push('### 1. Cold `ledge add` vs the hashing limit, git-annex and git-lfs', '');
  push(
    `Peers whose first run takes over ${opts.slowS} s (or time out at ${opts.peerTimeoutS} s) run only once; ` +
      'the "runs" column says how often each tool ran. `git annex add` moves each file into `.git/annex/objects` ' +
      '(a rename) and leaves a symlink, and git-lfs writes its copy without flushing; ledge copies every file into ' +
      'its cache and flushes it. On a single big file the peers therefore pay little more than one hash.',
    '',
  );
  for (const res of all) {
    const heading = `${res.d.title} (${files(res.d.files)}, ${fmtBytes(res.d.bytes)})`;
    push(`**${heading}**`, '');
    push(coldTable(res, opts), '');
  }
  push('### 2. No-op `ledge add` and `ledge status` (after a first add)', '');
  const noopRows: string[][] = [];
  for (const res of all) {
    noopRows.push([res.d.title, ...summaryRow('no-op `ledge add`', secondsOf(res.noop.add))]);
    noopRows.push([res.d.title, ...summaryRow('`ledge status`', secondsOf(res.noop.status))]);
  }
  push(
    table(['data', 'command', 'runs', 'median', 'min', 'max'], noopRows, ['l', 'l', 'r', 'r', 'r', 'r']),
    '',
  );
  push('### 3. Push and pull', '');
  push(
    'Each run pushes the workspace of the last cold add to an empty remote (a new directory, or a new prefix ' +
      'in the s3rver bucket), pushes again (no-op: nothing new), then pulls into a fresh clone holding only ' +
      'the pointer file and `.ledge/config.yaml` (fetch + checkout; the clone is verified file by file count ' +
      'and size). Objects = files plus one directory manifest. s3rver stores every object as files on the same ' +
      'disk and is itself slow: S3 figures measure ledge and s3rver together. `cp -a` of the same data shows ' +
      'what creating the files a pull writes costs on this disk (compare its min and max with the pull). ' +
      'The two bare-SDK listing ' +
      "baselines (a separate Node process each, like ledge) show what s3rver's listing alone costs.",
    '',
  );
  if (all.some((res) => res.transfers.some((t) => t.verifyPush.length > 0))) {
    push(
      'A plain no-op `ledge push` trusts the workspace record of versions it already pushed completely and ' +
        'does not contact the remote; `--verify-remote` makes it list the remote again, which is what the ' +
        'bare-SDK baselines compare with.',
      '',
    );
  }
  push(transferTable(all), '');
  push('### 4. Peak memory (max RSS)', '');
  push(
    haveGnuTime
      ? 'Measured with `/usr/bin/time -f %M` on the same runs as above (for shell pipelines and git, the largest ' +
          'single process). ledge hashes on worker threads inside one process, so its figure is the whole command.'
      : 'GNU time (`/usr/bin/time`, Debian package `time`) is not installed: memory was not measured.',
    '',
  );
  push(memoryTable(all), '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const started = new Date();
  const t0 = performance.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-bench-'));
  let server: S3rverHandle | undefined;
  const s3 = async () => {
    server ??= await startS3rver('ledge-bench');
    return server;
  };
  const cleanup = () => {
    killRunning();
    if (!opts.keep) removeTree(work);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping and removing ${work}`);
    cleanup();
    void server?.stop().finally(() => process.exit(130));
    if (!server) process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  log(
    `${opts.quick ? 'quick' : 'full'} mode, ${opts.runs} run(s), ${NPROC} cores, work dir ${work}${haveGnuTime ? '' : ' (no /usr/bin/time: memory not measured; Debian package time)'}`,
  );
  try {
    LEDGE_BIN = snapshotLedge(opts.ledge, work);
    const machine = machineInfo(work, path.dirname(path.dirname(opts.ledge)));
    const peers = detectPeers();
    const all: DatasetResults[] = [];
    for (const { key, remotes } of datasetPlan(opts)) {
      const d = prepareDataset(key, remotes, work, opts);
      const cold = await coldAdd(d, peers, work, opts);
      const noop = await noops(d, opts);
      const moved: TransferResultSet[] = [];
      for (const kind of d.remotes) moved.push(await transfers(d, kind, work, s3, opts));
      // An idle s3rver is cheap, but nothing of it should linger while later figures are timed.
      await server?.stop();
      server = undefined;
      all.push({ d, cold, noop, transfers: moved });
      removeTree(d.ledgeWs!);
      removeTree(d.home);
      syncDisks();
    }
    machine.loadEnd = os.loadavg()[0]!;
    const markdown = report(all, machine, opts, started, (performance.now() - t0) / 60_000);
    process.stdout.write(`${SECTION}\n\n${markdown.trim()}\n`);
    if (opts.write) {
      const file = path.join(ROOT, 'docs', 'benchmarks.md');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      updateSection(file, SECTION, markdown);
      log(`updated ${path.relative(ROOT, file)}`);
    }
    return 0;
  } finally {
    await server?.stop();
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
