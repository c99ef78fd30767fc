/**
 * `ledge deploy` on engine targets as users run it: the real CLI in child processes, a real
 * Podman API service and a real registry. Deploying image references (the gate without
 * metrics, --force), status, history, rollback and stop, on a bridge network (published
 * ports); and the mistakes as one line each: an engine socket that is not there, a target that
 * does not exist, an image that does not exist, an image on the local target.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { BlobStore, push } from '../../src/image/index.js';
import type { Deployment } from '../../src/metadata/deployments.js';
import { type LedgeResult, runLedge } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';
import { busyboxBaseImage } from '../image/helpers/busybox-base.js';
import { freePort, startRegistry } from '../image/helpers/registry-server.js';
import { fakeServerImage } from './helpers/fake-server-image.js';
import { startPodmanService } from './helpers/podman-service.js';

function ok(result: LedgeResult, what: string): LedgeResult {
  assert.equal(result.code, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** The one error line of a failed command. */
function errorLine(result: LedgeResult, code: number): string {
  assert.equal(result.code, code, `${result.stdout}\n${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  return lines[0]!;
}

async function version(url: string): Promise<string | undefined> {
  const response = await fetch(`${url}/v1/models/fake-model:predict`, {
    method: 'POST',
    body: '{"instances":["x"]}',
    signal: AbortSignal.timeout(3000),
  });
  return ((await response.json()) as { model_version?: string }).model_version;
}

describe('ledge deploy on an engine target', () => {
  it('deploys images, reports, rolls back and stops; mistakes are one line', async (t: TestContext) => {
    const registry = await startRegistry(t);
    const credentials = { username: 'ci', password: 's3cret-pass' };
    const privateRegistry = await startRegistry(t, { htpasswd: credentials });
    const engine = await startPodmanService(t, { insecureRegistries: [registry.host, privateRegistry.host] });
    const root = tempDir(t);
    const store = new BlobStore(path.join(root, 'blobs'));
    const base = await busyboxBaseImage(store);
    for (const v of ['1', '2']) {
      const { image } = await fakeServerImage(store, base, { version: v });
      await push(`${registry.host}/ledge/fake:${v}`, image);
      if (v === '1') await push(`${privateRegistry.host}/ledge/fake:1`, image, { credentials });
    }
    const ws = path.join(root, 'ws');
    fs.mkdirSync(ws);
    ok(await runLedge(['init'], { cwd: ws }), 'init');
    const port = await freePort();
    const privatePort = await freePort();
    const missing = path.join(root, 'no-engine.sock');
    fs.writeFileSync(
      path.join(ws, '.ledge', 'deploy.yaml'),
      [
        'targets:',
        '  edge:',
        '    kind: engine',
        `    socket: ${engine.socket}`,
        '    network: bridge',
        `    port: ${port}`,
        '    health_timeout: 20',
        '    drain_timeout: 1',
        '  gone:',
        '    kind: engine',
        `    socket: ${missing}`,
        '  private:',
        '    kind: engine',
        `    socket: ${engine.socket}`,
        `    image: ${privateRegistry.host}/ledge/fake`,
        '    network: host',
        `    port: ${privatePort}`,
        '    registry_auth: {username: ci, password_env: LEDGE_TEST_REGISTRY_PASSWORD}',
        '',
      ].join('\n'),
    );
    const ledge = (...args: string[]) => runLedge(args, { cwd: ws, env: { DOCKER_HOST: undefined } });
    const url = `http://127.0.0.1:${port}`;
    const image = (v: string) => `${registry.host}/ledge/fake:${v}`;

    await t.test('an image without recorded metrics meets the gate; --force deploys it', async () => {
      assert.match(
        errorLine(await ledge('deploy', image('1'), '--target', 'edge'), 1),
        new RegExp(
          `^ledge: error: quality gate: ${image('1').replaceAll('.', '\\.')} has no metric 'accuracy' \\(it has no recorded metrics\\); .*--force deploys it without the gate$`,
        ),
      );
      const deployed = ok(await ledge('deploy', image('1'), '--target', 'edge', '--force'), 'deploy 1');
      assert.match(deployed.stdout, /quality gate skipped \(--force\)/);
      assert.match(deployed.stdout, /^ {2}pull +ok .* pulled \(3 of 3 layers; 0 already there\)$/m);
      assert.match(
        deployed.stdout,
        new RegExp(`^Serving fake-model \\(sha256:[0-9a-f]{12}\\) at ${url} \\(deployment 1\\)$`, 'm'),
      );
      assert.equal(await version(url), '1');
    });

    await t.test('a second version swaps through a spare published port', async () => {
      const result = ok(
        await ledge('deploy', image('2'), '--target', 'edge', '--force', '--json'),
        'deploy 2',
      );
      const report = JSON.parse(result.stdout) as {
        ok: boolean;
        steps: { step: string; detail?: string }[];
        facts: { pull: { bytes: number; layersPulled: number }; switch: { windowMs: number } };
        deployment: Deployment;
      };
      assert.equal(report.ok, true);
      assert.deepEqual(
        report.steps.map((s) => s.step),
        ['resolve', 'pull', 'create', 'start', 'ready', 'smoke', 'switch', 'remove'],
      );
      assert.equal(report.facts.pull.layersPulled, 1, 'only the model layer differs');
      assert.equal(report.deployment.location.split('@')[0], `${registry.host}/ledge/fake`);
      assert.equal(await version(url), '2');
      const [container] = JSON.parse(engine.podman('ps', '--format', 'json')) as {
        Ports: { host_port: number; container_port: number }[];
      }[];
      assert.deepEqual(
        container!.Ports.map((p) => [p.host_port, p.container_port]),
        [[port, 8080]],
      );
    });

    await t.test('status, history, rollback, stop', async () => {
      const status = ok(await ledge('deploy', 'status', '--target', 'edge'), 'status').stdout;
      assert.match(status, new RegExp(`^edge \\(engine\\): serving fake-model@2 at ${url}$`, 'm'));
      assert.match(status, /^ {2}engine +Podman 4\.\d+\.\d+ \(API 1\.\d+\) at /m);
      assert.match(
        status,
        /^ {2}container +ledge-edge-2 \([0-9a-f]{12}, serving\): running, healthy, deployment 2, /m,
      );

      const history = ok(await ledge('deploy', 'history', '--target', 'edge'), 'history').stdout;
      assert.match(history, /^2 +fake-model \(sha256:[0-9a-f]{12}\) +active/m);
      assert.match(history, /^1 +fake-model \(sha256:[0-9a-f]{12}\) +superseded/m);

      const rollback = ok(await ledge('deploy', 'rollback', '--target', 'edge'), 'rollback').stdout;
      assert.match(rollback, /\(the model of deployment 1\)/);
      assert.equal(await version(url), '1');

      const stop = ok(await ledge('deploy', 'stop', '--target', 'edge'), 'stop').stdout;
      assert.match(stop, /stopped and removed ledge-edge-3 on Podman; .* is free/);
      assert.match(stop, /deployment 3 is now stopped/);
      assert.match(
        ok(await ledge('deploy', 'status', '--target', 'edge'), 'status').stdout,
        /^edge \(engine\): stopped$/m,
      );
    });

    await t.test('a registry that needs credentials: the password comes from the environment', async () => {
      const ref = `${privateRegistry.host}/ledge/fake:1`;
      assert.equal(
        errorLine(await ledge('deploy', ref, '--target', 'private', '--force'), 2),
        "ledge: error: target 'private': registry_auth.password_env names LEDGE_TEST_REGISTRY_PASSWORD, which is not set; export LEDGE_TEST_REGISTRY_PASSWORD=… before `ledge deploy`",
      );
      const withPassword = (...args: string[]) =>
        runLedge(args, {
          cwd: ws,
          env: { DOCKER_HOST: undefined, LEDGE_TEST_REGISTRY_PASSWORD: credentials.password },
        });
      ok(await withPassword('deploy', ref, '--target', 'private', '--force'), 'deploy private');
      assert.equal(await version(`http://127.0.0.1:${privatePort}`), '1');
      ok(await withPassword('deploy', 'stop', '--target', 'private'), 'stop private');
    });

    await t.test('mistakes are one line saying what to do', async () => {
      assert.equal(
        errorLine(await ledge('deploy', image('1'), '--target', 'gone', '--force'), 1),
        `ledge: error: cannot reach the container engine of target 'gone' at ${missing}: no such socket; start the engine (Docker or balenaEngine: systemctl start docker / balena-engine; Podman: podman system service --time=0 unix://${missing}), or set socket: for target 'gone' in .ledge/deploy.yaml (or DOCKER_HOST=unix:///path/to.sock)`,
      );
      const goneStatus = JSON.parse(
        ok(await ledge('deploy', 'status', '--target', 'gone', '--json'), 'status').stdout,
      ) as {
        state: string;
        problems: string[];
      };
      assert.equal(goneStatus.state, 'unhealthy');
      assert.match(goneStatus.problems[0]!, /^cannot reach the container engine of target 'gone'/);
      assert.equal(
        errorLine(await ledge('deploy', image('1'), '--target', 'prod'), 2),
        "ledge: error: no deploy target 'prod' (known: 'edge', 'gone', 'local', 'private'); targets are defined in .ledge/deploy.yaml (docs/deploy.md)",
      );
      assert.equal(
        errorLine(await ledge('deploy', image('9'), '--target', 'edge', '--force'), 1),
        `ledge: error: ${image('9')} does not exist; check the repository and tag (the registry has no such image)`,
      );
      const closed = await freePort();
      assert.equal(
        errorLine(
          await ledge('deploy', `127.0.0.1:${closed}/ledge/fake:1`, '--target', 'edge', '--force'),
          1,
        ),
        `ledge: error: cannot reach registry 127.0.0.1:${closed}: connection refused; check the address, that the registry is running, and whether it speaks plain HTTP`,
      );
      assert.equal(
        errorLine(await ledge('deploy', image('1')), 2),
        `ledge: error: target 'local' (kind local) runs model bundles, not images such as ${image('1')}; deploy images to a target of kind: engine (docs/deploy.md), or deploy a model reference here`,
      );
    });
  });
});
