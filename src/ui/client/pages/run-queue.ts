/**
 * The run queue on the runs page, when a control server (`ledge server`) serves the dashboard:
 * a **Run pipeline** button for sessions that may write (it queues a run of the stages checked
 * below it, or of the whole pipeline, optionally forced: POST /api/runs), and the queued and
 * running runs with their causes, each with a
 * **Cancel** button (POST /api/queue/ID/cancel). Refreshed every `refreshSeconds`.
 */
import type { ControlSession, EnqueueAnswer, PipelineStages, QueueRun } from '../../api-types.js';
import { getJson, postJson } from '../api-client.js';
import { causesLine } from '../causes.js';
import { dataTable, errorBox, link, statusBadge } from '../components.js';
import { type Elem, type FormElem, h } from '../dom.js';
import { duration, formatTime } from '../format.js';

/**
 * What the Run pipeline button runs: a checkbox per stage of ledge.yaml (none checked: the whole
 * pipeline) and Force (`ledge run --force`: run them even if up to date).
 */
async function runPicker(): Promise<{ element: Elem; chosen(): { stages: string[]; force: boolean } }> {
  let stages: string[] = [];
  let problem = '';
  try {
    stages = (await getJson<PipelineStages>('stages')).stages ?? [];
    if (stages.length === 0) problem = 'ledge.yaml cannot be read now: the button runs the whole pipeline.';
  } catch (error) {
    problem = `The stages cannot be listed (${(error as Error).message}): the button runs the whole pipeline.`;
  }
  const boxes = stages.map(
    (name) => h('input', { type: 'checkbox', name: 'stage', value: name, id: `stage-${name}` }) as FormElem,
  );
  const force = h('input', { type: 'checkbox', id: 'run-force' }) as FormElem;
  const element = h(
    'fieldset',
    { class: 'run-picker' },
    h('legend', {}, 'Stages'),
    ...boxes.map((box, i) => h('label', { for: box.getAttribute('id') ?? '' }, box, ` ${stages[i]}`)),
    problem ? h('span', { class: 'help' }, problem) : '',
    h('label', { for: 'run-force', class: 'force' }, force, ' Force (run even if up to date)'),
  );
  return {
    element,
    chosen: () => ({
      stages: boxes.filter((box) => box.checked).map((box) => box.value),
      force: force.checked,
    }),
  };
}

export interface QueuePanel {
  element: Elem;
  stop(): void;
}

/**
 * The panel (empty until the session is known); `stop()` ends its refreshes. `onRunEnded` is
 * called when a run seen queued or running has ended (the runs list then has a new run).
 */
export function queuePanel(refreshSeconds: number, onRunEnded: () => void): QueuePanel {
  const element = h('section', { class: 'queue', 'aria-labelledby': 'queue-heading' });
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
  };
  void (async () => {
    let session: ControlSession;
    try {
      session = await getJson<ControlSession>('session');
    } catch (error) {
      element.replaceChildren(errorBox(`The run queue cannot be shown: ${(error as Error).message}`));
      return;
    }
    if (stopped) return;
    const message = h('p', { id: 'queue-message', class: 'help', role: 'status' });
    const listing = h('div', { id: 'queue-list' }, h('p', { class: 'loading' }, 'Loading…'));
    const controls: (Elem | string)[] = [];
    let refresh: () => Promise<void> = async () => {};
    if (session.canWrite) {
      const picker = await runPicker();
      const button = h(
        'button',
        { type: 'button', id: 'run-pipeline', class: 'primary' },
        'Run pipeline',
      ) as FormElem;
      button.addEventListener('click', () => {
        const { stages, force } = picker.chosen();
        button.disabled = true;
        message.textContent = 'Queueing…';
        const what = `${stages.length > 0 ? ` for ${stages.join(', ')}` : ''}${force ? ', forced' : ''}`;
        postJson<EnqueueAnswer>(
          'runs',
          {
            cause: 'from the dashboard',
            ...(stages.length > 0 ? { stages } : {}),
            ...(force ? { force } : {}),
          },
          session.csrf,
        )
          .then((answer) => {
            message.textContent = answer.merged
              ? `Joined run ${answer.run.id}, which was already waiting${what}.`
              : `Run ${answer.run.id} queued${what}.`;
          })
          .catch((error: Error) => {
            message.textContent = `Not queued: ${error.message}`;
          })
          .finally(() => {
            button.disabled = false;
            void refresh();
          });
      });
      controls.push(
        h(
          'div',
          { class: 'toolbar' },
          button,
          ' ',
          h(
            'span',
            { class: 'help' },
            `Queues a run (as ${session.user ?? 'you'}) of the checked stages and what they need, or of the whole pipeline when none is checked; it joins a run already waiting.`,
          ),
        ),
        picker.element,
      );
    } else {
      controls.push(
        h(
          'p',
          { class: 'help', id: 'queue-read-only' },
          session.user
            ? `Signed in with the read-only token '${session.user}': sign in with a token that may write to queue and cancel runs.`
            : 'Read without a token: sign in with a token that may write to queue and cancel runs.',
        ),
      );
    }
    element.replaceChildren(h('h3', { id: 'queue-heading' }, 'Run queue'), ...controls, message, listing);

    const cancel = (run: QueueRun, button: FormElem) => {
      button.disabled = true;
      postJson<QueueRun>(`queue/${run.id}/cancel`, {}, session.csrf)
        .then(() => {
          message.textContent = `Run ${run.id} cancelled.`;
        })
        .catch((error: Error) => {
          message.textContent = `Run ${run.id} not cancelled: ${error.message}`;
          button.disabled = false;
        })
        .finally(() => void refresh());
    };

    let recent: QueueRun[] = [];
    let activeIds = new Set<number>();
    refresh = async () => {
      clearTimeout(timer);
      let active: QueueRun[];
      try {
        [active, recent] = await Promise.all([
          getJson<QueueRun[]>('queue', { status: 'queued,running', limit: '50' }),
          getJson<QueueRun[]>('queue', { limit: '5' }),
        ]);
      } catch (error) {
        if (!stopped) listing.replaceChildren(errorBox((error as Error).message));
        if (!stopped) timer = setTimeout(() => void refresh(), refreshSeconds * 1000);
        return;
      }
      if (stopped) return;
      const nowActive = new Set(active.map((r) => r.id));
      if ([...activeIds].some((id) => !nowActive.has(id))) onRunEnded();
      activeIds = nowActive;
      const headers = ['ID', 'Status', 'Cause', 'Stages', 'Requested (UTC)', 'Running for'];
      const row = (run: QueueRun) => [
        String(run.id),
        statusBadge(run.status),
        causesLine(run.causes),
        run.stages.length === 0 ? 'all' : run.stages.join(', '),
        formatTime(run.requestedAt),
        run.startedAt ? duration(run.startedAt, run.endedAt ?? new Date().toISOString()) : '–',
      ];
      const ended = recent.filter((r) => r.status !== 'queued' && r.status !== 'running');
      listing.replaceChildren(
        active.length === 0
          ? h('p', { class: 'empty', id: 'queue-empty' }, 'Nothing queued or running.')
          : dataTable({
              caption: 'Queued and running, newest first',
              headers: session.canWrite ? [...headers, 'Cancel'] : headers,
              rows: active.map((run) => {
                const cells = row(run);
                if (!session.canWrite) return cells;
                const button = h(
                  'button',
                  { type: 'button', 'aria-label': `Cancel run ${run.id}` },
                  'Cancel',
                ) as FormElem;
                button.addEventListener('click', () => cancel(run, button));
                return [...cells, button];
              }),
              numeric: [0],
              className: 'data queue-active',
            }),
        ended.length === 0
          ? ''
          : dataTable({
              caption: 'Recently ended',
              headers: ['ID', 'Status', 'Cause', 'Pipeline run', 'Ended (UTC)', 'Reason'],
              rows: ended.map((run) => [
                String(run.id),
                statusBadge(run.status),
                causesLine(run.causes),
                run.pipelineRunId === null
                  ? '–'
                  : link(`#/runs/${run.pipelineRunId}`, `run ${run.pipelineRunId}`),
                formatTime(run.endedAt),
                run.reason ?? '',
              ]),
              numeric: [0],
              className: 'data queue-ended',
            }),
      );
      timer = setTimeout(() => void refresh(), refreshSeconds * 1000);
    };
    await refresh();
  })();
  return { element, stop };
}
