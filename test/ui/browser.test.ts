/**
 * The dashboard end to end in headless Chromium: runs recorded by the real `ledge run` in a
 * temp workspace, models and monitoring history in its metadata database, a fake running
 * server whose snapshot changes, and one that is down. The checks are what a person sees:
 * rows, numbers, headings, badges and the charts' marks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { dashboardServices } from '../../src/cli/commands/ui.js';
import { MetadataStore } from '../../src/metadata/metadata-store.js';
import { Store } from '../../src/store/store.js';
import { Workspace } from '../../src/store/workspace.js';
import { type RunningUi, startUi } from '../../src/ui/ui-server.js';
import {
  escapeRegExp,
  launchChromium,
  openPage,
  problemsOf,
  rows,
  textOf,
  waitUntil,
} from './browser-page.js';
import {
  closedPort,
  type FakeMonitoringServer,
  startFakeMonitoringServer,
} from './fake-monitoring-server.js';
import {
  SCRIPT_CAUSE,
  SCRIPT_LOG,
  SCRIPT_NAME,
  SCRIPT_PARAM,
  type SeededWorkspace,
  seedModels,
  seedMonitoringHistory,
  seedWorkspace,
} from './seed.js';

interface Context {
  workspace: SeededWorkspace;
  store: Store;
  metadata: MetadataStore;
  fake: FakeMonitoringServer;
  downUrl: string;
  ui: RunningUi;
  browser: Browser;
}

let ctx: Context;

before(async () => {
  const workspace = await seedWorkspace();
  const store = new Store(Workspace.find(workspace.root));
  const metadata = await MetadataStore.open(`${workspace.root}/.ledge/state/metadata.db`);
  const outputs = await metadata.eventsOf(workspace.trainStages, 'output');
  const modelDigests = workspace.trainStages.map(
    (id) => outputs.find((o) => o.executionId === id && o.path === 'model')!.digest,
  ) as [string, string];
  await seedModels(metadata, modelDigests, workspace.trainStages);
  await seedMonitoringHistory(metadata);
  // A run named with markup (stage names cannot hold it; a run record can).
  const named = await metadata.startExecution({
    type: 'run',
    name: SCRIPT_NAME,
    cause: 'manual',
    ledgeVersion: '0.1.0',
    params: { note: SCRIPT_PARAM },
  });
  await metadata.finishExecution(named, { status: 'failed', exitCode: 1 });
  const fake = await startFakeMonitoringServer();
  const downUrl = `http://127.0.0.1:${await closedPort()}`;
  const ui = await startUi({
    port: 0,
    metadata,
    servers: [fake.url, downUrl],
    refreshSeconds: 0.5,
    liveTimeoutMs: 500,
    ...(await dashboardServices(store, metadata)),
  });
  const browser = await launchChromium();
  ctx = { workspace, store, metadata, fake, downUrl, ui, browser };
});

after(async () => {
  if (!ctx) return;
  await ctx.browser.close();
  await ctx.ui.close();
  await ctx.fake.close();
  await ctx.metadata.close();
  ctx.store.close();
  ctx.workspace.remove();
});

function open(route: string): Promise<Page> {
  return openPage(ctx.browser, ctx.ui.url, route);
}

describe('the dashboard in a browser', () => {
  it('lists the runs, filters them, and reports a bad filter', async () => {
    const page = await open('runs');
    try {
      const [run1, run2] = ctx.workspace.runs;
      await page.getByRole('heading', { name: 'Runs', level: 2 }).waitFor();
      const table = page.locator('table.runs');
      await table.waitFor();
      const listed = await rows(page.locator('table.runs'));
      assert.equal(listed.length, 3, listed.join('\n'));
      // `ledge ui` alone queues nothing: no run queue, no Run pipeline button (ledge server has them).
      assert.equal(await page.getByRole('heading', { name: 'Run queue' }).count(), 0);
      assert.equal(await page.getByRole('button', { name: 'Run pipeline' }).count(), 0);
      assert.match(
        listed[1]!,
        new RegExp(`^\\| ${run2} \\| Run \\| ledge.yaml \\| succeeded \\| .* \\| accuracy=0.9 loss=0.2 \\|`),
      );
      assert.match(
        listed[2]!,
        new RegExp(
          `^\\| ${run1} \\| Run \\| ledge.yaml \\| succeeded \\| .* \\| accuracy=0.8 loss=0.333333 \\| manual$`,
        ),
      );

      await page.getByRole('searchbox', { name: 'Filter' }).fill('params.train.epochs = 5');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForFunction('location.hash.includes("where=")');
      await page.locator('table.runs caption', { hasText: 'matching params.train.epochs = 5' }).waitFor();
      const matching = await rows(page.locator('table.runs'));
      assert.equal(matching.length, 1);
      assert.match(matching[0]!, new RegExp(`^\\| ${run2} \\|`));

      await page.getByLabel('Show').selectOption('stage');
      await page.getByRole('searchbox', { name: 'Filter' }).fill('stage = train');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.locator('table.runs caption', { hasText: 'matching stage = train' }).waitFor();
      assert.deepEqual(
        (await rows(page.locator('table.runs'))).map((row) => /^\| (\d+) \|/.exec(row)?.[1]),
        [...ctx.workspace.trainStages].reverse().map(String),
      );

      await page.getByRole('searchbox', { name: 'Filter' }).fill('metrics.accuracy >');
      await page.getByRole('button', { name: 'Apply' }).click();
      const error = page.getByRole('alert');
      await error.waitFor();
      assert.match(await textOf(error), /expected a value after '>' at column 19/);
      // The one failed request is the bad filter's 400.
      assert.deepEqual(problemsOf(page), [
        'console: Failed to load resource: the server responded with a status of 400 (Bad Request)',
      ]);
    } finally {
      await page.close();
    }
  });

  it("shows a run's params, metrics, stages, artifacts with digests, and logs", async () => {
    const page = await open('runs');
    try {
      const [, run2] = ctx.workspace.runs;
      await page.getByRole('link', { name: String(run2), exact: true }).click();
      await page.getByRole('heading', { name: `Run ${run2}: ledge.yaml` }).waitFor();
      assert.equal(await page.evaluate('location.hash'), `#/runs/${run2}`);
      const sections = page.locator('table.values');
      assert.deepEqual(await rows(page.locator('table.values').nth(0)), [
        'train.epochs | 5',
        `train.note | ${SCRIPT_PARAM}`,
      ]);
      assert.deepEqual(await rows(page.locator('table.values').nth(1)), ['accuracy | 0.9', 'loss | 0.2']);
      assert.equal(await sections.count(), 2);
      const stages = await rows(
        page.locator('table', { has: page.locator('caption', { hasText: 'Stage executions' }) }),
      );
      assert.deepEqual(
        stages.map((row) => row.split(' | ').slice(0, 4).join(' | ')),
        [`${ctx.workspace.trainStages[1]} | train | succeeded | 0`],
      );
      // Only the train stage ran; its input, outputs and log, with the digests ledge recorded.
      const outputs = await ctx.metadata.eventsOf([ctx.workspace.trainStages[1]], 'output');
      const model = outputs.find((o) => o.path === 'model')!;
      const artifacts = await rows(page.locator('table.artifacts'));
      assert.ok(
        artifacts.includes(`train | output | model | dir | ${model.size} B | ${model.digest.slice(0, 19)}`),
        artifacts.join('\n'),
      );
      assert.equal(await page.locator(`table.artifacts code[title="${model.digest}"]`).count(), 1);
      assert.match(
        await textOf(
          page.locator('dl.facts dt', { hasText: /^Cause$/ }).locator('xpath=following-sibling::dd[1]'),
        ),
        new RegExp(`^${escapeRegExp(SCRIPT_CAUSE)}$`),
      );
      const log = page.locator('section.log pre');
      assert.equal(await log.count(), 1);
      assert.match(await textOf(log), new RegExp(escapeRegExp(SCRIPT_LOG)));
      assert.match(await textOf(page.locator('section.log h4')), /^train \(execution \d+, succeeded\)$/);
      assert.deepEqual(problemsOf(page), []);
    } finally {
      await page.close();
    }
  });

  it('compares the two runs selected in the list', async () => {
    const page = await open('runs');
    try {
      const [run1, run2] = ctx.workspace.runs;
      const compare = page.getByRole('button', { name: 'Compare selected' });
      await page.getByLabel(`Select run ${run1}`).check();
      assert.equal(await compare.isDisabled(), true);
      await page.getByLabel(`Select run ${run2}`).check();
      await compare.click();
      await page.getByRole('heading', { name: `Compare run ${run1} and ${run2}` }).waitFor();
      assert.equal(await page.evaluate('location.hash'), `#/compare/${run1}/${run2}`);
      const diffs = page.locator('table.diff');
      assert.deepEqual(await rows(page.locator('table.diff').nth(0)), ['train.epochs | 3 | 5 | +2']);
      assert.deepEqual(await rows(page.locator('table.diff').nth(1)), [
        'accuracy | 0.8 | 0.9 | +0.1',
        'loss | 0.333333 | 0.2 | -0.133333',
      ]);
      const artifacts = await rows(page.locator('table.diff').nth(2));
      assert.ok(
        artifacts.some((row) =>
          /^output \| train:model \| sha256:\w{12} \| sha256:\w{12} \| changed$/.test(row),
        ),
        artifacts.join('\n'),
      );
      assert.ok(
        artifacts.some((row) => row.startsWith('input | train:prepared')) === false,
        'unchanged inputs are hidden',
      );
      await page.getByLabel('Show unchanged values too').check();
      await page.waitForFunction('location.hash.endsWith("?all=1")');
      await page.locator('table.diff tr.change-unchanged').first().waitFor();
      assert.ok(
        (await rows(page.locator('table.diff').nth(0))).includes(
          `train.note | ${SCRIPT_PARAM} | ${SCRIPT_PARAM} | unchanged`,
        ),
      );
      assert.equal(await diffs.count(), 3);
      assert.deepEqual(problemsOf(page), []);
    } finally {
      await page.close();
    }
  });

  it('lists model versions with their aliases and digests', async () => {
    const page = await open('models');
    try {
      await page.getByRole('heading', { name: 'imdb-sentiment', level: 3 }).waitFor();
      const aliases = await textOf(page.locator('p.aliases'));
      assert.equal(aliases, 'Aliases: imdb-sentiment@production → 1, imdb-sentiment@staging → 2; latest → 2');
      const versions = await rows(page.locator('table.versions'));
      assert.equal(versions.length, 2);
      const [stage1, stage2] = ctx.workspace.trainStages;
      assert.match(
        versions[0]!,
        new RegExp(
          `^2 \\| staging \\| bundle \\| 2.0 KiB \\| sha256:\\w{12} \\| .* \\| accuracy=0.9 \\| execution ${stage2}$`,
        ),
      );
      assert.match(
        versions[1]!,
        new RegExp(
          `^1 \\| production \\| bundle \\| 2.0 KiB \\| sha256:\\w{12} \\| .* \\| accuracy=0.8 \\| execution ${stage1}$`,
        ),
      );
      await page.getByRole('link', { name: `execution ${stage1}` }).click();
      await page.getByRole('heading', { name: `Stage ${stage1}: train` }).waitFor();
      assert.deepEqual(problemsOf(page), []);
    } finally {
      await page.close();
    }
  });

  it('says that no deployments are recorded (test/ui/deployments-browser.test.ts shows some)', async () => {
    const page = await open('deployments');
    try {
      await page.getByText('No deployments recorded.').waitFor();
      assert.equal(await page.locator('section.refusals').count(), 0);
      assert.equal(await page.getByRole('heading', { name: 'Deployments', level: 2 }).count(), 1);
      assert.equal(await textOf(page.locator('nav a[aria-current="page"]')), 'Deployments');
      assert.deepEqual(problemsOf(page), []);
    } finally {
      await page.close();
    }
  });

  it('shows markup in names, params, causes and logs as text, never running it', async () => {
    const page = await open('runs?type=all');
    try {
      await page.locator('table.runs').waitFor();
      const named = page.locator('table.runs tbody tr').first();
      assert.equal(await textOf(named.locator('td').nth(3)), SCRIPT_NAME);
      await named.getByRole('link', { name: SCRIPT_NAME }).click();
      await page.getByRole('heading', { name: `: ${SCRIPT_NAME}` }).waitFor();
      assert.deepEqual(await rows(page.locator('table.values').nth(0)), [`note | ${SCRIPT_PARAM}`]);
      await page.goto(`${ctx.ui.url}#/runs/${ctx.workspace.trainStages[1]}`);
      await page.locator('section.log pre').waitFor();
      assert.match(await textOf(page.locator('section.log pre')), new RegExp(escapeRegExp(SCRIPT_LOG)));
      // Nothing ran: no script or img element came from the records, no global was set.
      assert.equal(await page.locator('#view script, #view img').count(), 0);
      assert.equal(await page.evaluate('typeof window.__xss'), 'undefined');
      assert.deepEqual(problemsOf(page), []);
    } finally {
      await page.close();
    }
  });

  it('draws live monitoring that updates, raises the drift alert, and shows a server that is down', async () => {
    ctx.fake.drifting = false;
    const page = await open('monitoring');
    try {
      const server = page.locator(`article[data-server="${ctx.fake.url}"]`);
      await server.getByRole('heading', { name: `Server ${ctx.fake.url}` }).waitFor();
      const model = server.locator('section.live-model[data-model="imdb-sentiment@2"]');
      await model.waitFor();
      const throughput = model.locator('dd.throughput');
      const first = await textOf(throughput);
      assert.match(first, /^\d+ req\/s$/);
      // Every refresh asks the server again; its throughput goes up by one each time.
      await waitUntil(async () => (await textOf(throughput)) !== first, 'the throughput to change');
      assert.ok(Number.parseInt(await textOf(throughput), 10) > Number.parseInt(first, 10));
      assert.equal(await textOf(model.locator('dd.p95')), '6.4 ms');
      assert.equal(await textOf(model.locator('dd.accuracy')), '90% (120 labelled)');
      // The charts: a line per series, a bar per score bucket with the reference outline,
      // a bar and a threshold line per drift value.
      assert.equal(await model.locator('.chart-throughput svg polyline.line').count(), 1);
      assert.equal(await model.locator('.chart-latency svg polyline.line').count(), 3);
      assert.match(await textOf(model.locator('.chart-latency figcaption')), /p50 .* ms p95 .* ms p99 .* ms/);
      assert.equal(await model.locator('.chart-scores svg rect.bar').count(), 10);
      assert.equal(await model.locator('.chart-scores svg polyline.reference').count(), 1);
      assert.equal(await model.locator('.chart-drift svg g.drift-row').count(), 6);
      assert.equal(await model.locator('.chart-drift svg line.threshold').count(), 6);
      assert.equal(await textOf(model.locator('.badge-ok')), 'No drift alert');
      assert.equal(await model.locator('.chart-drift g.drift-row.alert').count(), 0);

      ctx.fake.drifting = true;
      const badge = model.locator('.badge-alert');
      await badge.waitFor();
      assert.equal(await textOf(badge), 'Drift alert');
      assert.equal(await model.locator('.chart-drift g.drift-row.alert[data-feature="oov_rate"]').count(), 2);
      assert.match(
        await textOf(model.locator('.chart-drift figcaption')),
        /Over the threshold .*oov_rate psi 0\.46, oov_rate ks 0\.31/,
      );

      const down = page.locator(`article[data-server="${ctx.downUrl}"]`);
      await down.getByRole('heading', { name: `Server ${ctx.downUrl}` }).waitFor();
      assert.match(
        await textOf(down.locator('.server-error')),
        /^Cannot read this server: unreachable: .*ECONNREFUSED/,
      );

      // History from the metadata database: windows (the last one drifting) and events.
      const windows = await rows(page.locator('table.windows'));
      assert.equal(windows.length, 3);
      assert.match(
        windows[0]!,
        /\| 420 \| 2 \| 42 req\/s \| 4 ms \| 9 ms \| 14 ms \| 80% \(102\) \| alert: oov_rate psi 0\.52, oov_rate ks 0\.33$/,
      );
      assert.match(windows[2]!, /\| 40 req\/s .*\| ok$/);
      assert.equal(await page.locator('.history-group .chart-history-latency svg polyline.line').count(), 3);
      const events = await rows(page.locator('table.events'));
      assert.deepEqual(
        events.map((row) => row.split(' | ').slice(1).join(' | ')),
        [
          'edge-1:4242 | drift-alert-fired | imdb-sentiment@2 | drift alert: oov_rate psi 0.52 > 0.2',
          'edge-1:4242 | model-loaded | imdb-sentiment@2 | loaded imdb-sentiment@2 in 0.12 s',
        ],
      );

      // Leaving the page stops the refreshing.
      await page.getByRole('link', { name: 'Runs' }).click();
      await page.locator('table.runs').waitFor();
      const asked = ctx.fake.requests;
      await page.waitForTimeout(1200);
      assert.equal(ctx.fake.requests, asked);
      assert.deepEqual(problemsOf(page), []);
    } finally {
      await page.close();
    }
  });
});
