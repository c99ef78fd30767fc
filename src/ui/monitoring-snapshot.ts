/**
 * A running server's `GET /v1/monitoring` snapshot, and the JSON columns of recorded
 * monitoring windows, read into the one shape the dashboard draws (api-types.ts). Tolerant:
 * camelCase or snake_case keys, models as a list or keyed by name, drift as a list or keyed by
 * feature, latency in milliseconds or seconds. Anything unreadable becomes null or empty,
 * never an exception: a server of another version must not blank the page.
 */
import type { DriftValue, Histogram, LiveModel, SeriesPoint } from './api-types.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first of `keys` that `source` has (not undefined). */
function pick(source: Json, ...keys: string[]): unknown {
  for (const key of keys) if (source[key] !== undefined) return source[key];
  return undefined;
}

/** A finite number (numeric strings too), else null. */
export function numberOrNull(value: unknown): number | null {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

function numbers(value: unknown): number[] | null {
  if (!Array.isArray(value)) return null;
  const list = value.map(numberOrNull);
  return list.every((n): n is number => n !== null) ? list : null;
}

/** JSON text (as stored) or an already parsed value. */
export function parseJsonValue(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/**
 * A histogram: `{edges, counts}` (edges one longer), `{counts, min, max}` (equal buckets,
 * default 0..1), or a list of `{from|lower, to|upper|le, count}` buckets; with `reference`,
 * the share of each bucket in the model's reference profile.
 */
export function readHistogram(raw: unknown): Histogram | null {
  const value = parseJsonValue(raw);
  if (Array.isArray(value)) {
    const buckets = value.filter(isObject);
    if (buckets.length === 0) return null;
    const edges: number[] = [];
    const counts: number[] = [];
    for (const [i, bucket] of buckets.entries()) {
      const from = numberOrNull(pick(bucket, 'from', 'lower', 'min', 'ge'));
      const to = numberOrNull(pick(bucket, 'to', 'upper', 'max', 'le', 'lt'));
      const count = numberOrNull(pick(bucket, 'count', 'n', 'value'));
      if (to === null || count === null) return null;
      if (i === 0) edges.push(from ?? 0);
      edges.push(to);
      counts.push(count);
    }
    return { edges, counts, reference: null };
  }
  if (!isObject(value)) return null;
  const counts = numbers(pick(value, 'counts', 'count', 'values'));
  if (!counts || counts.length === 0) return null;
  const given = numbers(pick(value, 'reference', 'referenceFractions', 'expected'));
  const reference = given && given.length === counts.length ? given : null;
  const edges = numbers(pick(value, 'edges', 'bounds', 'boundaries', 'bins'));
  if (edges && edges.length === counts.length + 1) return { edges, counts, reference };
  const min = numberOrNull(pick(value, 'min', 'lower')) ?? 0;
  const max = numberOrNull(pick(value, 'max', 'upper')) ?? 1;
  const step = (max - min) / counts.length;
  return { edges: counts.map((_, i) => min + i * step).concat(max), counts, reference };
}

const DRIFT_METHODS = ['psi', 'ks', 'js', 'kl', 'wasserstein', 'chi2'];

/**
 * The drift values of one feature: `{value, method, threshold, alert}`, or one value per
 * method (`{psi, ks, alert, thresholds: {psi, ks}}`). A feature-level alert flag marks the
 * methods over their thresholds (all of them when none is over: the server knows best).
 */
function driftEntry(feature: string, source: Json): DriftValue[] {
  const explicit = numberOrNull(pick(source, 'value', 'statistic', 'distance'));
  const thresholds = isObject(source.thresholds) ? source.thresholds : {};
  const flag = pick(source, 'alert', 'alerting', 'drift', 'drifted', 'firing');
  if (explicit !== null) {
    const method = String(pick(source, 'method', 'metric', 'test', 'kind') ?? 'drift');
    const threshold = numberOrNull(pick(source, 'threshold', 'limit')) ?? numberOrNull(thresholds[method]);
    const over = threshold !== null && explicit > threshold;
    return [{ feature, method, value: explicit, threshold, alert: typeof flag === 'boolean' ? flag : over }];
  }
  const found: DriftValue[] = [];
  for (const method of DRIFT_METHODS) {
    const value = numberOrNull(source[method]);
    if (value === null) continue;
    const threshold =
      numberOrNull(thresholds[method]) ??
      numberOrNull(source[`${method}Threshold`]) ??
      numberOrNull(source[`${method}_threshold`]) ??
      numberOrNull(source.threshold);
    found.push({ feature, method, value, threshold, alert: threshold !== null && value > threshold });
  }
  if (typeof flag === 'boolean') {
    const anyOver = found.some((d) => d.alert);
    for (const d of found) d.alert = flag && (d.alert || !anyOver);
  }
  return found;
}

/** Drift values: a list of `{feature, method, value, threshold, alert}`, or keyed by feature. */
export function readDrift(raw: unknown): DriftValue[] {
  const value = parseJsonValue(raw);
  const found: DriftValue[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (!isObject(item)) continue;
      const feature = pick(item, 'feature', 'name', 'input', 'statistic');
      found.push(...driftEntry(typeof feature === 'string' ? feature : 'input', item));
    }
  } else if (isObject(value)) {
    const inner = isObject(value.features) ? value.features : value;
    for (const [feature, entry] of Object.entries(inner)) {
      if (isObject(entry)) found.push(...driftEntry(feature, entry));
      else {
        const n = numberOrNull(entry);
        if (n !== null) found.push({ feature, method: 'drift', value: n, threshold: null, alert: false });
      }
    }
  }
  return found;
}

/** p50/p95/p99 in milliseconds, from `latencyMs`, `latency_ms`, `latencySeconds`, or flat keys. */
function readLatency(source: Json): LiveModel['latencyMs'] {
  const ms = pick(source, 'latencyMs', 'latency_ms');
  const seconds = pick(source, 'latencySeconds', 'latency_seconds');
  const plain = source.latency;
  const from = (group: unknown, scale: number) => {
    if (!isObject(group)) return null;
    const q = (name: string) => {
      const n = numberOrNull(
        pick(group, name, `${name}Ms`, `${name}_ms`, name.replace('p', 'q'), `0.${name.slice(1)}`),
      );
      return n === null ? null : n * scale;
    };
    return { p50: q('p50'), p95: q('p95'), p99: q('p99') };
  };
  const latency = from(ms, 1) ?? from(seconds, 1000) ?? from(plain, 1);
  if (latency) return latency;
  const flat = (name: string) => {
    const inMs = numberOrNull(pick(source, `${name}Ms`, `${name}_ms`));
    if (inMs !== null) return inMs;
    const inSeconds = numberOrNull(pick(source, `${name}Seconds`, `${name}_seconds`));
    return inSeconds === null ? null : inSeconds * 1000;
  };
  return { p50: flat('p50'), p95: flat('p95'), p99: flat('p99') };
}

function readAccuracy(source: Json): { value: number | null; labelled: number | null } {
  const raw = pick(source, 'liveAccuracy', 'live_accuracy', 'accuracy');
  if (isObject(raw)) {
    return {
      value: numberOrNull(pick(raw, 'value', 'accuracy')),
      labelled: numberOrNull(pick(raw, 'labelled', 'labeled', 'count', 'n', 'window')),
    };
  }
  return {
    value: numberOrNull(raw),
    labelled: numberOrNull(pick(source, 'labelled', 'labeled', 'labelledCount', 'feedback')),
  };
}

function timeOf(value: unknown): string {
  if (typeof value === 'string') return value;
  const n = numberOrNull(value);
  if (n === null) return '';
  // Seconds or milliseconds since the epoch.
  return new Date(n < 1e11 ? n * 1000 : n).toISOString();
}

function readSeries(raw: unknown): SeriesPoint[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(isObject).map((point) => {
    const latency = readLatency(point);
    return {
      at: timeOf(pick(point, 'at', 'time', 'timestamp', 't', 'endedAt', 'ended_at')),
      throughput: numberOrNull(pick(point, 'throughput', 'rps', 'requestsPerSecond')),
      ...latency,
      accuracy: readAccuracy(point).value,
    };
  });
}

/** One model version's statistics. */
export function readLiveModel(source: Json, name?: string, version?: string): LiveModel {
  const drift = readDrift(pick(source, 'drift', 'driftValues'));
  const accuracy = readAccuracy(source);
  const flag = pick(source, 'alert', 'alerting', 'driftAlert');
  return {
    model: String(pick(source, 'model', 'name') ?? name ?? 'model'),
    version: String(pick(source, 'version') ?? version ?? ''),
    requests: numberOrNull(pick(source, 'requests', 'requestsTotal', 'requests_total')),
    errors: numberOrNull(pick(source, 'errors', 'errorsTotal', 'errors_total')),
    throughput: numberOrNull(pick(source, 'throughput', 'rps', 'requestsPerSecond')),
    latencyMs: readLatency(source),
    scores: readHistogram(pick(source, 'scores', 'scoreHistogram', 'score_histogram')),
    drift,
    alert: flag === true || (isObject(flag) && flag.active === true) || drift.some((d) => d.alert),
    liveAccuracy: accuracy.value,
    labelled: accuracy.labelled,
    series: readSeries(pick(source, 'series', 'timeseries', 'timeSeries', 'history')),
  };
}

/**
 * Every model version of a snapshot: `models` as a list, or keyed by `name` (then by version,
 * or `name@version`), or the snapshot itself for a one-model server.
 */
export function readSnapshot(raw: unknown): { monitoring: boolean; models: LiveModel[] } {
  if (!isObject(raw)) return { monitoring: true, models: [] };
  if (raw.monitoring === 'off' || raw.monitoring === false) return { monitoring: false, models: [] };
  const models = raw.models;
  if (Array.isArray(models)) {
    return { monitoring: true, models: models.filter(isObject).map((m) => readLiveModel(m)) };
  }
  if (isObject(models)) {
    const found: LiveModel[] = [];
    for (const [key, entry] of Object.entries(models)) {
      if (!isObject(entry)) continue;
      const at = key.lastIndexOf('@');
      const [name, version] = at > 0 ? [key.slice(0, at), key.slice(at + 1)] : [key, undefined];
      const versions = isObject(entry.versions) ? entry.versions : undefined;
      if (versions) {
        for (const [v, stats] of Object.entries(versions))
          if (isObject(stats)) found.push(readLiveModel(stats, name, v));
      } else found.push(readLiveModel(entry, name, version));
    }
    return { monitoring: true, models: found };
  }
  if (pick(raw, 'model', 'name') !== undefined) return { monitoring: true, models: [readLiveModel(raw)] };
  return { monitoring: true, models: [] };
}
