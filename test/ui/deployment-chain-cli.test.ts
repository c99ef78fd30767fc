/**
 * The deployment chain over records the real CLI wrote: `ledge trigger` runs a pipeline through
 * the control plane's queue (prepare → train on the bundled IMDB sample → `ledge model register`
 * → `ledge deploy` to the local target), and the dashboard's API follows the deployment back to
 * the control run and its cause. `ledge model register` inside a stage records that stage's
 * execution (LEDGE_EXECUTION_ID, set by `ledge run`) on the model version, and `ledge deploy`
 * carries it to the deployment, so the chain comes from the registry, not from digests.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import type { DeploymentDetail, DeploymentSummary } from '../../src/ui/api-types.js';
import { createUiApp } from '../../src/ui/app.js';
import { LEDGE_BIN, runLedge } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { PREPARE_AND_TRAIN } from '../helpers/imdb-sample-pipeline.js';
import { tempDir, writeTree } from '../helpers/temp-dir.js';

const PIPELINE = `${PREPARE_AND_TRAIN}  register:
    cmd: ledge model register models/imdb-sentiment --name imdb-sentiment --json > registered.json
    deps: [models/imdb-sentiment]
    outs: [registered.json]
  deploy:
    cmd: ledge deploy imdb-sentiment --cause "continuous delivery"
    deps: [registered.json]
`;

describe('the deployment chain over records of the real CLI', () => {
  it('follows a deployment made by a triggered pipeline back to the control run and its cause', async (t) => {
    const port = await freePort();
    // Registered before the workspace: hooks run in order, and the supervisor must stop before
    // its directory is removed.
    let root = '';
    t.after(async () => {
      if (root) await runLedge(['deploy', 'stop'], { cwd: root });
    });
    root = tempDir(t, 'ledge-ui-chain-');
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: root });
    writeTree(root, {
      'ledge.yaml': PIPELINE,
      'params.yaml': 'prepare:\n  seed: 0\ntrain:\n  bits: 16\n  epochs: 1\n',
      '.ledge/deploy.yaml': `targets:\n  local:\n    port: ${port}\n    gate: { metric: accuracy, min: 0.5 }\n`,
    });
    execFileSync(process.execPath, [LEDGE_BIN, 'init'], { cwd: root, stdio: 'ignore' });

    const triggered = await runLedge(['trigger', '--cause', 'from the dashboard test', '--json'], {
      cwd: root,
      t,
    });
    assert.equal(triggered.code, 0, triggered.stderr);
    const run = JSON.parse(triggered.stdout) as { id: number; status: string; pipelineRunId: number };
    assert.equal(run.status, 'succeeded');

    const metadata = await MetadataStore.open(path.join(root, '.ledge', 'state', 'metadata.db'));
    t.after(() => metadata.close());
    const app = createUiApp({ metadata });
    const listed = (await (await app.request('/api/deployments')).json()) as DeploymentSummary[];
    assert.equal(listed.length, 1, JSON.stringify(listed));
    const [deployment] = listed as [DeploymentSummary];
    assert.deepEqual(
      [deployment.label, deployment.status, deployment.cause, deployment.url],
      ['imdb-sentiment@1', 'active', 'continuous delivery', `http://127.0.0.1:${port}`],
    );
    assert.ok(deployment.activatedAt, 'the target reported when it switched');
    const { chain } = deployment;
    assert.equal(chain.controlRun?.id, run.id);
    assert.deepEqual(
      chain.controlRun?.causes.map((c) => [c.kind, c.note]),
      [['manual', 'from the dashboard test']],
    );
    assert.equal(chain.pipelineRun?.id, run.pipelineRunId);
    assert.equal(chain.producedBy?.name, 'register');
    assert.equal(chain.producedByFrom, 'registry');
    assert.equal(deployment.chain.producedBy?.id, chain.producedBy?.id);
    assert.equal(chain.modelVersion?.version, 1);
    assert.equal(chain.modelVersion?.digest, deployment.digest);

    const detail = (await (
      await app.request(`/api/deployments/${deployment.id}`)
    ).json()) as DeploymentDetail;
    assert.deepEqual(
      detail.pipelineStages.map((s) => `${s.name} ${s.status}`),
      ['prepare succeeded', 'train succeeded', 'register succeeded', 'deploy succeeded'],
    );
    assert.equal(detail.gate?.passed, true);
    assert.ok(
      detail.steps.some((s) => s.step === 'switch' && s.ok),
      JSON.stringify(detail.steps),
    );
  });
});
