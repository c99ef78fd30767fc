/**
 * The Deployments page in headless Chromium, over a real SQLite metadata store holding the
 * chain as the control plane and `ledge deploy` record it: a GitHub push and a saved
 * params.yaml → control runs → pipeline runs → train stages → model versions → deployments on
 * two targets (one serving, one superseded, one failed, one stopped), and a run the quality gate
 * refused. The checks are what a person reads: which version serves, the history under it, the
 * chain from the change to the target with working links, and why a deployment failed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { type RunningUi, startUi } from '../../src/ui/ui-server.js';
import { escapeRegExp, launchChromium, openPage, problemsOf, rows, textOf } from './browser-page.js';
import {
  FAILED_REASON,
  GATE_REASON,
  PUSHED_COMMIT,
  SCRIPT_CAUSE,
  type SeededDeployments,
  type SeededRecords,
  seedDeployments,
  seedRecords,
} from './seed.js';

interface Context {
  dir: string;
  metadata: MetadataStore;
  seeded: SeededRecords;
  deployments: SeededDeployments;
  ui: RunningUi;
  browser: Browser;
}

let ctx: Context;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-ui-deployments-'));
  const metadata = await MetadataStore.open(path.join(dir, 'metadata.db'));
  const seeded = await seedRecords(metadata);
  const deployments = await seedDeployments(metadata, seeded);
  const ui = await startUi({ port: 0, metadata, readLog: (digest) => seeded.logs.get(digest) });
  const browser = await launchChromium();
  ctx = { dir, metadata, seeded, deployments, ui, browser };
});

after(async () => {
  if (!ctx) return;
  await ctx.browser.close();
  await ctx.ui.close();
  await ctx.metadata.close();
  fs.rmSync(ctx.dir, { recursive: true, force: true });
});

function open(route: string): Promise<Page> {
  return openPage(ctx.browser, ctx.ui.url, route);
}

/** The text of each step of the chain, in order. */
async function chainSteps(page: Page): Promise<string[]> {
  const chain = page.getByRole('list', { name: 'From the change to the target' });
  await chain.waitFor();
  return (await chain.locator('li').allInnerTexts()).map((text) => text.replace(/\s+/g, ' ').trim());
}

describe('deployments in a browser', () => {
  it('shows per target what serves now, the history under it, and what the gate refused', async () => {
    const page = await open('deployments');
    try {
      const d = ctx.deployments;
      const local = page.locator('section.target[data-target="local"]');
      await local.getByRole('heading', { name: 'Target local (local)' }).waitFor();
      assert.match(
        await textOf(local.locator('p.serving-now')),
        new RegExp(
          `^Serving now: imdb-sentiment@2 since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC at http://127\\.0\\.0\\.1:8080 \\(deployment ${d.serving}\\)$`,
        ),
      );
      const history = await rows(local.locator('table.deployments'));
      assert.equal(history.length, 3, history.join('\n'));
      assert.match(
        history[0]!,
        new RegExp(
          `^${d.failed} \\| imdb-sentiment@1 \\| sha256:\\w{12} \\| failed \\| .* \\| ${escapeRegExp(SCRIPT_CAUSE)} \\| ` +
            `webhook github, delivery d-101, commit ${PUSHED_COMMIT.slice(0, 12)} → run ${ctx.seeded.runs[0]} \\| ${escapeRegExp(FAILED_REASON)}$`,
        ),
      );
      assert.match(
        history[1]!,
        new RegExp(
          `^${d.serving} \\| imdb-sentiment@2 \\| sha256:\\w{12} \\| active \\| .* \\| the example pipeline's deploy stage \\| changed params.yaml → run ${ctx.seeded.runs[1]} \\|$`,
        ),
      );
      assert.match(
        history[2]!,
        new RegExp(`^${d.superseded} \\| .* \\| superseded \\| .* \\| replaced by deployment ${d.serving}$`),
      );
      // The serving row is the highlighted one.
      assert.equal(
        await textOf(local.locator('table.deployments tbody tr.serving td').first()),
        String(d.serving),
      );
      // The other target: nothing serves; the last deployment was stopped.
      const edge = page.locator('section.target[data-target="edge"]');
      assert.match(
        await textOf(edge.locator('p.serving-none')),
        new RegExp(
          `^Nothing serving: the last, deployment ${d.stopped} \\(imdb-sentiment \\(sha256:\\w{12}\\)\\), is stopped since .* UTC\\.$`,
        ),
      );
      // What the quality gate refused, with its reason and the change behind it.
      const refused = await rows(page.locator('table.refusals'));
      assert.deepEqual(
        refused.map((row) => row.split(' | ').filter((_, i) => i !== 1)),
        [[`run ${d.gatedRun}`, 'schedule nightly', GATE_REASON]],
      );
      assert.equal(await page.locator('#view script, #view img').count(), 0);
      assert.equal(await page.evaluate('typeof window.__xss'), 'undefined');
      assert.deepEqual(problemsOf(page), []);
    } finally {
      await page.close();
    }
  });

  it('shows the chain from a saved params.yaml to the version serving, with working links', async () => {
    const page = await open('deployments');
    try {
      const d = ctx.deployments;
      const [, run2] = ctx.seeded.runs;
      const [, stage2] = ctx.seeded.stages;
      await page.getByRole('link', { name: String(d.serving), exact: true }).click();
      await page
        .getByRole('heading', { name: `Deployment ${d.serving}: imdb-sentiment@2 on local` })
        .waitFor();
      assert.equal(await page.evaluate('location.hash'), `#/deployments/${d.serving}`);
      const steps = await chainSteps(page);
      assert.equal(steps.length, 7, steps.join('\n'));
      assert.equal(steps[0], 'Change params.yaml changed (at 2026-11-27 09:30:00 UTC)');
      assert.match(
        steps[1]!,
        new RegExp(`^Control run ${d.controlRuns[1]} succeeded requested .* UTC, whole pipeline$`),
      );
      assert.match(steps[2]!, new RegExp(`^Pipeline run ${run2} \\(succeeded, started .* UTC, took .*\\)$`));
      assert.equal(steps[3], `Stage train (execution ${stage2}) wrote the model`);
      assert.match(
        steps[4]!,
        /^Model version imdb-sentiment@2 registered .* UTC, accuracy=0.9, aliases staging$/,
      );
      assert.match(
        steps[5]!,
        new RegExp(
          `^Deployment ${d.serving} to local, started .* UTC \\(cause: the example pipeline's deploy stage\\); quality gate passed: accuracy 0.8 passes the minimum 0.75$`,
        ),
      );
      assert.match(
        steps[6]!,
        /^Serving on local at http:\/\/127\.0\.0\.1:8080 since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\.$/,
      );
      assert.deepEqual(
        (await rows(page.locator('table.steps'))).map((row) => row.split(' | ').slice(0, 2).join(' ')),
        ['start ok', 'ready ok', 'smoke ok', 'switch ok'],
      );
      assert.match(
        (await rows(page.locator('table.followers')))[0]!,
        new RegExp(`^${d.failed} \\| imdb-sentiment@1 \\| failed \\|`),
      );

      // The pipeline run's link opens the run; the model's opens the models page at that version.
      await page
        .locator('li.chain-pipeline')
        .getByRole('link', { name: String(run2) })
        .click();
      await page.getByRole('heading', { name: `Run ${run2}: ledge.yaml` }).waitFor();
      await page.goBack();
      await page.locator('li.chain-model').getByRole('link', { name: 'imdb-sentiment@2' }).click();
      await page.getByRole('heading', { name: 'imdb-sentiment', level: 3 }).waitFor();
      assert.equal(await textOf(page.locator('table.versions tr.selected td').first()), '2');
      assert.equal(await textOf(page.locator('nav a[aria-current="page"]')), 'Models');
      assert.deepEqual(problemsOf(page), []);
    } finally {
      await page.close();
    }
  });

  it('says why a deployment failed and what kept serving; a push and a bundle found by digest', async () => {
    const d = ctx.deployments;
    const page = await open(`deployments/${d.failed}`);
    try {
      const steps = await chainSteps(page);
      assert.equal(
        steps[0],
        `Change push ${PUSHED_COMMIT.slice(0, 12)} to main (GitHub webhook, delivery d-101) (at 2026-11-27 09:00:00 UTC)`,
      );
      assert.equal(
        steps.at(-1),
        `Failed ${FAILED_REASON} imdb-sentiment@2 (deployment ${d.serving}) kept serving.`,
      );
      assert.match(
        await textOf(
          page.locator('dl.facts dt', { hasText: /^Cause$/ }).locator('xpath=following-sibling::dd[1]'),
        ),
        new RegExp(`^${escapeRegExp(SCRIPT_CAUSE)}$`),
      );
      assert.deepEqual(await rows(page.locator('table.steps')), [
        `start | failed | 0.3 s | ${FAILED_REASON}`,
      ]);
      assert.equal(await page.locator('#view script, #view img').count(), 0);
      assert.equal(await page.evaluate('typeof window.__xss'), 'undefined');

      // A bundle deployed by path: no model version, its stage found by the model's digest.
      await page.goto(`${ctx.ui.url}#/deployments/${d.stopped}`);
      await page
        .getByRole('heading', { name: new RegExp(`^Deployment ${d.stopped}: imdb-sentiment \\(sha256:`) })
        .waitFor();
      const stopped = await chainSteps(page);
      assert.match(
        stopped.find((s) => s.startsWith('Stage'))!,
        new RegExp(
          `^Stage train \\(execution ${ctx.seeded.stages[0]}\\) wrote the model \\(found by its digest: the newest stage that wrote it\\)$`,
        ),
      );
      assert.match(stopped.find((s) => s.startsWith('Model'))!, /not in the registry/);
      assert.match(
        stopped.at(-1)!,
        /^Stopped served on edge from .* to .* UTC: stopped by `ledge deploy stop`\.$/,
      );

      // An unknown deployment says so.
      await page.goto(`${ctx.ui.url}#/deployments/9999`);
      await page.getByRole('alert').waitFor();
      assert.equal(await textOf(page.getByRole('alert')), 'no deployment with id 9999');
      assert.deepEqual(problemsOf(page), [
        'console: Failed to load resource: the server responded with a status of 404 (Not Found)',
      ]);
    } finally {
      await page.close();
    }
  });
});
