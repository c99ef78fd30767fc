/**
 * What the inference server tells monitoring, and asks of it. The server calls these hooks on
 * its hot path (they must be cheap and never throw); monitoring keeps Prometheus metrics, the
 * prediction log, live accuracy from delayed labels, and drift against the model's reference
 * profile. `NO_MONITORING` turns all of it off (for measuring what monitoring costs).
 */
import type { ReferenceProfile } from '../model/bundle-format.js';

export interface RequestEvent {
  model: string;
  version: string;
  /** e.g. 'infer', 'predict', 'feedback', 'metadata', 'health' */
  endpoint: string;
  status: number;
  /** Wall time of the whole request, in seconds. */
  durationSeconds: number;
  /** Time spent waiting in the batch queue, in seconds (0 when not batched). */
  queueSeconds: number;
}

/** One prediction as monitoring sees it. */
export interface PredictionEvent {
  /** Returned to the caller, to send a label for later (`POST /v1/feedback`). */
  id: string;
  model: string;
  version: string;
  /** The input text; monitoring may keep only its hash (privacy) or sample it. */
  text: string;
  tokens: number;
  oovRate: number;
  score: number;
  label: string;
}

export interface FeedbackResult {
  /** false: no logged prediction has this id (not sampled, expired, or unknown). */
  matched: boolean;
}

/** What the server reports besides requests (added with monitoring; `onModelLoaded` records `model-loaded`). */
export type ServingEventKind =
  | 'server-started'
  | 'server-stopped'
  | 'model-swapped'
  | 'model-load-failed'
  | 'model-unloaded';

export interface ServingEvent {
  kind: ServingEventKind;
  model?: string | undefined;
  version?: string | undefined;
  /** One line for people, e.g. 'imdb-sentiment 3 replaces 2'. */
  message: string;
  /** Details: `previousVersion` (model-swapped), `error` (model-load-failed), `port`… No secrets. */
  properties?: Record<string, unknown> | undefined;
}

export interface Monitor {
  onRequest(event: RequestEvent): void;
  onBatch(model: string, version: string, size: number): void;
  onPredictions(events: PredictionEvent[]): void;
  onModelLoaded(model: string, version: string, seconds: number): void;
  feedback(id: string, label: string): FeedbackResult;
  /** The Prometheus exposition text for `GET /metrics`. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** A JSON snapshot for dashboards: throughput, latency quantiles, scores, drift, accuracy. */
  snapshot(): Record<string, unknown>;
  close(): Promise<void>;
  /**
   * Added with monitoring (optional, so other monitors need not implement it): the reference
   * profile (the bundle's profile.json) that drift of this model version is measured against.
   * Call it before `onModelLoaded` (or give `createMonitor` a `profileFor` callback instead).
   */
  addModel?(model: string, version: string, profile: ReferenceProfile | undefined): void;
  /** Added with monitoring (optional): a serving event, for the logs and the metadata store. */
  onServingEvent?(event: ServingEvent): void;
  /**
   * Optional: whether the server should compute the input statistics (token count,
   * out-of-vocabulary rate) of the next `count` texts. Drift samples a busy server's predictions;
   * a prediction without statistics (`oovRate` NaN) is counted everywhere but in the drift window.
   * Without it, every prediction gets them.
   */
  wantsInputStatistics?(count: number): boolean;
}

/** Monitoring off: every hook does nothing. */
export const NO_MONITORING: Monitor = {
  onRequest() {},
  onBatch() {},
  onPredictions() {},
  onModelLoaded() {},
  feedback: () => ({ matched: false }),
  metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: '' }),
  snapshot: () => ({ monitoring: 'off' }),
  close: async () => {},
};
