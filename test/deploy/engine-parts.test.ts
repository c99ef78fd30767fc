/**
 * The engine target's pure parts, in memory: the pull progress stream and the bytes it moved,
 * Docker's multiplexed log frames, the container the target asks for (labels, port, network,
 * health check, restart policy), where the socket is, API version negotiation, and the
 * `kind: engine` settings in .ledge/deploy.yaml.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { isLedgeError } from '../../src/core/errors.js';
import { type EngineTargetConfig, parseDeployConfig, targetConfig } from '../../src/deploy/deploy-config.js';
import { isDeployError } from '../../src/deploy/deploy-errors.js';
import {
  type ContainerPlan,
  containerBody,
  containerName,
  healthcheckFor,
} from '../../src/deploy/engine/container-spec.js';
import {
  compareApiVersions,
  engineSocket,
  registryAuthHeader,
} from '../../src/deploy/engine/engine-client.js';
import { imageFor, looksLikeImageReference, modelFromLabels } from '../../src/deploy/engine/engine-image.js';
import { demultiplexLogs, lastLines } from '../../src/deploy/engine/log-stream.js';
import {
  emptySummary,
  pulledBytes,
  pullMessages,
  recordPullMessage,
} from '../../src/deploy/engine/pull-progress.js';

const FILE = '.ledge/deploy.yaml';

function engineConfig(extra = ''): EngineTargetConfig {
  const config = parseDeployConfig(
    `targets:\n  edge:\n    kind: engine\n    image: 127.0.0.1:5000/ledge/imdb\n${extra}`,
    FILE,
  );
  const { config: edge } = targetConfig(config, 'edge');
  assert.equal(edge.kind, 'engine');
  return edge as EngineTargetConfig;
}

const hex = (c: string) => c.repeat(64);

async function summaryOf(text: string) {
  const summary = emptySummary();
  // Chunks that split lines in odd places, as a socket may.
  const chunks = [text.slice(0, 7), text.slice(7, 90), text.slice(90)].map((s) => Buffer.from(s));
  for await (const message of pullMessages(Readable.from(chunks))) recordPullMessage(summary, message);
  return summary;
}

describe('engine target: pull progress', () => {
  const image = {
    manifestSize: 1000,
    config: { digest: `sha256:${hex('c')}`, size: 2000 },
    layers: [
      { digest: `sha256:${hex('a')}`, size: 1_000_000 },
      { digest: `sha256:${hex('b')}`, size: 5_000_000 },
    ],
  };

  it('counts the manifest, the config and the layers Podman transferred, not those it had', async () => {
    const summary = await summaryOf(
      [
        `{"status":"Already exists","progressDetail":{},"id":"${hex('a').slice(0, 12)}"}`,
        `{"status":"Pulling fs layer","progressDetail":{},"id":"${hex('b').slice(0, 12)}"}`,
        `{"status":"Download complete","progressDetail":{},"id":"${hex('b').slice(0, 12)}"}`,
        `{"status":"Pulling fs layer","progressDetail":{},"id":"${hex('c').slice(0, 12)}"}`,
        `{"status":"Download complete","progressDetail":{},"id":"${hex('c').slice(0, 12)}"}`,
        '',
      ].join('\n'),
    );
    assert.equal(summary.error, undefined);
    assert.deepEqual(pulledBytes(summary, image), {
      bytes: 1000 + 2000 + 5_000_000,
      layersPulled: 1,
      layersPresent: 1,
    });
  });

  it("takes Docker's reported totals, and counts the config Docker does not name", async () => {
    const summary = await summaryOf(
      [
        `{"status":"Pulling from ledge/imdb","id":"3"}`,
        `{"status":"Already exists","progressDetail":{},"id":"${hex('a').slice(0, 12)}"}`,
        `{"status":"Pulling fs layer","progressDetail":{},"id":"${hex('b').slice(0, 12)}"}`,
        `{"status":"Downloading","progressDetail":{"current":100,"total":4999999},"progress":"[>  ]","id":"${hex('b').slice(0, 12)}"}`,
        `{"status":"Pull complete","progressDetail":{},"id":"${hex('b').slice(0, 12)}"}`,
        '{"status":"Digest: sha256:0123"}',
        '{"status":"Status: Downloaded newer image for 127.0.0.1:5000/ledge/imdb:3"}',
      ].join('\r\n'),
    );
    assert.deepEqual(pulledBytes(summary, image), {
      bytes: 1000 + 2000 + 4_999_999,
      layersPulled: 1,
      layersPresent: 1,
    });
  });

  it('counts only the manifest when the engine had everything', async () => {
    const summary = await summaryOf('{"status":"Status: Image is up to date for x"}\n');
    assert.deepEqual(pulledBytes(summary, image), { bytes: 1000, layersPulled: 0, layersPresent: 2 });
  });

  it('keeps the error the stream ends with', async () => {
    const summary = await summaryOf(
      '{"progressDetail":{},"errorDetail":{"message":"reading manifest 9 in 127.0.0.1:5000/ledge/imdb: manifest unknown"},"error":"reading manifest 9 …"}\n',
    );
    assert.equal(summary.error, 'reading manifest 9 in 127.0.0.1:5000/ledge/imdb: manifest unknown');
  });
});

describe('engine target: logs', () => {
  it('reads multiplexed frames and raw TTY text, keeping the last lines', () => {
    const frame = (stream: number, text: string) => {
      const body = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(body.length, 4);
      return Buffer.concat([header, body]);
    };
    const muxed = Buffer.concat([frame(1, 'starting\n'), frame(2, 'fatal: no model\n'), frame(1, '\n')]);
    assert.equal(demultiplexLogs(muxed), 'starting\nfatal: no model\n\n');
    assert.equal(demultiplexLogs(Buffer.from('plain text\n')), 'plain text\n');
    assert.deepEqual(lastLines('a\nb\r\n\nc\n', 2), ['b', 'c']);
  });
});

describe('engine target: the container it asks for', () => {
  const plan = (
    config: EngineTargetConfig,
    role: ContainerPlan['role'],
    hostPort: number,
  ): ContainerPlan => ({
    target: 'edge',
    deploymentId: 7,
    role,
    model: { name: 'imdb', version: '3', digest: `sha256:${hex('d')}`, path: '/b' },
    image: `127.0.0.1:5000/ledge/imdb@sha256:${hex('e')}`,
    hostPort,
    healthcheck: healthcheckFor(undefined, { Test: ['CMD', 'node', 'health.js'], Interval: 10e9 }),
    config,
  });

  it('on a bridge network: publishes the port, labels it, restarts it unless stopped', () => {
    const config = engineConfig('    env: {LOG_LEVEL: debug}\n');
    const body = containerBody(plan(config, 'serving', 8080));
    assert.equal(containerName('edge', 7, 'serving'), 'ledge-edge-7');
    assert.equal(body.Image, `127.0.0.1:5000/ledge/imdb@sha256:${hex('e')}`);
    assert.deepEqual(body.Env, ['LOG_LEVEL=debug', 'LEDGE_PORT=8080']);
    assert.deepEqual(body.HostConfig, {
      NetworkMode: 'bridge',
      RestartPolicy: { Name: 'unless-stopped' },
      PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] },
    });
    assert.deepEqual(body.Labels, {
      'ai.ledge.target': 'edge',
      'ai.ledge.deployment': '7',
      'ai.ledge.role': 'serving',
      'ai.ledge.model': 'imdb',
      'ai.ledge.version': '3',
      'ai.ledge.model-digest': `sha256:${hex('d')}`,
      'ai.ledge.image': `127.0.0.1:5000/ledge/imdb@sha256:${hex('e')}`,
    });
    assert.deepEqual(body.Healthcheck, { Test: ['CMD', 'node', 'health.js'], Interval: 10e9 });
    assert.equal(body.StopTimeout, 15);
  });

  it('on the host network: the server listens on the host port; a candidate is never restarted', () => {
    const config = engineConfig('    network: host\n');
    const body = containerBody(plan(config, 'candidate', 41234));
    assert.equal(containerName('edge', 7, 'candidate'), 'ledge-edge-7-check');
    assert.deepEqual(body.Env, ['LEDGE_PORT=41234']);
    assert.deepEqual(body.HostConfig, { NetworkMode: 'host', RestartPolicy: { Name: 'no' } });
    assert.equal(body.ExposedPorts, undefined);
  });

  it("the health check: the target's, else the image's, none when disabled; start interval where the API has it", () => {
    const configured = engineConfig(
      '    healthcheck: {test: "wget -q http://127.0.0.1:$LEDGE_PORT/v2/health/ready", interval: 1, start_period: 5}\n',
    );
    assert.deepEqual(healthcheckFor(configured.healthcheck, { Test: ['CMD', 'x'] }), {
      Test: ['CMD-SHELL', 'wget -q http://127.0.0.1:$LEDGE_PORT/v2/health/ready'],
      Interval: 1e9,
      Timeout: 3e9,
      Retries: 3,
      StartPeriod: 5e9,
    });
    assert.deepEqual(healthcheckFor('none', { Test: ['CMD', 'x'] }), { Test: ['NONE'] });
    assert.equal(healthcheckFor(undefined, { Test: ['NONE'] }), undefined);
    assert.equal(healthcheckFor(undefined, undefined), undefined);
    const body = containerBody({
      ...plan(configured, 'serving', 8080),
      healthcheck: healthcheckFor(configured.healthcheck, undefined),
      startInterval: true,
    });
    assert.equal(body.Healthcheck?.StartInterval, 1e9);
  });
});

describe('engine target: settings and references', () => {
  it('reads kind: engine with defaults, and refuses mistakes with file, line and key', () => {
    const config = engineConfig();
    assert.equal(config.socket, undefined);
    assert.equal(config.tag, '{version}');
    assert.equal(config.port, 8080);
    assert.equal(config.network, 'bridge');
    assert.equal(config.pull, 'always');
    assert.equal(config.restart_policy, 'unless-stopped');
    assert.equal(config.health_timeout, 60);
    assert.throws(
      () => parseDeployConfig('targets:\n  edge:\n    kind: engine\n    tag: "v/{version}"\n', FILE),
      (error) =>
        isLedgeError(error, 'config') &&
        /deploy\.yaml:4: targets\.edge\.tag: a tag template/.test(error.message),
    );
    assert.throws(
      () => parseDeployConfig('targets:\n  edge:\n    kind: engine\n    serve_args: [x]\n', FILE),
      (error) =>
        isLedgeError(error, 'config') &&
        /targets\.edge/.test(error.message) &&
        /serve_args/.test(error.message),
    );
  });

  it('maps a model to <image>:<tag>, or runs the image it names', () => {
    const model = { name: 'imdb', version: '3', digest: `sha256:${hex('d')}`, path: '/b' };
    assert.equal(imageFor('edge', engineConfig(), model), '127.0.0.1:5000/ledge/imdb:3');
    assert.equal(
      imageFor('edge', engineConfig('    tag: "{name}-v{version}"\n'), model),
      '127.0.0.1:5000/ledge/imdb:imdb-v3',
    );
    assert.equal(imageFor('edge', engineConfig(), { ...model, image: 'r.local/x:1' }), 'r.local/x:1');
    const noImage = parseDeployConfig('targets:\n  edge: {kind: engine}\n', FILE);
    assert.throws(
      () => imageFor('edge', targetConfig(noImage, 'edge').config as EngineTargetConfig, model),
      (error) => isDeployError(error, 'not-supported') && /set image:/.test(error.line),
    );
    assert.equal(looksLikeImageReference('127.0.0.1:5000/ledge/imdb:3'), true);
    assert.equal(looksLikeImageReference('registry.local/ledge/imdb@sha256:' + hex('a')), true);
    assert.equal(looksLikeImageReference('localhost/ledge/imdb'), true);
    for (const notImage of [
      'imdb-sentiment@3',
      'imdb-sentiment',
      'models/imdb',
      './models/imdb',
      '/abs/imdb',
      `sha256:${hex('a')}`,
    ]) {
      assert.equal(looksLikeImageReference(notImage), false, notImage);
    }
    assert.deepEqual(modelFromLabels({ 'ai.ledge.model.name': 'imdb', 'ai.ledge.model.version': '3' }), {
      name: 'imdb',
      version: '3',
      digest: undefined,
    });
  });

  it('finds the socket in the config, DOCKER_HOST, or the default; encodes credentials; negotiates versions', () => {
    assert.deepEqual(engineSocket('/run/podman/podman.sock', { DOCKER_HOST: 'unix:///x.sock' }), {
      socket: '/run/podman/podman.sock',
      source: 'config',
    });
    assert.deepEqual(engineSocket(undefined, { DOCKER_HOST: 'unix:///var/run/balena-engine.sock' }), {
      socket: '/var/run/balena-engine.sock',
      source: 'DOCKER_HOST',
    });
    assert.deepEqual(engineSocket(undefined, {}), { socket: '/var/run/docker.sock', source: 'default' });
    assert.throws(
      () => engineSocket(undefined, { DOCKER_HOST: 'tcp://10.0.0.2:2375' }),
      (error) => isDeployError(error, 'not-supported') && /unix socket only/.test(error.line),
    );
    // URL-safe base64 with padding, as Go's base64.URLEncoding reads it.
    const header = registryAuthHeader({ username: 'ci', password: 'p>?~x', serveraddress: 'r:5000' });
    assert.match(header, /^[A-Za-z0-9_-]+-[A-Za-z0-9_-]+==$/, 'URL-safe, padded');
    assert.equal(header.length % 4, 0);
    assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString('utf8')), {
      username: 'ci',
      password: 'p>?~x',
      serveraddress: 'r:5000',
    });
    assert.ok(compareApiVersions('1.41', '1.47') < 0);
    assert.ok(compareApiVersions('1.100', '1.47') > 0);
    assert.equal(compareApiVersions('1.41', '1.41'), 0);
  });
});
