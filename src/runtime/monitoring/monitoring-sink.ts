/**
 * Where monitoring history goes: window summaries and serving events. The runtime does not
 * know the metadata store (it ships to devices without it); whoever starts the server injects
 * an implementation — `MonitoringRecords` in src/metadata/monitoring-records.ts writes the
 * `monitoring_windows` and `serving_events` tables. Calls may fail: the monitor logs the
 * failure and goes on, it never throws into serving.
 */

export type DriftFeature = 'token_count' | 'oov_rate' | 'score';

export const DRIFT_FEATURES: readonly DriftFeature[] = ['token_count', 'oov_rate', 'score'];

/** One feature's drift at the last evaluation. */
export interface FeatureDrift {
  /** Population stability index over the reference histogram's bins. */
  psi: number;
  /** Kolmogorov–Smirnov statistic (see docs/monitoring.md for the approximation). */
  ks: number;
  /** Whether the feature's alert is firing. */
  alert: boolean;
  /** The alert fires when psi > thresholds.psi or ks > thresholds.ks. */
  thresholds: { psi: number; ks: number };
}

export interface DriftSummary {
  /** Live predictions in the sliding window when it was evaluated. */
  samples: number;
  /** ISO time of the evaluation. */
  evaluatedAt: string;
  features: Record<DriftFeature, FeatureDrift>;
}

/** Scores of the predictions in one window, binned. */
export interface ScoreHistogram {
  /** Bin edges; values below the first edge count in the first bin, at or above the last in the last. */
  edges: number[];
  counts: number[];
}

/** One model version's traffic over one window (default 10 s). */
export interface WindowSummary {
  server: string;
  model: string;
  version: string;
  /** ISO times: the window is [startedAt, endedAt). */
  startedAt: string;
  endedAt: string;
  requests: number;
  /** Requests answered with a status ≥ 400. */
  errors: number;
  /** Requests per second over the window. */
  throughput: number;
  predictions: number;
  /** Request latency quantiles in milliseconds; null without requests. */
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  /** Live accuracy over the accuracy window at the window's end; null before any label. */
  liveAccuracy: number | null;
  /** Labels in the accuracy window at the window's end. */
  labelled: number;
  scores: ScoreHistogram;
  /** null when the model version has no reference profile or too few samples yet. */
  drift: DriftSummary | null;
}

export type ServingEventRecordKind =
  | 'server-started'
  | 'server-stopped'
  | 'model-loaded'
  | 'model-swapped'
  | 'model-load-failed'
  | 'model-unloaded'
  | 'drift-alert-fired'
  | 'drift-alert-cleared';

export interface ServingEventRecord {
  /** ISO time. */
  at: string;
  server: string;
  kind: ServingEventRecordKind;
  model: string | null;
  version: string | null;
  message: string;
  properties: Record<string, unknown>;
}

export interface MonitoringSink {
  recordWindow(summary: WindowSummary): Promise<void>;
  recordEvent(event: ServingEventRecord): Promise<void>;
}
