/**
 * Deployments: per target, what serves now (highlighted) and the history under it, then the
 * pipeline runs the quality gate stopped; and one deployment with the chain that led to it,
 * from the change (a saved file, a push, a schedule, a person) through the control run, the
 * pipeline run and the stage that wrote the model, to the model version and the target.
 */
import type {
  ChainControlRun,
  ChainExecution,
  DeploymentDetail,
  DeploymentRef,
  DeploymentSummary,
  GateRefusal,
} from '../../api-types.js';
import { getJson } from '../api-client.js';
import { causeSentence, causesLine } from '../causes.js';
import { dataTable, emptyState, errorBox, facts, link, pageHeading, statusBadge } from '../components.js';
import { type Child, type Elem, h } from '../dom.js';
import { duration, formatTime, headlineMetrics, shortDigest } from '../format.js';
import type { Route } from '../route.js';

const modelHref = (name: string, version: number) =>
  `#/models?model=${encodeURIComponent(name)}&version=${version}`;

function modelLink(d: DeploymentSummary): Child {
  return d.modelVersion === null ? d.label : link(modelHref(d.modelName, d.modelVersion), d.label);
}

function digestCode(digest: string): Elem {
  return h('code', { title: digest, class: 'digest' }, shortDigest(digest));
}

/** Where a deployment came from, in a table cell: the change and the pipeline run. */
function originCell(d: DeploymentSummary): Child {
  const { controlRun, pipelineRun } = d.chain;
  if (!pipelineRun)
    return d.chain.producedBy ? link(`#/runs/${d.chain.producedBy.id}`, 'a stage') : 'by hand';
  return [
    controlRun ? `${causesLine(controlRun.causes)} → ` : '',
    link(`#/runs/${pipelineRun.id}`, `run ${pipelineRun.id}`),
  ];
}

/** One line on what serves on a target now. */
function servingNow(target: string, deployments: DeploymentSummary[]): Elem {
  const active = deployments.find((d) => d.status === 'active');
  if (active) {
    return h(
      'p',
      { class: 'serving-now', 'data-target': target },
      h('strong', {}, 'Serving now: '),
      modelLink(active),
      ` since ${formatTime(active.activatedAt ?? active.startedAt)} UTC`,
      active.url ? [' at ', h('code', {}, active.url)] : '',
      ' (',
      link(`#/deployments/${active.id}`, `deployment ${active.id}`),
      ')',
    );
  }
  const deploying = deployments.find((d) => d.status === 'deploying');
  const last = deployments.find((d) => d.status !== 'failed' && d.status !== 'deploying');
  return h(
    'p',
    { class: 'serving-none', 'data-target': target },
    h('strong', {}, 'Nothing serving'),
    deploying
      ? [': ', link(`#/deployments/${deploying.id}`, `deployment ${deploying.id}`), ' is deploying']
      : '',
    !deploying && last
      ? [
          ': the last, ',
          link(`#/deployments/${last.id}`, `deployment ${last.id}`),
          ` (${last.label}), is ${last.status}${last.endedAt ? ` since ${formatTime(last.endedAt)} UTC` : ''}`,
        ]
      : '',
    '.',
  );
}

function targetSection(target: string, deployments: DeploymentSummary[]): Elem {
  const headingId = `target-${target.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const kind = deployments.find((d) => d.kind !== null)?.kind;
  return h(
    'section',
    { class: 'target', 'aria-labelledby': headingId, 'data-target': target },
    h('h3', { id: headingId }, `Target ${target}`, kind ? h('span', { class: 'help' }, ` (${kind})`) : ''),
    servingNow(target, deployments),
    dataTable({
      caption: `Deployments to ${target}, newest first`,
      headers: [
        'ID',
        'Model',
        'Digest',
        'Status',
        'Started (UTC)',
        'Ended (UTC)',
        'Cause',
        'From',
        'Message',
      ],
      rows: deployments.map((d) => [
        link(`#/deployments/${d.id}`, String(d.id)),
        modelLink(d),
        digestCode(d.digest),
        statusBadge(d.status),
        formatTime(d.startedAt),
        formatTime(d.endedAt),
        d.cause,
        originCell(d),
        d.message ?? '',
      ]),
      numeric: [0],
      className: 'data deployments',
      rowClass: (i) => (deployments[i]!.status === 'active' ? 'serving' : undefined),
    }),
  );
}

function refusalsSection(refusals: GateRefusal[]): Elem | string {
  if (refusals.length === 0) return '';
  return h(
    'section',
    { class: 'refusals', 'aria-labelledby': 'refusals-heading' },
    h('h3', { id: 'refusals-heading' }, 'Refused by the quality gate'),
    h(
      'p',
      { class: 'help' },
      'Pipeline runs whose deploy stage the quality gate refused: nothing was deployed and what served before serves on.',
    ),
    dataTable({
      caption: 'Gated pipeline runs, newest first',
      headers: ['Pipeline run', 'Ended (UTC)', 'Cause', 'Reason'],
      rows: refusals.map((r) => [
        link(`#/runs/${r.pipelineRun.id}`, `run ${r.pipelineRun.id}`),
        formatTime(r.pipelineRun.endedAt),
        r.controlRun ? causesLine(r.controlRun.causes) : r.pipelineRun.cause,
        r.reason,
      ]),
      className: 'data refusals',
    }),
  );
}

/** `#/deployments` */
export async function deploymentsPage(view: Elem): Promise<void> {
  view.replaceChildren(pageHeading('Deployments'), h('p', { class: 'loading' }, 'Loading…'));
  let deployments: DeploymentSummary[];
  let refusals: GateRefusal[];
  try {
    [deployments, refusals] = await Promise.all([
      getJson<DeploymentSummary[]>('deployments', { limit: '500' }),
      getJson<GateRefusal[]>('deployments/refused', { limit: '20' }),
    ]);
  } catch (error) {
    view.replaceChildren(pageHeading('Deployments'), errorBox((error as Error).message));
    return;
  }
  // Targets in the order of their newest deployment.
  const byTarget = new Map<string, DeploymentSummary[]>();
  for (const d of deployments) byTarget.set(d.target, [...(byTarget.get(d.target) ?? []), d]);
  view.replaceChildren(
    pageHeading('Deployments'),
    deployments.length === 0
      ? emptyState(
          'No deployments recorded.',
          h(
            'p',
            {},
            '`ledge deploy MODEL` puts a model version on a target; every deployment, and how it ended, is listed here.',
          ),
        )
      : h('div', {}, ...[...byTarget].map(([target, list]) => targetSection(target, list))),
    refusalsSection(refusals),
  );
}

function executionText(e: ChainExecution): string {
  return `${e.status}, started ${formatTime(e.startedAt)} UTC${e.endedAt ? `, took ${duration(e.startedAt, e.endedAt)}` : ''}`;
}

/** One link of the chain: what it is (a heading-like label) and what happened. */
function step(kind: string, label: string, ...body: Child[]): Elem {
  return h('li', { class: `chain-${kind}` }, h('strong', { class: 'chain-label' }, label), ' ', ...body);
}

function causeStep(control: ChainControlRun | null, run: ChainExecution | null, d: DeploymentDetail): Elem {
  if (control) {
    const sentences = control.causes.map(causeSentence);
    const first = control.causes[0];
    return step(
      'cause',
      'Change',
      sentences.length === 0 ? 'not recorded' : sentences.join('; '),
      first ? ` (at ${formatTime(first.at)} UTC)` : '',
    );
  }
  if (run)
    return step('cause', 'Change', `pipeline run started outside the control plane (cause: ${run.cause})`);
  return step('cause', 'Change', `deployed by hand with ledge deploy (cause: ${d.cause})`);
}

function controlStep(control: ChainControlRun): Elem {
  return step(
    'control',
    `Control run ${control.id}`,
    statusBadge(control.status),
    ` requested ${formatTime(control.requestedAt)} UTC, ${control.stages.length === 0 ? 'whole pipeline' : `stages ${control.stages.join(', ')}`}`,
    control.reason ? `: ${control.reason}` : '',
  );
}

/** Text ending with one full stop. */
const sentence = (text: string) => (/[.!?]$/.test(text) ? text : `${text}.`);

function outcomeStep(d: DeploymentDetail): Elem {
  const kept: Child = d.previous
    ? [
        ' ',
        link(`#/deployments/${d.previous.id}`, `${d.previous.label} (deployment ${d.previous.id})`),
        ' kept serving.',
      ]
    : ' Nothing was serving before it.';
  switch (d.status) {
    case 'active':
      return step(
        'outcome',
        'Serving',
        `on ${d.target}${d.url ? ` at ${d.url}` : ''} since ${formatTime(d.activatedAt ?? d.startedAt)} UTC.`,
      );
    case 'deploying':
      return step('outcome chain-ended', 'Deploying', `to ${d.target} since ${formatTime(d.startedAt)} UTC.`);
    case 'failed':
      return step('outcome chain-failed', 'Failed', sentence(d.message ?? 'no reason recorded'), kept);
    default:
      return step(
        'outcome chain-ended',
        d.status === 'rolled-back' ? 'Rolled back' : d.status === 'stopped' ? 'Stopped' : 'Superseded',
        `served on ${d.target} from ${formatTime(d.activatedAt ?? d.startedAt)} to ${formatTime(d.endedAt)} UTC`,
        d.message ? `: ${sentence(d.message)}` : '.',
      );
  }
}

function gateText(gate: DeploymentDetail['gate']): string {
  if (!gate) return 'no quality gate';
  const verdict =
    gate.passed === null ? 'quality gate' : gate.passed ? 'quality gate passed' : 'quality gate refused';
  return `${verdict}${gate.forced ? ' (forced)' : ''}${gate.message ? `: ${gate.message}` : ''}`;
}

function chainList(d: DeploymentDetail): Elem {
  const { controlRun, pipelineRun, producedBy, producedByFrom, modelVersion } = d.chain;
  const items: Elem[] = [causeStep(controlRun, pipelineRun, d)];
  if (controlRun) items.push(controlStep(controlRun));
  if (pipelineRun) {
    items.push(
      step(
        'pipeline',
        'Pipeline run',
        link(`#/runs/${pipelineRun.id}`, String(pipelineRun.id)),
        ` (${executionText(pipelineRun)}${pipelineRun.gitCommit ? `, commit ${pipelineRun.gitCommit.slice(0, 12)}` : ''})`,
      ),
    );
  }
  if (producedBy) {
    items.push(
      step(
        'stage',
        'Stage',
        link(`#/runs/${producedBy.id}`, `${producedBy.name} (execution ${producedBy.id})`),
        ` ${producedBy.restoredFrom === null ? 'wrote the model' : `restored the model from execution ${producedBy.restoredFrom} (run-cache)`}`,
        producedByFrom === 'lineage' ? ' (found by its digest: the newest stage that wrote it)' : '',
      ),
    );
  }
  items.push(
    modelVersion
      ? step(
          'model',
          'Model version',
          link(
            modelHref(modelVersion.name, modelVersion.version),
            `${modelVersion.name}@${modelVersion.version}`,
          ),
          ` registered ${formatTime(modelVersion.createdAt)} UTC`,
          headlineMetrics(modelVersion.metrics) ? `, ${headlineMetrics(modelVersion.metrics)}` : '',
          modelVersion.aliases.length > 0 ? `, aliases ${modelVersion.aliases.join(', ')}` : '',
        )
      : step('model', 'Model', `${d.label}, not in the registry (a bundle deployed by path)`),
  );
  items.push(
    step(
      'deployment',
      `Deployment ${d.id}`,
      `to ${d.target}, started ${formatTime(d.startedAt)} UTC (cause: ${d.cause}); ${gateText(d.gate)}`,
      d.restores === null
        ? ''
        : ['; brings back the model of ', link(`#/deployments/${d.restores}`, `deployment ${d.restores}`)],
    ),
    outcomeStep(d),
  );
  return h('ol', { class: 'chain', 'aria-label': 'From the change to the target' }, ...items);
}

function refTable(caption: string, refs: DeploymentRef[]): Elem {
  return dataTable({
    caption,
    headers: ['ID', 'Model', 'Status', 'Started (UTC)', 'Ended (UTC)', 'Message'],
    rows: refs.map((r) => [
      link(`#/deployments/${r.id}`, String(r.id)),
      r.label,
      statusBadge(r.status),
      formatTime(r.startedAt),
      formatTime(r.endedAt),
      r.message ?? '',
    ]),
    numeric: [0],
    className: 'data followers',
  });
}

/** `#/deployments/ID` */
export async function deploymentDetailPage(view: Elem, route: Route): Promise<void> {
  const id = route.path[1] ?? '';
  view.replaceChildren(pageHeading(`Deployment ${id}`), h('p', { class: 'loading' }, 'Loading…'));
  let d: DeploymentDetail;
  try {
    d = await getJson<DeploymentDetail>(`deployments/${encodeURIComponent(id)}`);
  } catch (error) {
    view.replaceChildren(
      pageHeading(`Deployment ${id}`),
      errorBox((error as Error).message),
      link('#/deployments', 'All deployments'),
    );
    return;
  }
  const sections: Elem[] = [
    pageHeading(`Deployment ${d.id}: ${d.label} on ${d.target}`),
    facts([
      ['Status', statusBadge(d.status)],
      ['Target', `${d.target}${d.kind ? ` (${d.kind})` : ''}`],
      ['Model', modelLink(d)],
      ['Digest', digestCode(d.digest)],
      ['Cause', d.cause],
      ['Started (UTC)', formatTime(d.startedAt)],
      ['Serving since (UTC)', d.activatedAt ? formatTime(d.activatedAt) : undefined],
      ['Ended (UTC)', d.endedAt ? formatTime(d.endedAt) : undefined],
      ['Endpoint', d.url ? h('code', {}, d.url) : undefined],
      ['Location', h('code', {}, d.location)],
      ['Message', d.message ?? undefined],
      [
        'Previous',
        d.previous
          ? link(
              `#/deployments/${d.previous.id}`,
              `${d.previous.label} (deployment ${d.previous.id}, ${d.previous.status})`,
            )
          : undefined,
      ],
    ]),
    h('h3', {}, 'From the change to the target'),
    chainList(d),
    h('h3', {}, 'Rollout'),
    d.steps.length === 0
      ? h('p', { class: 'empty' }, 'No rollout steps recorded.')
      : dataTable({
          caption: 'Rollout steps, in order',
          headers: ['Step', 'Result', 'Time', 'Detail'],
          rows: d.steps.map((s) => [
            s.step,
            s.ok ? 'ok' : 'failed',
            `${(s.ms / 1000).toFixed(1)} s`,
            s.detail ?? '',
          ]),
          numeric: [2],
          className: 'data steps',
        }),
  ];
  if (d.pipelineStages.length > 0) {
    sections.push(
      h('h3', {}, `Stages of run ${d.chain.pipelineRun?.id ?? ''}`),
      dataTable({
        caption: 'Stage executions, in the order they started',
        headers: ['ID', 'Stage', 'Status', 'Started (UTC)', 'Duration'],
        rows: d.pipelineStages.map((s) => [
          link(`#/runs/${s.id}`, String(s.id)),
          link(`#/runs/${s.id}`, s.name),
          statusBadge(s.status),
          formatTime(s.startedAt),
          duration(s.startedAt, s.endedAt),
        ]),
        numeric: [0],
        className: 'data chain-stages',
      }),
    );
  }
  if (d.followedBy.length > 0) {
    sections.push(
      h('h3', {}, 'What came next on this target'),
      refTable('Deployments that started from this one', d.followedBy),
    );
  }
  sections.push(h('p', {}, link('#/deployments', 'All deployments')));
  view.replaceChildren(...sections);
}
