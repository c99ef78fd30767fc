/**
 * Small hand-written SVG charts: lines over time, a histogram, drift bars with their
 * thresholds. Each is a `<figure>` whose caption says in words and numbers what the picture
 * shows, so the values are readable without seeing the chart. Colours come from CSS classes
 * (the page's Content-Security-Policy allows no inline styles).
 */
import type { DriftValue, Histogram } from '../api-types.js';
import { type Elem, h, svg } from './dom.js';
import { formatNumber } from './format.js';

const WIDTH = 480;
const HEIGHT = 170;
const PAD = { left: 46, right: 14, top: 22, bottom: 24 };

export interface LineSeries {
  label: string;
  /** CSS modifier: `series-1` … `series-4`. */
  className: string;
  values: (number | null)[];
}

/** A round upper bound for an axis: 0.83 → 1, 37 → 40, 120 → 150. */
export function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10])
    if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function figure(className: string, title: string, caption: CaptionPart[], picture: Elem): Elem {
  return h(
    'figure',
    { class: `chart ${className}` },
    h('h5', { class: 'chart-title' }, title),
    picture,
    h('figcaption', {}, ...caption),
  );
}

type CaptionPart = Elem | string;

function yAxis(max: number, unit: string, innerHeight: number): Elem[] {
  const parts: Elem[] = [];
  for (const fraction of [0, 0.5, 1]) {
    const y = PAD.top + innerHeight * (1 - fraction);
    parts.push(svg('line', { class: 'grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y }));
    parts.push(
      svg(
        'text',
        { class: 'tick', x: PAD.left - 6, y: y + 4, 'text-anchor': 'end' },
        formatNumber(max * fraction, 3),
      ),
    );
  }
  parts.push(svg('text', { class: 'unit', x: PAD.left - 6, y: 11, 'text-anchor': 'end' }, unit));
  return parts;
}

/**
 * Lines over time (oldest left). `labels` are the x positions' names (times), the first and
 * last of which are drawn. `threshold` draws a dashed line.
 */
export function lineChart(options: {
  title: string;
  unit: string;
  series: LineSeries[];
  labels: string[];
  className: string;
  max?: number;
  format?: (value: number) => string;
}): Elem {
  const format = options.format ?? ((v: number) => `${formatNumber(v, 3)} ${options.unit}`);
  const count = Math.max(0, ...options.series.map((s) => s.values.length));
  const latest = options.series.map((s) => {
    const last = [...s.values].reverse().find((v): v is number => v !== null);
    return { label: s.label, className: s.className, value: last ?? null };
  });
  const caption: CaptionPart[] = latest.map((l) =>
    h(
      'span',
      { class: `legend ${l.className}` },
      `${l.label} `,
      h('strong', { class: 'value' }, l.value === null ? '–' : format(l.value)),
      ' ',
    ),
  );
  if (count === 0) {
    return figure(options.className, options.title, caption, h('p', { class: 'empty' }, 'Waiting for data…'));
  }
  const innerWidth = WIDTH - PAD.left - PAD.right;
  const innerHeight = HEIGHT - PAD.top - PAD.bottom;
  const highest = Math.max(
    0,
    ...options.series.flatMap((s) => s.values.filter((v): v is number => v !== null)),
  );
  const max = options.max ?? niceMax(highest);
  const x = (i: number) => PAD.left + (count === 1 ? innerWidth : (innerWidth * i) / (count - 1));
  const y = (v: number) => PAD.top + innerHeight * (1 - Math.min(v, max) / max);
  const lines = options.series.map((s) => {
    const offset = count - s.values.length;
    const points = s.values
      .map((v, i) => (v === null ? null : `${x(i + offset).toFixed(1)},${y(v).toFixed(1)}`))
      .filter((p): p is string => p !== null);
    const last = latest.find((l) => l.label === s.label)?.value;
    return svg(
      'g',
      { class: `series ${s.className}` },
      svg('polyline', { class: 'line', points: points.join(' '), 'data-last': last ?? '' }),
      points.length > 0
        ? svg('circle', {
            class: 'dot',
            r: 3,
            cx: points.at(-1)!.split(',')[0],
            cy: points.at(-1)!.split(',')[1],
          })
        : null,
    );
  });
  const first = options.labels[0] ?? '';
  const last = options.labels.at(-1) ?? '';
  const description = latest
    .map((l) => `${l.label} ${l.value === null ? 'no data' : format(l.value)}`)
    .join(', ');
  const picture = svg(
    'svg',
    {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-label': `${options.title}: ${description}`,
      class: 'plot',
    },
    svg('title', {}, `${options.title}: ${description}`),
    ...yAxis(max, options.unit, innerHeight),
    svg('text', { class: 'tick', x: PAD.left, y: HEIGHT - 6 }, first),
    svg('text', { class: 'tick', x: WIDTH - PAD.right, y: HEIGHT - 6, 'text-anchor': 'end' }, last),
    ...lines,
  );
  return figure(options.className, options.title, caption, picture);
}

/** Bars of a histogram (the model's score distribution). */
export function histogramChart(options: {
  title: string;
  histogram: Histogram | null;
  className: string;
}): Elem {
  const histogram = options.histogram;
  const total = histogram ? histogram.counts.reduce((sum, n) => sum + n, 0) : 0;
  if (!histogram || histogram.counts.length === 0) {
    return figure(
      options.className,
      options.title,
      ['no scores yet'],
      h('p', { class: 'empty' }, 'Waiting for data…'),
    );
  }
  const innerWidth = WIDTH - PAD.left - PAD.right;
  const innerHeight = HEIGHT - PAD.top - PAD.bottom;
  const max = niceMax(
    Math.max(...histogram.counts, ...(histogram.reference ?? []).map((share) => share * total)),
  );
  const width = innerWidth / histogram.counts.length;
  const bars = histogram.counts.map((n, i) => {
    const height = (innerHeight * n) / max;
    const from = formatNumber(histogram.edges[i] ?? 0, 3);
    const to = formatNumber(histogram.edges[i + 1] ?? 0, 3);
    return svg(
      'rect',
      {
        class: 'bar',
        x: (PAD.left + i * width + 1).toFixed(1),
        y: (PAD.top + innerHeight - height).toFixed(1),
        width: Math.max(1, width - 2).toFixed(1),
        height: height.toFixed(1),
        'data-count': n,
      },
      svg('title', {}, `${from}–${to}: ${n}`),
    );
  });
  // The reference profile's shares as the counts they would be: a stepped outline.
  const reference = histogram.reference;
  const expected =
    reference && total > 0
      ? svg('polyline', {
          class: 'reference',
          points: reference
            .flatMap((share, i) => {
              const y = (PAD.top + innerHeight - (innerHeight * Math.min(share * total, max)) / max).toFixed(
                1,
              );
              return [
                `${(PAD.left + i * width).toFixed(1)},${y}`,
                `${(PAD.left + (i + 1) * width).toFixed(1)},${y}`,
              ];
            })
            .join(' '),
        })
      : null;
  const low = formatNumber(histogram.edges[0] ?? 0, 3);
  const high = formatNumber(histogram.edges.at(-1) ?? 1, 3);
  const picture = svg(
    'svg',
    {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-label': `${options.title}: ${total} predictions from ${low} to ${high}`,
      class: 'plot',
    },
    svg('title', {}, `${options.title}: ${total} predictions`),
    ...yAxis(max, 'count', innerHeight),
    svg('text', { class: 'tick', x: PAD.left, y: HEIGHT - 6 }, low),
    svg('text', { class: 'tick', x: WIDTH - PAD.right, y: HEIGHT - 6, 'text-anchor': 'end' }, high),
    ...bars,
    expected,
  );
  const caption = `${total} predictions, scores ${low} to ${high}${expected ? '; the dashed outline is the reference profile' : ''}`;
  return figure(options.className, options.title, [caption], picture);
}

/**
 * One bar per drift value with its threshold as a dashed line; bars over it are alerts. Each
 * row has its own scale (PSI and KS values differ by orders of magnitude), with the threshold
 * at the same place relative to the row's end when it is the larger.
 */
export function driftChart(options: { title: string; drift: DriftValue[]; className: string }): Elem {
  if (options.drift.length === 0) {
    return figure(
      options.className,
      options.title,
      ['no drift values yet'],
      h('p', { class: 'empty' }, 'Waiting for data…'),
    );
  }
  const rowHeight = 26;
  const labelWidth = 150;
  const height = PAD.top + options.drift.length * rowHeight + 8;
  const innerWidth = WIDTH - labelWidth - PAD.right - 44;
  const rows = options.drift.map((d, i) => {
    const top = PAD.top + i * rowHeight;
    const max = niceMax(Math.max(d.value, d.threshold ?? 0) * 1.25);
    const x = (v: number) => labelWidth + (innerWidth * Math.max(0, Math.min(v, max))) / max;
    return svg(
      'g',
      {
        class: d.alert ? 'drift-row alert' : 'drift-row',
        'data-feature': d.feature,
        'data-method': d.method,
      },
      svg(
        'text',
        { class: 'label', x: labelWidth - 8, y: top + 15, 'text-anchor': 'end' },
        `${d.feature} ${d.method}`,
      ),
      svg('rect', {
        class: 'bar',
        x: labelWidth,
        y: top + 3,
        width: Math.max(1, x(d.value) - labelWidth).toFixed(1),
        height: rowHeight - 8,
      }),
      d.threshold === null
        ? null
        : svg(
            'line',
            { class: 'threshold', x1: x(d.threshold), x2: x(d.threshold), y1: top, y2: top + rowHeight - 2 },
            svg('title', {}, `threshold ${formatNumber(d.threshold, 3)}`),
          ),
      svg('text', { class: 'value', x: x(d.value) + 6, y: top + 15 }, formatNumber(d.value, 3)),
    );
  });
  const alerts = options.drift.filter((d) => d.alert);
  const describe = (d: DriftValue) =>
    `${d.feature} ${d.method} ${formatNumber(d.value, 3)}${d.threshold === null ? '' : ` (threshold ${formatNumber(d.threshold, 3)})`}${d.alert ? ' alert' : ''}`;
  const picture = svg(
    'svg',
    {
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: 'img',
      'aria-label': `${options.title}: ${options.drift.map(describe).join(', ')}`,
      class: 'plot',
    },
    ...rows,
  );
  const caption: CaptionPart[] = [
    alerts.length === 0
      ? 'All values within their thresholds (dashed lines).'
      : `Over the threshold (dashed line): ${alerts.map((d) => `${d.feature} ${d.method} ${formatNumber(d.value, 3)}`).join(', ')}.`,
  ];
  return figure(options.className, options.title, caption, picture);
}
