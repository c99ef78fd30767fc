/**
 * Monitoring: live charts of each running server (`ledge ui --server URL`), refreshed every
 * second or two — throughput, latency percentiles, the score histogram, drift per feature
 * against its threshold with an alert badge, live accuracy — and the history that servers
 * recorded in the metadata database (monitoring windows, serving events).
 */
import type {
  LiveModel,
  LiveServer,
  MonitoringHistory,
  MonitoringWindow,
  SeriesPoint,
  UiInfo,
} from '../../api-types.js';
import { getJson } from '../api-client.js';
import { driftChart, histogramChart, lineChart } from '../charts.js';
import { dataTable, emptyState, errorBox, pageHeading } from '../components.js';
import { type Elem, h } from '../dom.js';
import { clockTime, formatNumber, formatTime, measure, percent } from '../format.js';

/** Points kept per model when the server sends no series of its own. */
const MAX_POINTS = 90;
const HISTORY_REFRESH_MS = 10_000;

function alertBadge(alert: boolean): Elem {
  return alert
    ? h('span', { class: 'badge badge-alert', role: 'status' }, 'Drift alert')
    : h('span', { class: 'badge badge-ok' }, 'No drift alert');
}

function tile(label: string, value: string, className: string): Elem {
  return h(
    'div',
    { class: 'tile' },
    h('dt', {}, label),
    h('dd', { class: `tile-value ${className}` }, value),
  );
}

/**
 * `series`: the server's own time series when it sends one, else the points collected here;
 * `collected`: the points collected here (live accuracy, which servers do not put in theirs).
 */
function liveCharts(model: LiveModel, series: SeriesPoint[], collected: SeriesPoint[]): Elem {
  const labels = series.map((p) => clockTime(p.at));
  const accuracySource = series.some((p) => p.accuracy !== null) ? series : collected;
  return h(
    'div',
    { class: 'charts' },
    lineChart({
      title: 'Throughput',
      unit: 'req/s',
      className: 'chart-throughput',
      labels,
      series: [{ label: 'throughput', className: 'series-1', values: series.map((p) => p.throughput) }],
    }),
    lineChart({
      title: 'Latency percentiles',
      unit: 'ms',
      className: 'chart-latency',
      labels,
      series: [
        { label: 'p50', className: 'series-1', values: series.map((p) => p.p50) },
        { label: 'p95', className: 'series-2', values: series.map((p) => p.p95) },
        { label: 'p99', className: 'series-3', values: series.map((p) => p.p99) },
      ],
    }),
    histogramChart({ title: 'Score histogram', histogram: model.scores, className: 'chart-scores' }),
    driftChart({ title: 'Drift per feature', drift: model.drift, className: 'chart-drift' }),
    lineChart({
      title: 'Live accuracy',
      unit: '%',
      className: 'chart-accuracy',
      labels: accuracySource.map((p) => clockTime(p.at)),
      max: 100,
      format: (v) => `${formatNumber(v, 3)}%`,
      series: [
        {
          label: 'accuracy',
          className: 'series-4',
          values: accuracySource.map((p) => (p.accuracy === null ? null : p.accuracy * 100)),
        },
      ],
    }),
  );
}

function liveModelSection(
  server: string,
  model: LiveModel,
  series: SeriesPoint[],
  collected: SeriesPoint[],
): Elem {
  // The server counts requests that name no model it serves (health checks, typos) as model "".
  const name =
    model.model === ''
      ? 'other requests (health checks, unknown models)'
      : `${model.model}${model.version ? `@${model.version}` : ''}`;
  return h(
    'section',
    { class: 'live-model', 'data-model': name, 'aria-label': `${name} on ${server}` },
    h('h4', {}, name, ' ', alertBadge(model.alert)),
    h(
      'dl',
      { class: 'tiles' },
      tile('Throughput', measure(model.throughput, 'req/s'), 'throughput'),
      tile('Requests', model.requests === null ? '–' : String(model.requests), 'requests'),
      tile('Errors', model.errors === null ? '–' : String(model.errors), 'errors'),
      tile('p50 latency', measure(model.latencyMs.p50, 'ms'), 'p50'),
      tile('p95 latency', measure(model.latencyMs.p95, 'ms'), 'p95'),
      tile('p99 latency', measure(model.latencyMs.p99, 'ms'), 'p99'),
      tile(
        'Live accuracy',
        `${percent(model.liveAccuracy)}${model.labelled === null ? '' : ` (${model.labelled} labelled)`}`,
        'accuracy',
      ),
    ),
    liveCharts(model, series, collected),
  );
}

/** Draws one server: its models, or why there is nothing to draw. */
function serverSection(
  server: LiveServer,
  seriesOf: (model: LiveModel) => { series: SeriesPoint[]; collected: SeriesPoint[] },
): Elem {
  const heading = h('h3', {}, `Server ${server.url}`);
  let body: Elem | Elem[];
  if (!server.ok) {
    body = h(
      'p',
      { class: 'error server-error' },
      h('strong', {}, 'Cannot read this server: '),
      server.error ?? 'unknown error',
      ` (last tried ${clockTime(server.fetchedAt)} UTC; retrying)`,
    );
  } else if (!server.monitoring) {
    body = h('p', { class: 'empty' }, 'Monitoring is off on this server.');
  } else if (server.models.length === 0) {
    body = h('p', { class: 'empty' }, 'This server reports no models yet.');
  } else {
    body = [
      h('p', { class: 'updated' }, `Updated ${clockTime(server.fetchedAt)} UTC`),
      ...server.models.map((model) => {
        const { series, collected } = seriesOf(model);
        return liveModelSection(server.url, model, series, collected);
      }),
    ];
  }
  return h(
    'article',
    { class: server.ok ? 'server' : 'server server-down', 'data-server': server.url },
    heading,
    body,
  );
}

function historyCharts(windows: MonitoringWindow[]): Elem {
  const labels = windows.map((w) => clockTime(w.endedAt));
  return h(
    'div',
    { class: 'charts' },
    lineChart({
      title: 'Throughput per window',
      unit: 'req/s',
      className: 'chart-history-throughput',
      labels,
      series: [{ label: 'throughput', className: 'series-1', values: windows.map((w) => w.throughput) }],
    }),
    lineChart({
      title: 'Latency per window',
      unit: 'ms',
      className: 'chart-history-latency',
      labels,
      series: [
        { label: 'p50', className: 'series-1', values: windows.map((w) => w.p50Ms) },
        { label: 'p95', className: 'series-2', values: windows.map((w) => w.p95Ms) },
        { label: 'p99', className: 'series-3', values: windows.map((w) => w.p99Ms) },
      ],
    }),
    lineChart({
      title: 'Live accuracy per window',
      unit: '%',
      className: 'chart-history-accuracy',
      labels,
      max: 100,
      format: (v) => `${formatNumber(v, 3)}%`,
      series: [
        {
          label: 'accuracy',
          className: 'series-4',
          values: windows.map((w) => (w.liveAccuracy === null ? null : w.liveAccuracy * 100)),
        },
      ],
    }),
  );
}

function historySection(history: MonitoringHistory): Elem[] {
  if (history.windows.length === 0 && history.events.length === 0) {
    return [
      emptyState(
        'No monitoring history recorded yet.',
        h(
          'p',
          {},
          'Servers record monitoring windows and serving events in the metadata database as they run.',
        ),
      ),
    ];
  }
  const groups = new Map<string, MonitoringWindow[]>();
  for (const w of history.windows) {
    const key = `${w.model}@${w.version} on ${w.server}`;
    groups.set(key, [...(groups.get(key) ?? []), w]);
  }
  const parts: Elem[] = [];
  for (const [key, windows] of groups) {
    const recent = windows.slice(-20).reverse();
    parts.push(
      h(
        'section',
        { class: 'history-group', 'aria-label': `History of ${key}` },
        h('h4', {}, key),
        historyCharts(windows),
        dataTable({
          caption: `Most recent windows of ${key}, newest first`,
          headers: [
            'Window (UTC)',
            'Requests',
            'Errors',
            'Throughput',
            'p50',
            'p95',
            'p99',
            'Live accuracy',
            'Drift',
          ],
          rows: recent.map((w) => {
            const alerts = w.drift
              .filter((d) => d.alert)
              .map((d) => `${d.feature} ${d.method} ${formatNumber(d.value, 3)}`);
            return [
              `${formatTime(w.startedAt)} – ${clockTime(w.endedAt)}`,
              w.requests === null ? '–' : String(w.requests),
              w.errors === null ? '–' : String(w.errors),
              measure(w.throughput, 'req/s'),
              measure(w.p50Ms, 'ms'),
              measure(w.p95Ms, 'ms'),
              measure(w.p99Ms, 'ms'),
              `${percent(w.liveAccuracy)}${w.labelled === null ? '' : ` (${w.labelled})`}`,
              alerts.length === 0
                ? 'ok'
                : h('span', { class: 'badge badge-alert' }, `alert: ${alerts.join(', ')}`),
            ];
          }),
          numeric: [1, 2, 3, 4, 5, 6],
          className: 'data windows',
        }),
      ),
    );
  }
  parts.push(
    h('h4', {}, 'Serving events'),
    history.events.length === 0
      ? h('p', { class: 'empty' }, 'No serving events recorded.')
      : dataTable({
          caption: 'Serving events, newest first',
          headers: ['Time (UTC)', 'Server', 'Kind', 'Model', 'Message'],
          rows: history.events.map((e) => [
            formatTime(e.at),
            e.server,
            e.kind,
            e.model === null ? '–' : `${e.model}${e.version ? `@${e.version}` : ''}`,
            e.message,
          ]),
          className: 'data events',
          rowClass: (i) => `event-${history.events[i]!.kind.replace(/[^a-z-]/g, '')}`,
        }),
  );
  return parts;
}

/** `#/monitoring`; returns what stops its refreshing when another page opens. */
export function monitoringPage(view: Elem, info: UiInfo): () => void {
  const live = h('div', { id: 'live' }, h('p', { class: 'loading' }, 'Loading…'));
  const history = h('div', { id: 'history' }, h('p', { class: 'loading' }, 'Loading…'));
  view.replaceChildren(
    pageHeading('Monitoring'),
    h('section', { 'aria-labelledby': 'live-heading' }, h('h3', { id: 'live-heading' }, 'Live'), live),
    h(
      'section',
      { 'aria-labelledby': 'history-heading' },
      h('h3', { id: 'history-heading' }, 'History'),
      history,
    ),
  );
  let stopped = false;
  const collected = new Map<string, SeriesPoint[]>();

  const seriesFor = (server: LiveServer) => (model: LiveModel) => {
    const own = collected.get(`${server.url} ${model.model}@${model.version}`) ?? [];
    return { series: model.series.length >= 2 ? model.series : own, collected: own };
  };

  const collect = (servers: LiveServer[]) => {
    for (const server of servers) {
      for (const model of server.models) {
        const key = `${server.url} ${model.model}@${model.version}`;
        const points = collected.get(key) ?? [];
        points.push({
          at: server.fetchedAt,
          throughput: model.throughput,
          ...model.latencyMs,
          accuracy: model.liveAccuracy,
        });
        collected.set(key, points.slice(-MAX_POINTS));
      }
    }
  };

  let liveBusy = false;
  const refreshLive = async () => {
    if (liveBusy || stopped) return;
    liveBusy = true;
    try {
      if (info.servers.length === 0) {
        live.replaceChildren(
          emptyState(
            'No servers to watch.',
            h(
              'p',
              {},
              'Start the dashboard with the servers to watch: ledge ui --server http://127.0.0.1:8080',
            ),
          ),
        );
        return;
      }
      const servers = await getJson<LiveServer[]>('monitoring/live');
      if (stopped) return;
      collect(servers);
      live.replaceChildren(...servers.map((server) => serverSection(server, seriesFor(server))));
    } catch (error) {
      if (!stopped) live.replaceChildren(errorBox((error as Error).message));
    } finally {
      liveBusy = false;
    }
  };

  let historyBusy = false;
  const refreshHistory = async () => {
    if (historyBusy || stopped) return;
    historyBusy = true;
    try {
      const recorded = await getJson<MonitoringHistory>('monitoring/history');
      if (!stopped) history.replaceChildren(...historySection(recorded));
    } catch (error) {
      if (!stopped) history.replaceChildren(errorBox((error as Error).message));
    } finally {
      historyBusy = false;
    }
  };

  void refreshLive();
  void refreshHistory();
  const liveTimer = setInterval(() => void refreshLive(), Math.max(0.5, info.refreshSeconds) * 1000);
  const historyTimer = setInterval(() => void refreshHistory(), HISTORY_REFRESH_MS);
  return () => {
    stopped = true;
    clearInterval(liveTimer);
    clearInterval(historyTimer);
  };
}
