/** The quality gate's decisions, in memory: thresholds, the deployed model, metric lookup. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GateConfig } from '../../src/deploy/deploy-config.js';
import { DEFAULT_GATE } from '../../src/deploy/deploy-config.js';
import { isDeployError } from '../../src/deploy/deploy-errors.js';
import { checkGate, findMetric } from '../../src/deploy/quality-gate.js';

const model = (label: string, accuracy: number, extra: Record<string, unknown> = {}) => ({
  label,
  metrics: { validation: { accuracy, log_loss: 1 - accuracy, confusion: { tp: 3 } }, ...extra },
});
const deployed = (label: string, accuracy: number, deploymentId = 4) => ({
  ...model(label, accuracy),
  deploymentId,
});

describe('quality gate', () => {
  it('finds a metric by its full key or its last part', () => {
    const metrics = model('m@1', 0.9).metrics;
    assert.deepEqual(findMetric(metrics, 'accuracy', 'm@1'), { key: 'validation.accuracy', value: 0.9 });
    assert.deepEqual(findMetric(metrics, 'validation.accuracy', 'm@1'), {
      key: 'validation.accuracy',
      value: 0.9,
    });
    assert.deepEqual(findMetric(metrics, 'confusion.tp', 'm@1'), {
      key: 'validation.confusion.tp',
      value: 3,
    });
    assert.equal(findMetric(metrics, 'auc', 'm@1'), undefined);
    assert.throws(
      () => findMetric({ train: { accuracy: 1 }, validation: { accuracy: 0.9 } }, 'accuracy', 'm@1'),
      (error) =>
        isDeployError(error, 'unknown-metric') &&
        /'accuracy' is ambiguous for m@1 \(train\.accuracy, validation\.accuracy\)/.test(error.message),
    );
  });

  it('by default: any value, but never worse than the deployed model', () => {
    const first = checkGate(DEFAULT_GATE, model('m@1', 0.8));
    assert.equal(first.passed, true);
    assert.equal(first.metric, 'validation.accuracy');

    const better = checkGate(DEFAULT_GATE, model('m@2', 0.9), deployed('m@1', 0.8));
    assert.equal(better.passed, true);
    assert.equal(better.deployed?.value, 0.8);
    assert.equal(
      checkGate(DEFAULT_GATE, model('m@2', 0.8), deployed('m@1', 0.8)).passed,
      true,
      'equal is fine',
    );

    const worse = checkGate(DEFAULT_GATE, model('m@1', 0.8875), deployed('m@2', 0.895, 7));
    assert.equal(worse.passed, false);
    assert.equal(
      worse.message,
      'validation.accuracy 0.8875 of m@1 is worse than 0.895 of m@2 (deployment 7), deployed now',
    );
    // Values that round alike are shown in full.
    const close = checkGate(DEFAULT_GATE, model('m@1', 0.90001), deployed('m@2', 0.90002));
    assert.match(close.message, /0\.90001 of m@1 is worse than 0\.90002 of m@2/);
    // A deployed model without the metric is not compared with.
    const unknown = checkGate(DEFAULT_GATE, model('m@2', 0.5), { label: 'x', metrics: {}, deploymentId: 1 });
    assert.equal(unknown.passed, true);
    assert.match(unknown.message, /x has no validation\.accuracy to compare with/);
  });

  it('refuses a model on the wrong side of a configured threshold', () => {
    const gate: GateConfig = { metric: 'accuracy', min: 0.9, direction: 'higher', against_deployed: true };
    const below = checkGate(gate, model('m@3', 0.85));
    assert.equal(below.passed, false);
    assert.equal(below.message, 'validation.accuracy 0.85 of m@3 is below the minimum 0.9');
    assert.deepEqual(below.threshold, { kind: 'min', value: 0.9 });
    assert.equal(checkGate(gate, model('m@3', 0.9)).passed, true);

    const loss: GateConfig = { metric: 'log_loss', max: 0.2, direction: 'lower', against_deployed: true };
    assert.equal(checkGate(loss, model('m@3', 0.9)).passed, true);
    const lossy = checkGate(loss, model('m@3', 0.7));
    assert.equal(lossy.passed, false);
    assert.match(lossy.message, /validation\.log_loss 0\.3 of m@3 is above the maximum 0\.2/);
    // Lower is better: a higher loss than the deployed one is worse.
    const worse = checkGate(loss, model('m@4', 0.85), deployed('m@3', 0.9));
    assert.equal(worse.passed, false);
    assert.match(worse.message, /log_loss 0\.15 of m@4 is worse than 0\.1 of m@3/);

    const alone: GateConfig = { metric: 'accuracy', direction: 'higher', against_deployed: false };
    assert.equal(checkGate(alone, model('m@1', 0.1), deployed('m@2', 0.9)).passed, true);
  });

  it('says which metrics a model has when the gate names another', () => {
    const gate: GateConfig = { metric: 'acuracy', direction: 'higher', against_deployed: true };
    assert.throws(
      () => checkGate(gate, model('m@1', 0.9)),
      (error) =>
        isDeployError(error, 'unknown-metric') &&
        error.line ===
          "quality gate: m@1 has no metric 'acuracy' (it has validation.accuracy, validation.confusion.tp, validation.log_loss); set gate.metric in .ledge/deploy.yaml to one of them, or --force deploys it without the gate",
    );
    assert.throws(
      () => checkGate(DEFAULT_GATE, { label: 'bare.onnx', metrics: {} }),
      (error) => isDeployError(error, 'unknown-metric') && /it has no recorded metrics/.test(error.message),
    );
  });
});
