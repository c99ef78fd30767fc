/**
 * Runs: the list (filtered with the `--where` language), one run in detail (params, metrics,
 * environment, stages, artifacts, logs), and two runs compared.
 */
import type { DiffRow, RunDetail, RunDiff, RunLog, RunSummary } from '../../api-types.js';
import { getJson } from '../api-client.js';
import {
  dataTable,
  emptyState,
  errorBox,
  facts,
  link,
  pageHeading,
  statusBadge,
  valuesTable,
} from '../components.js';
import { control, type Elem, type FormElem, h, win } from '../dom.js';
import {
  duration,
  flatten,
  formatBytes,
  formatChange,
  formatTime,
  formatValue,
  headlineMetrics,
  shortDigest,
} from '../format.js';
import type { Route } from '../route.js';

function runHash(where: string, type: string): string {
  const query = new URLSearchParams();
  if (where) query.set('where', where);
  if (type !== 'run') query.set('type', type);
  const search = query.toString();
  return `#/runs${search ? `?${search}` : ''}`;
}

function kindOf(type: string): string {
  return type === 'run' ? 'Run' : 'Stage';
}

/**
 * `#/runs?where=…&type=run|stage|all`; `queue`: the run queue's panel, under the heading.
 * Resolves, once the list is drawn, to a function that reads and draws the list again.
 */
export async function runsPage(view: Elem, route: Route, queue?: Elem): Promise<() => Promise<void>> {
  const where = route.query.get('where') ?? '';
  const type = route.query.get('type') ?? 'run';
  const form = h(
    'form',
    { role: 'search', class: 'filter', 'aria-label': 'Filter runs' },
    h('label', { for: 'where' }, 'Filter'),
    h('input', {
      id: 'where',
      name: 'where',
      type: 'search',
      value: where,
      placeholder: 'metrics.accuracy > 0.9 or params.train.epochs = 5',
      'aria-describedby': 'where-help',
      spellcheck: 'false',
      autocomplete: 'off',
    }),
    h('label', { for: 'type' }, 'Show'),
    h(
      'select',
      { id: 'type', name: 'type' },
      h('option', { value: 'run', selected: type === 'run' }, 'pipeline runs'),
      h('option', { value: 'stage', selected: type === 'stage' }, 'stage executions'),
      h('option', { value: 'all', selected: type === 'all' }, 'both'),
    ),
    h('button', { type: 'submit' }, 'Apply'),
    h(
      'p',
      { id: 'where-help', class: 'help' },
      'The --where language of ledge runs list: params.KEY, metrics.KEY, status, stage, cause, commit, started, ended; ',
      'operators = != < <= > >= ~ (like); and, or, not, parentheses.',
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = runHash(control(form, '#where').value.trim(), control(form, '#type').value);
    if (win.location.hash === next) void load();
    else win.location.hash = next;
  });
  const compare = h('button', { type: 'button', id: 'compare', disabled: true }, 'Compare selected');
  const compareHelp = h('span', { class: 'help', id: 'compare-help' }, 'Select two rows to compare them.');
  const results = h(
    'div',
    { id: 'runs-results', 'aria-live': 'polite' },
    h('p', { class: 'loading' }, 'Loading…'),
  );
  view.replaceChildren(
    pageHeading('Runs'),
    ...(queue ? [queue] : []),
    form,
    h('div', { class: 'toolbar' }, compare, ' ', compareHelp),
    results,
  );

  // The rows ticked for comparing, kept when the list is drawn again.
  const selected: number[] = [];
  const updateCompare = () => {
    (compare as FormElem).disabled = selected.length !== 2;
    compareHelp.textContent =
      selected.length === 2
        ? `Compare ${selected[0]} with ${selected[1]}.`
        : 'Select two rows to compare them.';
  };
  compare.addEventListener('click', () => {
    if (selected.length !== 2) return;
    const [a, b] = [...selected].sort((x, y) => x - y);
    win.location.hash = `#/compare/${a}/${b}`;
  });
  const load = () => loadRuns(results, selected, updateCompare, where, type);
  await load();
  return load;
}

/** Reads the runs and draws them into `results`, ticking the rows still in `selected`. */
async function loadRuns(
  results: Elem,
  selected: number[],
  updateCompare: () => void,
  where: string,
  type: string,
): Promise<void> {
  let runs: RunSummary[];
  try {
    runs = await getJson<RunSummary[]>('runs', { where, type: type === 'all' ? '' : type, limit: '500' });
  } catch (error) {
    results.replaceChildren(errorBox((error as Error).message));
    return;
  }
  if (runs.length === 0) {
    results.replaceChildren(
      emptyState(
        where ? 'No runs match this filter.' : 'No runs recorded yet.',
        where ? '' : h('p', {}, 'Runs appear here after `ledge run` executes a pipeline.'),
      ),
    );
    return;
  }
  const listed = new Set(runs.map((run) => run.id));
  for (let i = selected.length - 1; i >= 0; i--) if (!listed.has(selected[i]!)) selected.splice(i, 1);
  updateCompare();
  const boxes: FormElem[] = [];
  const rows = runs.map((run) => {
    const box = h('input', {
      type: 'checkbox',
      'aria-label': `Select ${kindOf(run.type).toLowerCase()} ${run.id}`,
      value: run.id,
      checked: selected.includes(run.id),
    }) as FormElem;
    box.addEventListener('change', () => {
      const at = selected.indexOf(run.id);
      if (box.checked && at < 0) selected.push(run.id);
      if (!box.checked && at >= 0) selected.splice(at, 1);
      // At most two: the oldest choice gives way.
      while (selected.length > 2) {
        const dropped = selected.shift();
        const other = boxes.find((b) => Number(b.value) === dropped);
        if (other) other.checked = false;
      }
      updateCompare();
    });
    boxes.push(box);
    return [
      box,
      link(`#/runs/${run.id}`, String(run.id)),
      kindOf(run.type),
      link(`#/runs/${run.id}`, run.name),
      statusBadge(run.status),
      formatTime(run.startedAt),
      duration(run.startedAt, run.endedAt),
      headlineMetrics(run.metrics),
      run.cause,
    ];
  });
  results.replaceChildren(
    dataTable({
      caption: `${runs.length} ${runs.length === 1 ? 'execution' : 'executions'}${where ? ` matching ${where}` : ''}, newest first`,
      headers: ['Select', 'ID', 'Type', 'Name', 'Status', 'Started (UTC)', 'Duration', 'Metrics', 'Cause'],
      rows,
      numeric: [1],
      className: 'data runs',
    }),
  );
}

function artifactsTable(detail: RunDetail): Elem {
  if (detail.artifacts.length === 0) return h('p', { class: 'empty' }, 'No inputs or outputs recorded.');
  return dataTable({
    caption: 'Inputs and outputs',
    headers: ['Stage', 'Kind', 'Path', 'Type', 'Size', 'Digest'],
    rows: detail.artifacts.map((a) => [
      a.executionId === detail.id ? a.stage : link(`#/runs/${a.executionId}`, a.stage),
      a.kind,
      a.path,
      a.type,
      formatBytes(a.size),
      h('code', { title: a.digest, class: 'digest' }, shortDigest(a.digest)),
    ]),
    numeric: [4],
    className: 'data artifacts',
  });
}

function logsSection(logs: RunLog[] | string): Elem[] {
  if (typeof logs === 'string') return [errorBox(logs)];
  if (logs.length === 0) return [h('p', { class: 'empty' }, 'No stage executions, so no logs.')];
  return logs.map((log) =>
    h(
      'section',
      { class: 'log', 'aria-label': `Log of ${log.name}` },
      h(
        'h4',
        {},
        `${log.name} (execution ${log.id}, ${log.status}${log.restoredFrom === null ? '' : `, log of execution ${log.restoredFrom}`})`,
      ),
      log.text === null
        ? h('p', { class: 'empty' }, `No log: ${log.missing ?? 'not recorded'}.`)
        : [
            log.truncated
              ? h(
                  'p',
                  { class: 'help' },
                  'Only the end of this long log is shown; `ledge runs log` prints all of it.',
                )
              : null,
            h('pre', { class: 'log-text', tabindex: 0 }, log.text === '' ? '(empty)' : log.text),
          ],
    ),
  );
}

/** `#/runs/ID` */
export async function runDetailPage(view: Elem, route: Route): Promise<void> {
  const id = route.path[1] ?? '';
  view.replaceChildren(pageHeading(`Execution ${id}`), h('p', { class: 'loading' }, 'Loading…'));
  let detail: RunDetail;
  let logs: RunLog[] | string;
  try {
    [detail, logs] = await Promise.all([
      getJson<RunDetail>(`runs/${encodeURIComponent(id)}`),
      getJson<RunLog[]>(`runs/${encodeURIComponent(id)}/logs`).catch((error: Error) => error.message),
    ]);
  } catch (error) {
    view.replaceChildren(
      pageHeading(`Execution ${id}`),
      errorBox((error as Error).message),
      link('#/runs', 'All runs'),
    );
    return;
  }
  const props = detail.properties;
  const reasons = Array.isArray(props.reasons) ? props.reasons.map(String).join('; ') : undefined;
  const commands = Array.isArray(props.cmd)
    ? props.cmd.map(String)
    : typeof props.cmd === 'string'
      ? [props.cmd]
      : [];
  const env = detail.environment;
  const packages =
    props.packages && typeof props.packages === 'object'
      ? Object.entries(props.packages as Record<string, unknown>)
          .map(([name, version]) => `${name} ${formatValue(version)}`)
          .join(', ')
      : undefined;
  const sections: Elem[] = [
    pageHeading(`${kindOf(detail.type)} ${detail.id}: ${detail.name}`),
    facts([
      [
        'Status',
        h(
          'span',
          {},
          statusBadge(detail.status),
          detail.exitCode === null ? '' : ` (exit code ${detail.exitCode})`,
        ),
      ],
      ['Cause', detail.cause],
      ['Started (UTC)', formatTime(detail.startedAt)],
      ['Ended (UTC)', formatTime(detail.endedAt)],
      ['Duration', duration(detail.startedAt, detail.endedAt)],
      ['Commit', env.gitCommit ? `${env.gitCommit}${env.gitDirty ? ' (uncommitted changes)' : ''}` : 'none'],
      [
        'Part of run',
        detail.parentId === null ? undefined : link(`#/runs/${detail.parentId}`, `run ${detail.parentId}`),
      ],
      ['Ran because', reasons],
      [
        'Restored from',
        typeof props.restoredFrom === 'number'
          ? link(`#/runs/${props.restoredFrom}`, `execution ${props.restoredFrom} (run-cache)`)
          : undefined,
      ],
      ['Error', typeof props.error === 'string' ? props.error : undefined],
    ]),
    h('h3', {}, 'Params'),
    valuesTable('Params', flatten(detail.params), 'No params.'),
    h('h3', {}, 'Metrics'),
    valuesTable('Metrics', flatten(detail.metrics), 'No metrics.'),
  ];
  if (detail.type === 'run') {
    sections.push(
      h('h3', {}, 'Stages'),
      detail.stages.length === 0
        ? h('p', { class: 'empty' }, 'No stage executions.')
        : dataTable({
            caption: 'Stage executions, in the order they started',
            headers: ['ID', 'Stage', 'Status', 'Exit code', 'Started (UTC)', 'Duration', 'Metrics'],
            rows: detail.stages.map((s) => [
              link(`#/runs/${s.id}`, String(s.id)),
              link(`#/runs/${s.id}`, s.name),
              statusBadge(s.status),
              s.exitCode === null ? '–' : String(s.exitCode),
              formatTime(s.startedAt),
              duration(s.startedAt, s.endedAt),
              headlineMetrics(s.metrics),
            ]),
            numeric: [0, 3],
          }),
    );
  }
  if (commands.length > 0)
    sections.push(h('h3', {}, 'Commands'), h('pre', { class: 'commands' }, commands.join('\n')));
  sections.push(
    h('h3', {}, 'Artifacts'),
    artifactsTable(detail),
    h('h3', {}, 'Environment'),
    facts([
      ['User', `${env.user}@${env.host}`],
      ['Platform', `${env.platform}${typeof props.os === 'string' ? ` (${props.os})` : ''}`],
      ['CPUs', typeof props.cpus === 'number' ? String(props.cpus) : undefined],
      ['Node.js', env.nodeVersion],
      ['ledge', env.ledgeVersion],
      ['Packages', packages],
      ['Workspace', env.workspace ?? undefined],
    ]),
    h('h3', {}, 'Logs'),
    ...logsSection(logs),
  );
  view.replaceChildren(...sections);
}

function diffTable(caption: string, rows: DiffRow[], a: number, b: number): Elem {
  if (rows.length === 0) return h('p', { class: 'empty' }, 'No differences.');
  return dataTable({
    caption,
    headers: ['Key', `${a}`, `${b}`, 'Change'],
    rows: rows.map((row) => [row.key, formatValue(row.old), formatValue(row.new), formatChange(row)]),
    rowClass: (i) => `change-${rows[i]!.change}`,
    className: 'data diff',
    hideCaption: true,
  });
}

function digestCell(value: unknown): Elem | string {
  return typeof value === 'string' ? h('code', { title: value, class: 'digest' }, shortDigest(value)) : '–';
}

/** `#/compare/A/B[?all=1]` */
export async function comparePage(view: Elem, route: Route): Promise<void> {
  const [a, b] = [route.path[1] ?? '', route.path[2] ?? ''];
  const all = route.query.get('all') === '1';
  const title = `Compare ${a} and ${b}`;
  view.replaceChildren(pageHeading(title), h('p', { class: 'loading' }, 'Loading…'));
  let diff: RunDiff;
  try {
    diff = await getJson<RunDiff>('compare', { a, b, all: all ? '1' : undefined });
  } catch (error) {
    view.replaceChildren(pageHeading(title), errorBox((error as Error).message), link('#/runs', 'All runs'));
    return;
  }
  const toggle = h('input', { type: 'checkbox', id: 'show-all', checked: all }) as FormElem;
  toggle.addEventListener('change', () => {
    win.location.hash = `#/compare/${a}/${b}${toggle.checked ? '?all=1' : ''}`;
  });
  const side = (s: RunDiff['a'], role: string) => [
    role,
    link(`#/runs/${s.id}`, `${kindOf(s.type)} ${s.id}`),
    s.name,
    statusBadge(s.status),
    formatTime(s.startedAt),
    s.gitCommit ? s.gitCommit.slice(0, 12) : '–',
  ];
  const artifacts = diff.artifacts;
  view.replaceChildren(
    pageHeading(`Compare ${kindOf(diff.a.type).toLowerCase()} ${diff.a.id} and ${diff.b.id}`),
    dataTable({
      caption: 'The two sides',
      headers: ['Side', 'Execution', 'Name', 'Status', 'Started (UTC)', 'Commit'],
      rows: [side(diff.a, 'old (A)'), side(diff.b, 'new (B)')],
    }),
    h('p', {}, h('label', { for: 'show-all' }, toggle, ' Show unchanged values too')),
    h('h3', {}, 'Params'),
    diffTable('Params', diff.params, diff.a.id, diff.b.id),
    h('h3', {}, 'Metrics'),
    diffTable('Metrics', diff.metrics, diff.a.id, diff.b.id),
    h('h3', {}, 'Artifacts'),
    artifacts.length === 0
      ? h('p', { class: 'empty' }, 'No differences.')
      : dataTable({
          caption: 'Artifact digests by path',
          headers: ['Kind', 'Path', `${diff.a.id}`, `${diff.b.id}`, 'Change'],
          rows: artifacts.map((row) => [
            row.kind,
            row.path,
            digestCell(row.old),
            digestCell(row.new),
            row.change,
          ]),
          rowClass: (i) => `change-${artifacts[i]!.change}`,
          className: 'data diff',
        }),
  );
}
