/**
 * The shared deploy logic over any target, with an in-memory target and a SQLite metadata
 * store: the gate decides before anything is recorded, outcomes become records, rollbacks walk
 * back through the history like a stack, a deployment left `deploying` by a dead process is
 * marked failed, stop ends the active deployment.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { sha256 } from '../../src/core/digest.js';
import { DEFAULT_GATE } from '../../src/deploy/deploy-config.js';
import { isDeployError } from '../../src/deploy/deploy-errors.js';
import {
  type Candidate,
  type DeployerOptions,
  deployModel,
  rollbackDeployment,
  stopTarget,
  targetStatus,
} from '../../src/deploy/deployer.js';
import type {
  DeployOutcome,
  DeploySpec,
  DeployTarget,
  ServingInstance,
  StopOutcome,
  TargetStatus,
} from '../../src/deploy/target.js';
import { getDeployment, listDeployments, startDeployment } from '../../src/metadata/deployments.js';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { tempDir } from '../helpers/temp-dir.js';

/** A target in memory: serves what it is told, fails models whose path says so. */
class MemoryTarget implements DeployTarget {
  readonly name = 'mem';
  readonly kind = 'memory';
  readonly url = 'memory://mem';
  serving: ServingInstance | null = null;
  readonly calls: string[] = [];

  async deploy(spec: DeploySpec): Promise<DeployOutcome> {
    this.calls.push(`deploy ${spec.model.name}@${spec.model.version}`);
    if (spec.model.path.includes('broken')) {
      return {
        ok: false,
        url: this.url,
        steps: [{ step: 'smoke', ok: false, ms: 1, detail: 'no score' }],
        reason: 'smoke: no score',
        serving: this.serving,
        replaced: null,
      };
    }
    const replaced = this.serving;
    this.serving = {
      deploymentId: spec.deploymentId,
      name: spec.model.name,
      version: spec.model.version,
      digest: spec.model.digest,
      since: new Date().toISOString(),
      details: {},
    };
    return {
      ok: true,
      url: this.url,
      steps: [{ step: 'switch', ok: true, ms: 0 }],
      serving: this.serving,
      replaced,
    };
  }

  rollback(to: DeploySpec): Promise<DeployOutcome> {
    this.calls.push('rollback');
    return this.deploy(to);
  }

  async status(): Promise<TargetStatus> {
    return {
      target: this.name,
      kind: this.kind,
      url: this.url,
      state: this.serving ? 'serving' : 'stopped',
      serving: this.serving,
      problems: [],
      events: [],
      details: {},
    };
  }

  async stop(): Promise<StopOutcome> {
    const serving = this.serving;
    this.serving = null;
    return { stopped: serving !== null, serving, detail: 'stopped' };
  }
}

const candidate = (version: number, accuracy: number, path = `/models/${version}`): Candidate => ({
  name: 'm',
  version: String(version),
  digest: sha256(`m${version}`),
  path,
  label: `m@${version}`,
  registryVersion: version,
  modelVersionId: null,
  runExecutionId: null,
  metrics: { validation: { accuracy } },
});

async function setUp(t: TestContext): Promise<{ options: DeployerOptions; target: MemoryTarget }> {
  const dir = tempDir(t);
  const store = await MetadataStore.open(path.join(dir, 'metadata.db'));
  t.after(() => store.close());
  const target = new MemoryTarget();
  return { target, options: { db: store.db, target, lockFile: path.join(dir, 'mem', 'deploy.lock') } };
}

const locate = async (d: {
  modelName: string;
  modelVersion: number | null;
  modelDigest: string;
  location: string;
}) => ({
  name: d.modelName,
  version: String(d.modelVersion),
  digest: d.modelDigest,
  path: d.location,
});

describe('deployer', () => {
  it('gates, records outcomes, and leaves what serves alone when a rollout fails', async (t) => {
    const { options, target } = await setUp(t);
    const gate = DEFAULT_GATE;
    const first = await deployModel(options, { candidate: candidate(1, 0.8), gate });
    assert.equal(first.deployment.status, 'active');
    assert.equal(first.replaced, undefined);
    assert.deepEqual(first.deployment.properties.metrics, { validation: { accuracy: 0.8 } });

    await assert.rejects(
      deployModel(options, { candidate: candidate(2, 0.7), gate }),
      (error) =>
        isDeployError(error, 'gate-refused') &&
        error.line ===
          "quality gate: refusing m@2 on target 'mem': validation.accuracy 0.7 of m@2 is worse than 0.8 of m@1 (deployment 1), deployed now; --force deploys it anyway",
    );
    assert.equal((await listDeployments(options.db)).length, 1, 'a refused model is not recorded');

    const broken = await deployModel(options, { candidate: candidate(3, 0.9, '/broken'), gate, cause: 'ci' });
    assert.equal(broken.outcome.ok, false);
    assert.equal(broken.deployment.status, 'failed');
    assert.equal(broken.deployment.message, 'smoke: no score');
    assert.equal(broken.deployment.cause, 'ci');
    assert.equal(target.serving?.deploymentId, 1);
    assert.equal((await getDeployment(options.db, 1)).status, 'active');

    const forced = await deployModel(options, { candidate: candidate(2, 0.7), gate, force: true });
    assert.equal(forced.deployment.status, 'active');
    assert.equal(forced.replaced?.id, 1);
    assert.equal((forced.gate as { passed: boolean; forced: boolean }).passed, false);
    assert.equal((forced.gate as { forced: boolean }).forced, true);

    // Unknown metric: an error, unless forced (then recorded as skipped).
    const typo = { ...gate, metric: 'acuracy' };
    await assert.rejects(
      deployModel(options, { candidate: candidate(4, 0.9), gate: typo }),
      /no metric 'acuracy'/,
    );
    const skipped = await deployModel(options, { candidate: candidate(4, 0.9), gate: typo, force: true });
    assert.match((skipped.gate as { skipped: string }).skipped, /no metric 'acuracy'/);

    const { status, active } = await targetStatus(options.db, target);
    assert.equal(status.state, 'serving');
    assert.equal(active?.id, skipped.deployment.id);
    assert.deepEqual(status.problems, []);
  });

  it('rolls back like a stack: twice is two steps back, never to and fro', async (t) => {
    const { options } = await setUp(t);
    const gate = { ...DEFAULT_GATE, against_deployed: false };
    for (const v of [1, 2, 3]) await deployModel(options, { candidate: candidate(v, 0.9), gate });
    const versions = async () =>
      (await listDeployments(options.db)).map((d) => `${d.id}:v${d.modelVersion}:${d.status}`);

    const back1 = await rollbackDeployment(options, { locate });
    assert.equal(back1.restored?.id, 2);
    assert.equal(back1.deployment.cause, 'rollback');
    assert.equal(back1.replaced?.id, 3);
    const back2 = await rollbackDeployment(options, { locate, cause: 'v2 is bad too' });
    assert.equal(back2.restored?.id, 1);
    assert.equal(back2.deployment.cause, 'v2 is bad too');
    await assert.rejects(rollbackDeployment(options, { locate }), (error) =>
      isDeployError(error, 'nothing-deployed'),
    );
    assert.deepEqual(await versions(), [
      '5:v1:active',
      '4:v2:rolled-back',
      '3:v3:rolled-back',
      '2:v2:superseded',
      '1:v1:superseded',
    ]);

    // Deployed onto a stopped target, a deployment still rolls back to what served last.
    await stopTarget(options);
    assert.equal((await getDeployment(options.db, 5)).status, 'stopped');
    await deployModel(options, { candidate: candidate(4, 0.9), gate });
    const back3 = await rollbackDeployment(options, { locate });
    assert.equal(back3.restored?.id, 5);
    assert.equal(back3.deployment.modelVersion, 1);
  });

  it('marks a deployment left deploying by a process that died as failed', async (t) => {
    const { options } = await setUp(t);
    const orphan = await startDeployment(options.db, {
      target: 'mem',
      modelName: 'm',
      modelDigest: sha256('x'),
      location: '/x',
      cause: 'manual',
    });
    await deployModel(options, { candidate: candidate(1, 0.9), gate: DEFAULT_GATE });
    const after = await getDeployment(options.db, orphan.id);
    assert.equal(after.status, 'failed');
    assert.match(after.message!, /^interrupted/);
  });
});
