/**
 * Recent traffic of one model version, for dashboards and window summaries: a ring of one-second
 * slots (requests, errors, predictions, a latency histogram) for the last minute, and the
 * running totals of the current summary window. Every update is a few additions into
 * preallocated arrays; nothing is allocated per request.
 */
import { SCORE_EDGES } from './score-bins.js';

/** Latency bins: log-spaced by 10% from 10 µs (±5% resolution), 170 bins up to ~110 s. */
const LATENCY_MIN_SECONDS = 1e-5;
const LATENCY_RATIO = 1.1;
const LATENCY_BINS = 170;
const LOG_RATIO = Math.log(LATENCY_RATIO);

/** A log-bucketed latency histogram; quantiles to within ±5%. */
export class LatencyHistogram {
  readonly counts = new Uint32Array(LATENCY_BINS);
  total = 0;

  add(seconds: number): void {
    let bin =
      seconds <= LATENCY_MIN_SECONDS ? 0 : Math.floor(Math.log(seconds / LATENCY_MIN_SECONDS) / LOG_RATIO);
    if (!(bin >= 0))
      bin = 0; // NaN
    else if (bin >= LATENCY_BINS) bin = LATENCY_BINS - 1;
    this.counts[bin]!++;
    this.total++;
  }

  addAll(other: LatencyHistogram): void {
    for (let i = 0; i < LATENCY_BINS; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
  }

  clear(): void {
    this.counts.fill(0);
    this.total = 0;
  }

  /** The q-quantile (0..1) in seconds (the bin's geometric middle); null when empty. */
  quantile(q: number): number | null {
    if (this.total === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < LATENCY_BINS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return LATENCY_MIN_SECONDS * LATENCY_RATIO ** (i + 0.5);
    }
    return LATENCY_MIN_SECONDS * LATENCY_RATIO ** LATENCY_BINS;
  }
}

class Slot {
  second = -1;
  requests = 0;
  errors = 0;
  serverErrors = 0;
  predictions = 0;
  readonly latency = new LatencyHistogram();
  readonly scoreCounts = new Uint32Array(SCORE_EDGES.length - 1);

  reset(second: number): void {
    this.second = second;
    this.requests = 0;
    this.errors = 0;
    this.serverErrors = 0;
    this.predictions = 0;
    this.latency.clear();
    this.scoreCounts.fill(0);
  }
}

/** Totals over the last N seconds. */
export interface TrafficTotals {
  seconds: number;
  requests: number;
  errors: number;
  serverErrors: number;
  predictions: number;
  requestsPerSecond: number;
  predictionsPerSecond: number;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  /** Predictions per score bin (edges SCORE_EDGES). */
  scoreCounts: number[];
}

/** One point of the time series. */
export interface TrafficPoint {
  /** Start of the second, ms since the epoch. */
  t: number;
  requests: number;
  errors: number;
  predictions: number;
  /** Requests per second (the point is one second long). */
  throughput: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/** The current summary window's running totals. */
export interface TrafficWindow {
  startedAt: number;
  requests: number;
  errors: number;
  predictions: number;
  latency: LatencyHistogram;
  scoreCounts: Float64Array;
}

/** Slots kept: one minute at one-second resolution. */
export const SERIES_SECONDS = 60;

const ms = (seconds: number | null) => (seconds === null ? null : Number((seconds * 1000).toPrecision(4)));

export class TrafficStats {
  private readonly slots = Array.from({ length: SERIES_SECONDS }, () => new Slot());
  private window: TrafficWindow;
  private spare: TrafficWindow;
  readonly createdAt: number;
  /** Totals since the monitor started. */
  readonly total = { requests: 0, errors: 0, predictions: 0 };

  constructor(now: number) {
    this.createdAt = now;
    this.window = TrafficStats.emptyWindow(now);
    this.spare = TrafficStats.emptyWindow(now);
  }

  private static emptyWindow(startedAt: number): TrafficWindow {
    return {
      startedAt,
      requests: 0,
      errors: 0,
      predictions: 0,
      latency: new LatencyHistogram(),
      scoreCounts: new Float64Array(SCORE_EDGES.length - 1),
    };
  }

  private slot(now: number): Slot {
    const second = Math.floor(now / 1000);
    const slot = this.slots[second % SERIES_SECONDS]!;
    if (slot.second !== second) slot.reset(second);
    return slot;
  }

  onRequest(now: number, status: number, seconds: number): void {
    const slot = this.slot(now);
    const w = this.window;
    slot.requests++;
    w.requests++;
    this.total.requests++;
    if (status >= 400) {
      slot.errors++;
      w.errors++;
      this.total.errors++;
      if (status >= 500) slot.serverErrors++;
    }
    slot.latency.add(seconds);
    w.latency.add(seconds);
  }

  onPrediction(now: number, scoreBin: number): void {
    const slot = this.slot(now);
    slot.predictions++;
    slot.scoreCounts[scoreBin]!++;
    this.window.predictions++;
    this.window.scoreCounts[scoreBin]!++;
    this.total.predictions++;
  }

  /** Totals over the last `seconds` (≤ 60) whole and current seconds. */
  last(seconds: number, now: number): TrafficTotals {
    const current = Math.floor(now / 1000);
    const latency = new LatencyHistogram();
    const totals = { requests: 0, errors: 0, serverErrors: 0, predictions: 0 };
    const scoreCounts = new Array<number>(SCORE_EDGES.length - 1).fill(0);
    for (const slot of this.slots) {
      if (slot.second <= current - seconds || slot.second > current) continue;
      for (let b = 0; b < scoreCounts.length; b++) scoreCounts[b]! += slot.scoreCounts[b]!;
      totals.requests += slot.requests;
      totals.errors += slot.errors;
      totals.serverErrors += slot.serverErrors;
      totals.predictions += slot.predictions;
      latency.addAll(slot.latency);
    }
    // Rates over the time actually covered: a model loaded 3 s ago is not averaged over 60 s.
    const span = Math.max(1, Math.min(seconds, (now - this.createdAt) / 1000));
    return {
      seconds,
      ...totals,
      requestsPerSecond: Number((totals.requests / span).toPrecision(6)),
      predictionsPerSecond: Number((totals.predictions / span).toPrecision(6)),
      latencyMs: {
        p50: ms(latency.quantile(0.5)),
        p95: ms(latency.quantile(0.95)),
        p99: ms(latency.quantile(0.99)),
      },
      scoreCounts,
    };
  }

  /** The last minute, one point per second, oldest first (seconds without traffic are zeros). */
  series(now: number): TrafficPoint[] {
    const current = Math.floor(now / 1000);
    const points: TrafficPoint[] = [];
    for (let second = current - SERIES_SECONDS + 1; second <= current; second++) {
      const slot = this.slots[second % SERIES_SECONDS]!;
      const live = slot.second === second;
      points.push({
        t: second * 1000,
        requests: live ? slot.requests : 0,
        errors: live ? slot.errors : 0,
        predictions: live ? slot.predictions : 0,
        throughput: live ? slot.requests : 0,
        p50Ms: live ? ms(slot.latency.quantile(0.5)) : null,
        p95Ms: live ? ms(slot.latency.quantile(0.95)) : null,
        p99Ms: live ? ms(slot.latency.quantile(0.99)) : null,
      });
    }
    return points;
  }

  /**
   * Ends the current summary window and starts the next at `now`; the returned window is valid
   * until the next call (its buffers are reused).
   */
  takeWindow(now: number): TrafficWindow {
    const ended = this.window;
    this.window = this.spare;
    this.spare = ended;
    const next = this.window;
    next.startedAt = now;
    next.requests = 0;
    next.errors = 0;
    next.predictions = 0;
    next.latency.clear();
    next.scoreCounts.fill(0);
    return ended;
  }
}
