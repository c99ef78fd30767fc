/**
 * The engine target against a real engine: Podman's Docker-compatible API (`podman system
 * service`, its own storage), pulling from a real registry (Debian's docker-registry) through a
 * byte-counting proxy, running fake model servers built on busybox with ledge's image code
 * (helpers/fake-server-image.ts), with deployments recorded in a real SQLite metadata store.
 *
 * One engine for the whole file, in steps that build on each other: first deploy, a model-only
 * update under steady load (the bytes pulled, the switch window), a candidate that never gets
 * healthy and one that crashes (the old version answers every request meanwhile), a version
 * that fails on the stable port (the old one is restarted: how long it took), a crash of the
 * serving container (the engine restarts it), an unknown image, an engine that cannot pull,
 * rollback, stop.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { DEFAULT_GATE, type EngineTargetConfig, parseDeployConfig } from '../../src/deploy/deploy-config.js';
import {
  type Candidate,
  type DeployerOptions,
  deployModel,
  rollbackDeployment,
  stopTarget,
  targetStatus,
} from '../../src/deploy/deployer.js';
import { EngineTarget } from '../../src/deploy/engine/engine-target.js';
import { BlobStore, push } from '../../src/image/index.js';
import { getDeployment, listDeployments } from '../../src/metadata/deployments.js';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { tempDir } from '../helpers/temp-dir.js';
import { busyboxBaseImage } from '../image/helpers/busybox-base.js';
import { freePort, startRegistry } from '../image/helpers/registry-server.js';
import { countingProxy } from './helpers/counting-proxy.js';
import { type FakeServerImage, fakeServerImage } from './helpers/fake-server-image.js';
import { startPodmanService } from './helpers/podman-service.js';

const MODEL_BYTES = 4 * 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sample {
  at: number;
  ok: boolean;
  version: string | null;
  error?: string;
}

/** Clients predicting back to back on `url` until stopped; every answer timestamped. */
function steadyLoad(url: string, workers = 3): { stop: () => Promise<Sample[]> } {
  let running = true;
  const samples: Sample[] = [];
  const worker = async () => {
    while (running) {
      const at = performance.now();
      try {
        const response = await fetch(`${url}/v1/models/fake-model:predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"instances":["a wonderful film"]}',
          signal: AbortSignal.timeout(5000),
        });
        const body = (await response.json()) as { model_version?: string };
        samples.push({ at, ok: response.status === 200, version: body.model_version ?? null });
      } catch (error) {
        samples.push({ at, ok: false, version: null, error: String((error as Error).cause ?? error) });
        await sleep(10);
      }
    }
  };
  const all = Promise.all(Array.from({ length: workers }, worker));
  return {
    stop: async () => {
      running = false;
      await all;
      return samples.sort((a, b) => a.at - b.at);
    },
  };
}

async function predictVersion(url: string): Promise<string | undefined> {
  const response = await fetch(`${url}/v1/models/fake-model:predict`, {
    method: 'POST',
    body: '{"instances":["x"]}',
    signal: AbortSignal.timeout(3000),
  });
  return ((await response.json()) as { model_version?: string }).model_version;
}

describe('the engine target on Podman', () => {
  it('deploys, swaps, refuses broken versions, survives crashes, rolls back and stops', async (t: TestContext) => {
    const registry = await startRegistry(t);
    const proxy = await countingProxy(t, registry.port);
    // A second way to the same registry that the engine was not told to speak plain HTTP to.
    const unlisted = await countingProxy(t, registry.port);
    const engine = await startPodmanService(t, { insecureRegistries: [registry.host, proxy.host] });
    const root = tempDir(t);
    const store = new BlobStore(path.join(root, 'blobs'));
    const base = await busyboxBaseImage(store);
    const port = await freePort();
    const images: Record<string, FakeServerImage> = {
      '1': await fakeServerImage(store, base, { version: '1', modelBytes: MODEL_BYTES }),
      '2': await fakeServerImage(store, base, { version: '2', modelBytes: MODEL_BYTES }),
      '3': await fakeServerImage(store, base, { version: '3', behaviour: 'never-ready' }),
      '4': await fakeServerImage(store, base, { version: '4', behaviour: 'crash' }),
      '5': await fakeServerImage(store, base, { version: '5', failPort: port }),
    };
    for (const [tag, built] of Object.entries(images))
      await push(`${registry.host}/ledge/fake:${tag}`, built.image);

    const metadata = await MetadataStore.open(path.join(root, 'metadata.db'));
    t.after(() => metadata.close());
    const parsed = parseDeployConfig(
      [
        'targets:',
        '  edge:',
        '    kind: engine',
        `    socket: ${engine.socket}`,
        `    image: ${proxy.host}/ledge/fake`,
        '    network: host',
        `    port: ${port}`,
        '    health_timeout: 20',
        '    drain_timeout: 2',
        '',
      ].join('\n'),
      '.ledge/deploy.yaml',
    );
    const config = parsed.targets.edge as EngineTargetConfig;
    const target = new EngineTarget({ name: 'edge', config });
    const options: DeployerOptions = { db: metadata.db, target, lockFile: path.join(root, 'deploy.lock') };
    const candidate = (version: string, image?: string): Candidate => ({
      name: 'fake-model',
      version,
      digest: images[version]?.modelDigest ?? `sha256:${'0'.repeat(64)}`,
      path: image ?? `${proxy.host}/ledge/fake:${version}`,
      image,
      label: `fake-model@${version}`,
      registryVersion: Number(version),
      modelVersionId: null,
      runExecutionId: null,
      metrics: { accuracy: 0.9 },
    });
    const deploy = (version: string, image?: string) =>
      deployModel(options, { candidate: candidate(version, image), gate: DEFAULT_GATE });
    const { url } = target;
    const figures: Record<string, unknown> = {};
    t.after(() => console.log(`engine target figures: ${JSON.stringify(figures)}`));

    await t.test('first deployment: pull, create on the stable port, healthy, smoke', async () => {
      proxy.reset();
      const report = await deploy('1');
      assert.equal(report.outcome.ok, true, JSON.stringify(report.outcome.steps));
      assert.deepEqual(
        report.outcome.steps.map((s) => s.step),
        ['resolve', 'pull', 'create', 'start', 'ready', 'smoke'],
      );
      assert.equal(
        report.outcome.steps.find((s) => s.step === 'ready')?.detail,
        'healthy (engine health check)',
      );
      assert.equal(await predictVersion(url), '1');
      const d = report.deployment;
      assert.equal(d.status, 'active');
      assert.match(d.location, new RegExp(`^${proxy.host}/ledge/fake@sha256:[0-9a-f]{64}$`));
      const pull = d.properties.pull as { bytes: number; layersPulled: number };
      assert.equal(pull.layersPulled, 3);
      assert.ok(pull.bytes > MODEL_BYTES, `${pull.bytes}`);
      assert.ok(pull.bytes <= proxy.bytes(), `reported ${pull.bytes}, the registry sent ${proxy.bytes()}`);
      const status = await targetStatus(metadata.db, target);
      assert.equal(status.status.state, 'serving', JSON.stringify(status.status.problems));
      assert.equal(status.status.serving?.deploymentId, d.id);
      assert.deepEqual(status.status.problems, []);
      const listed = JSON.parse(engine.podman('ps', '--format', 'json')) as {
        Names: string[];
        Labels: Record<string, string>;
      }[];
      assert.deepEqual(
        listed.map((c) => c.Names[0]),
        [`ledge-edge-${d.id}`],
      );
      assert.equal(listed[0]!.Labels['ai.ledge.version'], '1');
    });

    await t.test(
      'a model-only update pulls the model layer only; the port switches in a short window',
      async () => {
        proxy.reset();
        const load = steadyLoad(url);
        await sleep(300);
        const report = await deploy('2');
        await sleep(300);
        const samples = await load.stop();
        assert.equal(report.outcome.ok, true, JSON.stringify(report.outcome.steps));
        assert.deepEqual(
          report.outcome.steps.map((s) => s.step),
          ['resolve', 'pull', 'create', 'start', 'ready', 'smoke', 'switch', 'remove'],
        );
        assert.match(report.outcome.steps[2]!.detail!, /-check on spare port/);
        assert.equal(await predictVersion(url), '2');
        assert.equal(report.replaced?.status, 'superseded');

        const modelLayer = images['2']!.modelLayerSize;
        const pull = report.deployment.properties.pull as {
          bytes: number;
          layersPulled: number;
          layersPresent: number;
        };
        assert.deepEqual([pull.layersPulled, pull.layersPresent], [1, 2]);
        assert.ok(
          pull.bytes >= modelLayer && pull.bytes <= 1.1 * modelLayer,
          `${pull.bytes} vs ${modelLayer}`,
        );
        // Independently: everything the registry sent (the engine's pull, ledge's manifest read).
        assert.ok(
          proxy.bytes() <= 1.1 * modelLayer,
          `the registry sent ${proxy.bytes()} for a ${modelLayer}-byte layer`,
        );
        assert.ok(proxy.bytes() >= pull.bytes);

        // Requests fail only while the port switches, and never go back to the old version.
        const versions = samples.filter((s) => s.ok).map((s) => s.version);
        assert.ok(versions.includes('1') && versions.includes('2'), versions.join());
        assert.equal(versions.lastIndexOf('1') < versions.indexOf('2'), true, 'no answer from 1 after 2');
        const failed = samples.filter((s) => !s.ok);
        const windowMs = (report.deployment.properties.switch as { windowMs: number }).windowMs;
        if (failed.length > 0) {
          const span = failed[failed.length - 1]!.at - failed[0]!.at;
          assert.ok(span <= windowMs + 500, `failures over ${span} ms, the window was ${windowMs} ms`);
        }
        figures.modelLayerBytes = modelLayer;
        figures.bytesPulledModelOnly = pull.bytes;
        figures.bytesFromRegistryModelOnly = proxy.bytes();
        figures.switch = report.deployment.properties.switch;
        figures.requestsDuringSwap = samples.length;
        figures.failedDuringSwap = failed.length;
      },
    );

    await t.test(
      'a candidate that never gets healthy is removed; the old version answers every request',
      async () => {
        const load = steadyLoad(url);
        const report = await deploy('3');
        const samples = await load.stop();
        assert.equal(report.outcome.ok, false);
        assert.equal(report.deployment.status, 'failed');
        assert.match(
          report.deployment.message!,
          /^ready: the engine reports it unhealthy \(last check: exit code 1: wget: server returned error: HTTP\/1\.1 503/,
        );
        assert.equal(report.outcome.serving?.version, '2');
        assert.deepEqual(
          samples.filter((s) => !s.ok),
          [],
        );
        assert.deepEqual([...new Set(samples.map((s) => s.version))], ['2']);
        figures.unhealthyDetectedMs = report.outcome.steps.find((s) => s.step === 'ready')?.ms;
        const names = JSON.parse(engine.podman('ps', '-a', '--format', 'json')) as { Names: string[] }[];
        assert.equal(names.length, 1, 'the candidate is gone');
      },
    );

    await t.test('a candidate that crashes: the reason has its exit code and last output', async () => {
      const report = await deploy('4');
      assert.equal(report.outcome.ok, false);
      assert.match(
        report.deployment.message!,
        /^ready: the container exited with code 1; last output: .*fatal: cannot load the model from \/model: Protobuf parsing failed/,
      );
      assert.doesNotMatch(report.deployment.message!, /\n/);
      assert.equal(await predictVersion(url), '2');
    });

    await t.test('a version that fails on the stable port: the old one is started again', async () => {
      const load = steadyLoad(url);
      const report = await deploy('5');
      const samples = await load.stop();
      assert.equal(report.outcome.ok, false);
      const step = report.outcome.steps.at(-1)!;
      assert.equal(step.step, 'switch');
      assert.match(
        step.detail!,
        /the container exited with code 3; last output: .*fatal: cannot listen on port/,
      );
      assert.match(step.detail!, /restarted ledge-edge-\d+, serving again [\d.]+ s after the failure/);
      const restoredMs = report.deployment.properties.restoredMs as number;
      assert.ok(restoredMs <= 5000, `${restoredMs} ms`);
      figures.failureToOldServingMs = restoredMs;
      assert.equal(await predictVersion(url), '2');
      assert.equal(samples.filter((s) => s.ok && s.version !== '2').length, 0);
      const status = await targetStatus(metadata.db, target);
      assert.equal(status.status.state, 'serving', JSON.stringify(status.status.problems));
      assert.equal(status.status.serving?.version, '2');
      assert.equal(status.active?.id, status.status.serving?.deploymentId);
    });

    await t.test('a serving container that crashes is restarted by the engine', async () => {
      const [info] = JSON.parse(
        engine.podman('inspect', `ledge-edge-${(await targetStatus(metadata.db, target)).active!.id}`),
      ) as {
        State: { Pid: number };
      }[];
      const killedAt = performance.now();
      process.kill(info!.State.Pid, 'SIGKILL');
      let back = false;
      while (!back && performance.now() - killedAt < 20_000) {
        await sleep(50);
        back = await predictVersion(url).then(
          (v) => v === '2',
          () => false,
        );
      }
      assert.ok(back, 'serving again');
      figures.crashToServingMs = Math.round(performance.now() - killedAt);
      const status = await targetStatus(metadata.db, target);
      assert.equal(status.status.state, 'serving');
      assert.ok(
        status.status.problems.some((p) => /was restarted 1 time/.test(p)),
        status.status.problems.join(),
      );
      assert.ok(status.status.events.some((e) => e.kind === 'container-restarted'));
    });

    await t.test('an unknown image fails at resolve, in one line', async () => {
      const report = await deploy('9');
      assert.equal(report.outcome.ok, false);
      assert.equal(
        report.deployment.message,
        `resolve: ${proxy.host}/ledge/fake:9 does not exist; check the repository and tag (the registry has no such image)`,
      );
    });

    await t.test('an engine that cannot pull says why and what to do', async () => {
      const report = await deploy('1', `${unlisted.host}/ledge/fake:1`);
      assert.equal(report.outcome.ok, false);
      assert.match(
        report.deployment.message!,
        /^pull: the engine could not pull 127\.0\.0\.1:\d+\/ledge\/fake: .*HTTP response to HTTPS client; the engine wants HTTPS for 127\.0\.0\.1:\d+: list it as insecure/,
      );
      assert.equal(await predictVersion(url), '2');
    });

    await t.test(
      'rollback returns to the image of the previous deployment; stop removes everything',
      async () => {
        proxy.reset();
        const report = await rollbackDeployment(options, {
          locate: async (d) => ({
            name: d.modelName,
            version: String(d.modelVersion),
            digest: d.modelDigest,
            path: d.location,
            image: d.location,
          }),
        });
        assert.equal(report.outcome.ok, true, JSON.stringify(report.outcome.steps));
        assert.equal(report.restored?.modelVersion, 1);
        assert.equal(await predictVersion(url), '1');
        const pull = report.deployment.properties.pull as { bytes: number; layersPulled: number };
        assert.equal(pull.layersPulled, 0, 'the image is still in the engine');
        assert.ok(pull.bytes < 16 * 1024, `${pull.bytes}`);
        figures.bytesPulledRollback = pull.bytes;
        const history = await listDeployments(metadata.db, { target: 'edge' });
        assert.deepEqual(
          history.map((d) => [d.modelVersion, d.status]),
          [
            [1, 'active'],
            [1, 'failed'],
            [9, 'failed'],
            [5, 'failed'],
            [4, 'failed'],
            [3, 'failed'],
            [2, 'rolled-back'],
            [1, 'superseded'],
          ],
        );

        const stopped = await stopTarget(options);
        assert.equal(stopped.outcome.stopped, true);
        assert.equal(stopped.ended?.status, 'stopped');
        assert.equal((await getDeployment(metadata.db, report.deployment.id)).status, 'stopped');
        assert.deepEqual(JSON.parse(engine.podman('ps', '-a', '--format', 'json')), []);
        const status = await targetStatus(metadata.db, target);
        assert.equal(status.status.state, 'stopped');
        await assert.rejects(fetch(`${url}/v2/health/ready`));
        assert.ok(fs.existsSync(engine.socket));
      },
    );
  });
});
