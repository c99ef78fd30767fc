/** Values as people read them: numbers, sizes, digests, times, durations, flattened keys. */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{train: {epochs: 5}}` → `{'train.epochs': 5}`, as `ledge runs show` compares them. */
export function flatten(value: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const dotted = prefix ? `${prefix}.${key}` : key;
    if (isPlainObject(child)) Object.assign(flat, flatten(child, dotted));
    else flat[dotted] = child;
  }
  return flat;
}

/** A number without float noise: 0.9123456789 → "0.912346", 41 → "41". */
export function formatNumber(value: number, digits = 6): string {
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(digits)));
}

export function formatValue(value: unknown): string {
  if (value === undefined) return '–';
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** A change column: "+2", "-0.04", "added", "removed", "changed". */
export function formatChange(row: { change: string; delta?: number }): string {
  if (row.delta !== undefined) return `${row.delta > 0 ? '+' : ''}${formatNumber(row.delta)}`;
  return row.change;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** `sha256:` and the first 12 hex digits, as the CLI shows digests. */
export function shortDigest(digest: string): string {
  return /^sha256:[0-9a-f]{64}$/.test(digest) ? digest.slice(0, 19) : digest;
}

/** "2026-11-27 12:08:56" (UTC, as recorded). */
export function formatTime(iso: string | null): string {
  if (!iso) return '–';
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

/** Only the clock time: "12:08:56". */
export function clockTime(iso: string): string {
  const match = /T(\d\d:\d\d:\d\d)/.exec(iso);
  return match ? match[1]! : iso;
}

export function duration(start: string, end: string | null): string {
  if (!end) return '–';
  const ms = Date.parse(end) - Date.parse(start);
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A few metrics for one line: accuracy-like first, at most four, as `ledge runs list` does. */
export function headlineMetrics(metrics: Record<string, unknown>): string {
  const flat = flatten(metrics);
  const keys = Object.keys(flat).filter((k) => typeof flat[k] === 'number');
  const rank = (k: string) => (/accuracy/.test(k) ? 0 : /auc|f1|loss/.test(k) ? 1 : 2);
  keys.sort((a, b) => rank(a) - rank(b));
  const shown = keys.slice(0, 4).map((k) => `${k}=${formatValue(flat[k])}`);
  return shown.join(' ') + (keys.length > 4 ? ` (+${keys.length - 4})` : '');
}

export function percent(value: number | null): string {
  return value === null ? '–' : `${formatNumber(value * 100, 3)}%`;
}

/** A measurement with its unit, or a dash. */
export function measure(value: number | null, unit: string, digits = 3): string {
  return value === null ? '–' : `${formatNumber(value, digits)} ${unit}`;
}
