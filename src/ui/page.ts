/**
 * The one HTML page of the dashboard. The browser code draws every view into `#view`; without
 * JavaScript, a `<noscript>` part rendered here shows the recent runs and the models, so the
 * static records stay readable. Every value is escaped.
 */
import type { ModelInfo, RunSummary } from './api-types.js';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe inside HTML elements and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function table(caption: string, headers: string[], rows: unknown[][]): string {
  const head = headers.map((title) => `<th scope="col">${escapeHtml(title)}</th>`).join('');
  const body = rows
    .map((cells) => `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table class="data"><caption>${escapeHtml(caption)}</caption><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function metricsText(metrics: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(metrics).flatMap(([key, value]) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? metricsText(value as Record<string, unknown>, `${prefix}${key}.`)
      : typeof value === 'number'
        ? [`${prefix}${key}=${value}`]
        : [],
  );
}

/** What a browser without JavaScript shows: recent runs and the models. */
export function staticContent(runs: RunSummary[], models: ModelInfo[]): string {
  const runRows = runs.map((r) => [
    r.id,
    r.type,
    r.name,
    r.status,
    r.startedAt.replace('T', ' ').slice(0, 19),
    metricsText(r.metrics).slice(0, 4).join(' '),
  ]);
  const modelRows = models.flatMap((m) =>
    m.versions.map((v) => [`${m.name}@${v.version}`, v.aliases.join(', '), v.kind, v.size, v.digest]),
  );
  return [
    '<p>This dashboard draws its pages with JavaScript. Without it, here are the recent records:</p>',
    '<h2>Runs</h2>',
    runs.length === 0
      ? '<p>No runs recorded yet.</p>'
      : table(
          'Most recent runs and stage executions',
          ['ID', 'Type', 'Name', 'Status', 'Started (UTC)', 'Metrics'],
          runRows,
        ),
    '<h2>Models</h2>',
    modelRows.length === 0
      ? '<p>No models registered yet.</p>'
      : table('Model versions', ['Version', 'Aliases', 'Kind', 'Bytes', 'Digest'], modelRows),
  ].join('\n');
}

/** The page: header and navigation, the view the browser code fills, the no-JS content. */
export function renderPage(options: { version: string; noscript: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>ledge dashboard</title>
<link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/styles.css">
<script type="module" src="/assets/client/main.js"></script>
</head>
<body>
<a class="skip" href="#view">Skip to content</a>
<header class="top">
<h1>ledge</h1>
<nav aria-label="Sections"><ul id="sections">
<li><a href="#/runs">Runs</a></li>
<li><a href="#/models">Models</a></li>
<li><a href="#/deployments">Deployments</a></li>
<li><a href="#/monitoring">Monitoring</a></li>
</ul></nav>
</header>
<main id="view" tabindex="-1">
<noscript>
${options.noscript}
</noscript>
</main>
<footer><p id="footer-info">ledge ${escapeHtml(options.version)}</p></footer>
</body>
</html>
`;
}
