/**
 * `.ledge/deploy.yaml`: the built-in `local` target without it, defaults, and every mistake as
 * one line naming the file, the line and the key; an unknown target lists the known ones.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isLedgeError } from '../../src/core/errors.js';
import {
  DEFAULT_GATE,
  parseDeployConfig,
  readDeployConfig,
  targetConfig,
} from '../../src/deploy/deploy-config.js';
import { isDeployError } from '../../src/deploy/deploy-errors.js';
import { tempDir } from '../helpers/temp-dir.js';

const FILE = '.ledge/deploy.yaml';

function fails(text: string, message: RegExp): void {
  assert.throws(
    () => parseDeployConfig(text, FILE),
    (error) => isLedgeError(error, 'config') && message.test(error.message),
  );
}

describe('deploy targets configuration', () => {
  it('has the built-in local target when there is no deploy.yaml', (t) => {
    const root = tempDir(t);
    const config = readDeployConfig(path.join(root, '.ledge'), root);
    assert.equal(config.file, undefined);
    assert.equal(config.defaultTarget, 'local');
    const { name, config: local } = targetConfig(config, undefined);
    assert.equal(name, 'local');
    assert.equal(local.kind, 'local');
    assert.equal(local.host, '127.0.0.1');
    assert.equal(local.port, 8080);
    assert.equal(local.gate, undefined, 'the default gate applies');
    assert.equal(DEFAULT_GATE.metric, 'accuracy');
    assert.equal(DEFAULT_GATE.min, undefined);
    assert.equal(DEFAULT_GATE.against_deployed, true);
    assert.deepEqual(local.restart, { initial_delay: 0.5, max_delay: 30 });
  });

  it('reads targets, fills defaults, and keeps local when the file defines others', (t) => {
    const root = tempDir(t);
    fs.mkdirSync(path.join(root, '.ledge'));
    fs.writeFileSync(
      path.join(root, FILE),
      [
        'default_target: staging',
        'targets:',
        '  staging:',
        '    port: 9090',
        '    gate: {metric: validation.accuracy, min: 0.9}',
        '    serve_args: [--max-batch, "32"]',
        '  loss-gated:',
        '    kind: local',
        '    gate: {metric: log_loss, max: 0.4, direction: lower}',
      ].join('\n'),
    );
    const config = readDeployConfig(path.join(root, '.ledge'), root);
    assert.equal(config.file, FILE);
    assert.deepEqual(Object.keys(config.targets).sort(), ['local', 'loss-gated', 'staging']);
    const staging = targetConfig(config, undefined);
    assert.equal(staging.name, 'staging');
    assert.equal(staging.config.port, 9090);
    assert.equal(staging.config.host, '127.0.0.1');
    assert.deepEqual(staging.config.gate, {
      metric: 'validation.accuracy',
      min: 0.9,
      direction: 'higher',
      against_deployed: true,
    });
    assert.equal(staging.config.kind, 'local');
    assert.deepEqual(staging.config.kind === 'local' && staging.config.serve_args, ['--max-batch', '32']);
    assert.equal(targetConfig(config, 'loss-gated').config.gate?.direction, 'lower');
    assert.equal(targetConfig(config, 'local').config.port, 8080);
  });

  it('says which target does not exist and which do', () => {
    const config = parseDeployConfig('targets:\n  edge-1: {port: 9000}\n', FILE);
    assert.throws(
      () => targetConfig(config, 'prod'),
      (error) =>
        isDeployError(error, 'unknown-target') &&
        error.code === 'usage' &&
        error.line ===
          "no deploy target 'prod' (known: 'edge-1', 'local'); targets are defined in .ledge/deploy.yaml (docs/deploy.md)",
    );
  });

  it('names the file, line and key of every mistake', () => {
    fails('targets:\n  local:\n    port: 80800\n', /^\.ledge\/deploy\.yaml:3: targets\.local\.port: /);
    fails('targets:\n  local:\n    port: "8080"\n', /^\.ledge\/deploy\.yaml:3: targets\.local\.port: /);
    fails(
      'targets:\n  local:\n    prot: 8080\n',
      /^\.ledge\/deploy\.yaml:3: targets\.local: unknown key 'prot'/,
    );
    fails(
      'targets:\n  local:\n    kind: kubernetes\n',
      /^\.ledge\/deploy\.yaml:3: targets\.local\.kind: .*expected 'local' \| 'engine'/i,
    );
    fails(
      'targets:\n  local:\n    gate: {min: 0.9}\n',
      /^\.ledge\/deploy\.yaml:3: targets\.local\.gate\.metric: /,
    );
    fails('targets:\n  Bad Name: {}\n', /^\.ledge\/deploy\.yaml:\d: targets\.Bad Name: a target name has/);
    fails('targets: [local]\n', /^\.ledge\/deploy\.yaml:1: targets: /);
    fails('targets:\n  local: {port: 1\n', /^\.ledge\/deploy\.yaml:\d: invalid YAML/);
    fails('default_target: nowhere\n', /^\.ledge\/deploy\.yaml: default_target: no target named 'nowhere'/);
  });
});
