/** The dashboard's stylesheet (served as /assets/styles.css) and icon. Light and dark. */

export const STYLES = `
:root {
  color-scheme: light dark;
  --bg: #fbfbfa; --fg: #1d2125; --muted: #5d6670; --line: #d9dde1; --panel: #ffffff;
  --accent: #1f5fbf; --ok: #1c7a3d; --bad: #b3261e; --warn: #9a6400;
  --s1: #1f5fbf; --s2: #c26a00; --s3: #b3261e; --s4: #1c7a3d;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 15px; line-height: 1.45;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #15181b; --fg: #e6e8ea; --muted: #9aa3ad; --line: #343a40; --panel: #1d2125;
    --accent: #7fb0ff; --ok: #5fcf86; --bad: #ff8a80; --warn: #f0b956;
    --s1: #7fb0ff; --s2: #f0a04b; --s3: #ff8a80; --s4: #5fcf86;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, pre:focus-visible {
  outline: 2px solid var(--accent); outline-offset: 2px;
}
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.skip { position: absolute; left: -999px; top: 0; }
.skip:focus { left: 8px; background: var(--panel); padding: 4px 8px; z-index: 2; }
header.top { display: flex; align-items: baseline; gap: 24px; padding: 10px 24px; border-bottom: 1px solid var(--line); background: var(--panel); }
header.top h1 { font-size: 1.15rem; margin: 0; }
header.top nav ul { display: flex; gap: 4px; list-style: none; margin: 0; padding: 0; }
header.top nav a { display: inline-block; padding: 4px 10px; border-radius: 6px; text-decoration: none; }
header.top nav a[aria-current="page"] { background: var(--accent); color: var(--panel); }
main { padding: 8px 24px 32px; max-width: 1280px; }
main:focus, .page-heading:focus { outline: none; }
footer { padding: 8px 24px 24px; color: var(--muted); font-size: 0.85rem; }
h2 { font-size: 1.35rem; margin: 16px 0 8px; }
h3 { font-size: 1.1rem; margin: 22px 0 6px; }
h4 { font-size: 1rem; margin: 16px 0 6px; }
table.data { border-collapse: collapse; margin: 6px 0 12px; background: var(--panel); min-width: 40%; }
table.data caption { text-align: left; color: var(--muted); font-size: 0.85rem; padding: 2px 0 4px; caption-side: top; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
table.data thead th { font-size: 0.85rem; color: var(--muted); font-weight: 600; }
table.data tbody th { font-weight: 500; font-family: ui-monospace, monospace; font-size: 0.9rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.change-added td:last-child { color: var(--ok); }
tr.change-removed td:last-child { color: var(--bad); }
tr.change-changed td:last-child { color: var(--warn); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.88rem; }
pre { background: var(--panel); border: 1px solid var(--line); padding: 8px 12px; overflow: auto; max-height: 28rem; white-space: pre-wrap; word-break: break-word; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.status { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 0.85rem; border: 1px solid var(--line); }
.status-succeeded, .status-cached, .status-active { color: var(--ok); border-color: var(--ok); }
.status-failed, .status-interrupted { color: var(--bad); border-color: var(--bad); }
.status-running, .status-gated, .status-queued, .status-deploying { color: var(--warn); border-color: var(--warn); }
.status-cancelled, .status-superseded, .status-rolledback, .status-stopped { color: var(--muted); }
section.target { margin: 8px 0 20px; }
p.serving-now, p.serving-none { border-left: 4px solid var(--ok); background: var(--panel); padding: 6px 12px; margin: 6px 0 8px; }
p.serving-none { border-left-color: var(--line); }
table.data tr.serving td, table.data tr.selected td { background: color-mix(in srgb, var(--ok) 12%, var(--panel)); }
table.data tr.serving td:first-child, table.data tr.selected td:first-child { box-shadow: inset 4px 0 0 var(--ok); }
ol.chain { list-style: none; margin: 8px 0 12px; padding: 0; }
ol.chain li { position: relative; padding: 4px 0 10px 22px; border-left: 2px solid var(--line); margin-left: 6px; }
ol.chain li::before { content: ""; position: absolute; left: -7px; top: 9px; width: 10px; height: 10px; border-radius: 50%; background: var(--accent); border: 1px solid var(--panel); }
ol.chain li:last-child { border-left-color: transparent; }
ol.chain li.chain-outcome::before { background: var(--ok); }
ol.chain li.chain-failed::before { background: var(--bad); }
ol.chain li.chain-ended::before { background: var(--muted); }
ol.chain .chain-label { display: inline-block; min-width: 8.5rem; }
section.queue { border: 1px solid var(--line); background: var(--panel); padding: 2px 16px 8px; margin: 8px 0 16px; border-radius: 8px; }
section.queue h3 { margin-top: 10px; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 0.8rem; font-weight: 600; vertical-align: middle; }
.badge-alert { background: var(--bad); color: var(--panel); }
.badge-ok { border: 1px solid var(--ok); color: var(--ok); font-weight: 500; }
.error { color: var(--bad); border-left: 3px solid var(--bad); padding: 4px 10px; background: var(--panel); }
.empty, .help, .loading { color: var(--muted); }
.help { font-size: 0.85rem; margin: 4px 0; }
.empty-state { border: 1px dashed var(--line); padding: 12px 16px; margin: 8px 0; background: var(--panel); }
.empty-state p { margin: 4px 0; }
form.filter { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; margin: 8px 0; }
form.filter input[type=search] { flex: 1 1 28rem; padding: 5px 8px; font: inherit; }
form.filter .help { flex-basis: 100%; }
select, button, input { font: inherit; }
button { padding: 4px 12px; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); color: var(--fg); cursor: pointer; }
button:disabled { opacity: 0.55; cursor: default; }
button[type=submit], button.primary, #compare:not(:disabled) { background: var(--accent); color: var(--panel); border-color: var(--accent); }
.toolbar { margin: 4px 0 6px; }
fieldset.run-picker { display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: center; border: 1px solid var(--line); border-radius: 6px; margin: 4px 0 8px; padding: 4px 10px 6px; }
fieldset.run-picker legend { font-size: 0.85rem; color: var(--muted); }
fieldset.run-picker label.force { margin-left: auto; }
article.server { border: 1px solid var(--line); background: var(--panel); padding: 4px 16px 12px; margin: 12px 0; border-radius: 8px; }
article.server-down { border-color: var(--bad); }
.updated { color: var(--muted); font-size: 0.85rem; margin: 0; }
dl.tiles { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 8px 0 12px; }
dl.tiles dt { font-size: 0.8rem; color: var(--muted); margin: 0; }
dl.tiles dd { margin: 0; font-size: 1.25rem; font-variant-numeric: tabular-nums; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; background: var(--bg); }
figure.chart h5 { margin: 2px 0 4px; font-size: 0.9rem; }
figure.chart figcaption { font-size: 0.85rem; color: var(--muted); }
svg.plot { width: 100%; height: auto; display: block; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .tick, svg .unit, svg .label, svg .value { fill: var(--muted); font-size: 11px; font-family: inherit; }
svg .label { fill: var(--fg); }
svg .line { fill: none; stroke-width: 2; }
svg .series-1 .line { stroke: var(--s1); } svg .series-1 .dot { fill: var(--s1); }
svg .series-2 .line { stroke: var(--s2); } svg .series-2 .dot { fill: var(--s2); }
svg .series-3 .line { stroke: var(--s3); } svg .series-3 .dot { fill: var(--s3); }
svg .series-4 .line { stroke: var(--s4); } svg .series-4 .dot { fill: var(--s4); }
svg .bar { fill: var(--s1); }
svg .reference { fill: none; stroke: var(--fg); stroke-width: 1.5; stroke-dasharray: 3 2; }
svg .drift-row .bar { fill: var(--ok); }
svg .drift-row.alert .bar { fill: var(--bad); }
svg .drift-row.alert .value { fill: var(--bad); font-weight: 700; }
svg .threshold { stroke: var(--fg); stroke-width: 2; stroke-dasharray: 4 3; }
.legend { margin-right: 10px; white-space: nowrap; }
.legend::before { content: ""; display: inline-block; width: 10px; height: 3px; margin-right: 4px; vertical-align: middle; background: var(--muted); }
.legend.series-1::before { background: var(--s1); } .legend.series-2::before { background: var(--s2); }
.legend.series-3::before { background: var(--s3); } .legend.series-4::before { background: var(--s4); }
.legend.alert { color: var(--bad); }
.legend.alert::before { background: var(--bad); }
`;

/** A small icon, so browsers asking for one get it (and no 404 in the console). */
export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f5fbf"/><path d="M4 3v10h8" stroke="#fff" stroke-width="2" fill="none"/></svg>`;
