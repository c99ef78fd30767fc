/**
 * The inference server's monitor: Prometheus metrics, structured logs, the sampled prediction
 * log, live accuracy from delayed labels, drift against each model version's reference profile
 * with alerts (log line, webhook), a JSON snapshot for dashboards, and window summaries and
 * serving events for the metadata store (through an injected sink). The server calls the hooks
 * of `Monitor` on its hot path: they only add numbers into preallocated state, never throw, and
 * leave anything slow (drift evaluation, disk, network, database) to later ticks.
 */
import os from 'node:os';
import { LedgeError } from '../../core/errors.js';
import type { ReferenceProfile } from '../model/bundle-format.js';
import { type DriftAlertPayload, postJson, type WebhookOptions } from './alert-webhook.js';
import {
  DEFAULT_DRIFT_OPTIONS,
  type DriftOptions,
  type DriftTransition,
  DriftWindow,
} from './drift-detector.js';
import { createJsonLogger, type LogFields, type Logger, redactUrl } from './json-logger.js';
import { AccuracyWindow } from './live-accuracy.js';
import type { FeedbackResult, Monitor, PredictionEvent, RequestEvent, ServingEvent } from './monitor.js';
import {
  DRIFT_FEATURES,
  type MonitoringSink,
  type ServingEventRecordKind,
  type WindowSummary,
} from './monitoring-sink.js';
import { PredictionLog, type PredictionLogOptions } from './prediction-log.js';
import { type SeriesMetrics, ServingMetrics } from './prometheus-metrics.js';
import { RecentPredictions } from './recent-predictions.js';
import { SCORE_EDGES, scoreBin } from './score-bins.js';
import { SERIES_SECONDS, TrafficStats } from './traffic-stats.js';

export interface MonitorOptions {
  /** Names this server in logs, window summaries and events (default `<hostname>:<pid>`). */
  server?: string;
  /** Structured JSON logs (default: JSON lines on stderr, level info). */
  logger?: Logger;
  /** Where window summaries and serving events go (default: nowhere). */
  sink?: MonitoringSink;
  /** Seconds per window summary sent to the sink (default 10). */
  windowSeconds?: number;
  /**
   * The reference profile of a model version (its bundle's profile.json), asked once when the
   * version is first seen or loaded. `addModel` gives it directly instead.
   */
  profileFor?: (model: string, version: string) => ReferenceProfile | undefined;
  predictionLog?: Partial<PredictionLogOptions> & {
    /** Share of predictions logged and remembered for feedback, 0..1 (default 1: all). */
    sampleRate?: number;
    /** Remember this many logged predictions for feedback (default 100,000). */
    rememberLast?: number;
    /** …for at most this long (default 86,400 s: a day). */
    rememberSeconds?: number;
  };
  accuracy?: {
    /** Live accuracy over the last N labels (default 1,000). */
    windowLabels?: number;
    /** …and only labels younger than this (default: no age limit). */
    windowSeconds?: number;
  };
  drift?: Partial<DriftOptions> & {
    /** Also evaluate every N seconds when new predictions arrived (default 10). */
    evaluateIntervalSeconds?: number;
    /**
     * On the prediction path, evaluate at most this often (default 0.25 s; 0: every
     * `evaluateEvery` predictions). A busy server then sorts its windows a few times a second
     * rather than after every 100 predictions; the window itself still holds every prediction.
     */
    minEvaluationSeconds?: number;
    /**
     * Predictions a second that get input statistics and enter the drift window, at most
     * (default: `windowSize` a second). A busy server then computes the out-of-vocabulary rate
     * for a sample, and its window spans at least a second of traffic instead of a fraction of
     * one; every prediction is still counted in the metrics and the score histogram. With a
     * prediction log, every prediction gets its statistics (the log records them).
     */
    maxSamplesPerSecond?: number;
  };
  /** POSTed a JSON body when a drift alert fires or resolves. */
  webhook?: WebhookOptions;
  /** prom-client's process and Node.js metrics (default true). */
  defaultMetrics?: boolean;
  /** Model versions tracked separately; more fold into model "" (default 64). */
  maxSeries?: number;
  /** Clock (ms since the epoch) and randomness (sampling), for tests. */
  now?: () => number;
  random?: () => number;
}

/** One model version's monitoring state. */
class Series {
  readonly traffic: TrafficStats;
  readonly accuracy: AccuracyWindow;
  drift: DriftWindow | undefined;
  profileKnown = false;
  loaded = false;
  loadSeconds: number | undefined;
  evaluationQueued = false;
  /** When drift was last evaluated (the monitor's clock). */
  driftEvaluatedAt = Number.NEGATIVE_INFINITY;
  labelsInWindow = 0;

  constructor(
    readonly model: string,
    readonly version: string,
    readonly metrics: SeriesMetrics,
    now: number,
    accuracy: AccuracyWindow,
  ) {
    this.traffic = new TrafficStats(now);
    this.accuracy = accuracy;
  }
}

const sameEdges = (a: number[], b: number[]) =>
  a.length === b.length && a.every((edge, i) => Math.abs(edge - b[i]!) < 1e-9);

const badOption = (name: string, expected: string, value: unknown) =>
  new LedgeError('config', `monitoring option ${name}: expected ${expected}, got ${String(value)}`, {
    hint: 'see docs/monitoring.md for the options and their defaults',
  });

const positive = (value: number | undefined, fallback: number, name: string): number => {
  if (value === undefined) return fallback;
  if (!(value > 0) || !Number.isFinite(value)) throw badOption(name, 'a positive number', value);
  return value;
};

const count = (value: number | undefined, fallback: number, name: string): number => {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw badOption(name, 'a positive integer', value);
  return value;
};

export class ServingMonitor implements Monitor {
  readonly server: string;
  readonly logger: Logger;
  readonly prometheus: ServingMetrics;
  private readonly sink: MonitoringSink | undefined;
  private readonly profileFor: MonitorOptions['profileFor'];
  private readonly driftOptions: DriftOptions;
  private readonly minEvaluationMs: number;
  /** The drift sample's token bucket: predictions a second, and what is left now. */
  private readonly samplesPerSecond: number;
  private sampleBudget: number;
  private sampleBudgetAt: number;
  private readonly accuracyOptions: { labels: number; seconds: number | undefined };
  private readonly sampleRate: number;
  private readonly predictionLog: PredictionLog | undefined;
  private readonly recent: RecentPredictions<Series>;
  private readonly webhook: WebhookOptions | undefined;
  private readonly windowSeconds: number;
  private readonly maxSeries: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly startedAt: number;
  private readonly states = new Map<string, Map<string, Series>>();
  private seriesCount = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inflight = new Set<Promise<unknown>>();
  private sinkQueue: Promise<void> = Promise.resolve();
  private sinkPending = 0;
  private readonly lastHookError = new Map<string, number>();
  private closing: Promise<void> | undefined;
  /** Requests and predictions noted by the hooks, not yet applied, with their times. */
  private readonly pendingRequests: RequestEvent[] = [];
  private readonly pendingRequestTimes: number[] = [];
  private readonly pendingPredictions: PredictionEvent[][] = [];
  private readonly pendingPredictionTimes: number[] = [];
  private applyQueued = false;

  constructor(options: MonitorOptions = {}) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.startedAt = this.now();
    this.server = options.server ?? `${os.hostname()}:${process.pid}`;
    this.logger = options.logger ?? createJsonLogger();
    this.sink = options.sink;
    this.profileFor = options.profileFor;
    const drift = options.drift ?? {};
    this.driftOptions = {
      windowSize: count(drift.windowSize, DEFAULT_DRIFT_OPTIONS.windowSize, 'drift.windowSize'),
      evaluateEvery: count(drift.evaluateEvery, DEFAULT_DRIFT_OPTIONS.evaluateEvery, 'drift.evaluateEvery'),
      minSamples: count(drift.minSamples, DEFAULT_DRIFT_OPTIONS.minSamples, 'drift.minSamples'),
      psiThreshold: positive(drift.psiThreshold, DEFAULT_DRIFT_OPTIONS.psiThreshold, 'drift.psiThreshold'),
      ksThreshold: positive(drift.ksThreshold, DEFAULT_DRIFT_OPTIONS.ksThreshold, 'drift.ksThreshold'),
    };
    if (this.driftOptions.minSamples > this.driftOptions.windowSize) {
      throw badOption(
        'drift.minSamples',
        `at most drift.windowSize (${this.driftOptions.windowSize})`,
        drift.minSamples,
      );
    }
    this.accuracyOptions = {
      labels: count(options.accuracy?.windowLabels, 1000, 'accuracy.windowLabels'),
      seconds:
        options.accuracy?.windowSeconds === undefined
          ? undefined
          : positive(options.accuracy.windowSeconds, 0, 'accuracy.windowSeconds'),
    };
    const log = options.predictionLog ?? {};
    this.sampleRate = log.sampleRate ?? 1;
    if (!(this.sampleRate >= 0 && this.sampleRate <= 1)) {
      throw badOption('predictionLog.sampleRate', 'a share from 0 to 1', this.sampleRate);
    }
    if (log.maxFileBytes !== undefined) positive(log.maxFileBytes, 0, 'predictionLog.maxFileBytes');
    if (log.keepFiles !== undefined) count(log.keepFiles, 0, 'predictionLog.keepFiles');
    this.predictionLog = log.dir ? new PredictionLog({ ...log, dir: log.dir }, this.logger) : undefined;
    this.recent = new RecentPredictions({
      maxEntries: count(log.rememberLast, 100_000, 'predictionLog.rememberLast'),
      maxAgeSeconds: positive(log.rememberSeconds, 86_400, 'predictionLog.rememberSeconds'),
    });
    this.webhook = options.webhook;
    this.windowSeconds = positive(options.windowSeconds, 10, 'windowSeconds');
    this.maxSeries = count(options.maxSeries, 64, 'maxSeries');
    const evaluateInterval = positive(drift.evaluateIntervalSeconds, 10, 'drift.evaluateIntervalSeconds');
    const minEvaluation = drift.minEvaluationSeconds ?? 0.25;
    if (!(minEvaluation >= 0 && Number.isFinite(minEvaluation)))
      throw badOption('drift.minEvaluationSeconds', 'a number of seconds ≥ 0', minEvaluation);
    this.minEvaluationMs = minEvaluation * 1000;
    this.samplesPerSecond = positive(
      drift.maxSamplesPerSecond,
      this.driftOptions.windowSize,
      'drift.maxSamplesPerSecond',
    );
    this.sampleBudget = this.driftOptions.windowSize;
    this.sampleBudgetAt = this.startedAt;
    const predictionLog = this.predictionLog;
    this.prometheus = new ServingMetrics({
      defaultMetrics: options.defaultMetrics ?? true,
      predictionLog: predictionLog ? () => predictionLog.stats() : undefined,
    });
    const every = (seconds: number, task: () => void) => {
      const timer = setInterval(() => {
        try {
          task();
        } catch (error) {
          this.hookFailed('timer', error);
        }
      }, seconds * 1000);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.windowSeconds, () => this.flushWindows());
    every(evaluateInterval, () => this.evaluateDrift());
  }

  // --- hooks the server calls (hot path) -------------------------------------------------
  //
  // `onRequest` and `onPredictions` only note the event and its time; the work is done after
  // the responses of this event-loop turn are written (setImmediate), or before anything reads
  // the monitor's state (feedback, metrics, snapshots, drift, windows, close). A request then
  // waits for no monitoring, and a label sent right after its prediction still finds it (the
  // pending work runs before the next turn reads new requests).

  onRequest(event: RequestEvent): void {
    this.pendingRequests.push(event);
    this.pendingRequestTimes.push(this.now());
    this.applyPendingSoon();
  }

  onPredictions(events: PredictionEvent[]): void {
    this.pendingPredictions.push(events);
    this.pendingPredictionTimes.push(this.now());
    this.applyPendingSoon();
  }

  private applyPendingSoon(): void {
    if (this.applyQueued) return;
    this.applyQueued = true;
    setImmediate(() => this.applyPending());
  }

  /** Applies the noted requests and predictions, in order. */
  private applyPending(): void {
    this.applyQueued = false;
    if (this.pendingRequests.length > 0) {
      const events = this.pendingRequests.splice(0);
      const times = this.pendingRequestTimes.splice(0);
      for (let i = 0; i < events.length; i++) this.applyRequest(events[i]!, times[i]!);
    }
    if (this.pendingPredictions.length > 0) {
      const batches = this.pendingPredictions.splice(0);
      const times = this.pendingPredictionTimes.splice(0);
      for (let i = 0; i < batches.length; i++) this.applyPredictions(batches[i]!, times[i]!);
    }
  }

  private applyRequest(event: RequestEvent, now: number): void {
    try {
      const series = this.series(event.model, event.version, false);
      const seconds =
        event.durationSeconds >= 0 && Number.isFinite(event.durationSeconds) ? event.durationSeconds : 0;
      series.traffic.onRequest(now, event.status, seconds);
      series.metrics.requestCell(event.endpoint, event.status).value++;
      series.metrics.requestDuration.observe(seconds);
      if (event.queueSeconds > 0 && Number.isFinite(event.queueSeconds)) {
        series.metrics.queueDuration.observe(event.queueSeconds);
      }
    } catch (error) {
      this.hookFailed('onRequest', error);
    }
  }

  onBatch(model: string, version: string, size: number): void {
    try {
      if (size > 0 && Number.isFinite(size))
        this.series(model, version, false).metrics.batchSize.observe(size);
    } catch (error) {
      this.hookFailed('onBatch', error);
    }
  }

  wantsInputStatistics(count: number): boolean {
    if (this.predictionLog) return true;
    const now = this.now();
    const capacity = this.driftOptions.windowSize;
    this.sampleBudget = Math.min(
      capacity,
      this.sampleBudget + (Math.max(0, now - this.sampleBudgetAt) / 1000) * this.samplesPerSecond,
    );
    this.sampleBudgetAt = now;
    if (this.sampleBudget < Math.min(count, capacity)) return false;
    this.sampleBudget -= count;
    return true;
  }

  private applyPredictions(events: PredictionEvent[], now: number): void {
    try {
      let series: Series | undefined;
      for (const event of events) {
        if (series === undefined || series.model !== event.model || series.version !== event.version) {
          series = this.series(event.model, event.version, false);
        }
        series.traffic.onPrediction(now, scoreBin(event.score));
        series.metrics.predictionCell(event.label).value++;
        const drift = series.drift;
        if (
          drift &&
          Number.isFinite(event.tokens) &&
          Number.isFinite(event.oovRate) &&
          Number.isFinite(event.score) &&
          drift.add(event.tokens, event.oovRate, event.score) &&
          !series.evaluationQueued &&
          now - series.driftEvaluatedAt >= this.minEvaluationMs
        ) {
          series.evaluationQueued = true;
          const due = series;
          // After the response is written: an evaluation sorts the window (~0.1 ms).
          setImmediate(() => {
            due.evaluationQueued = false;
            if (!this.closing) this.evaluateSeries(due, this.now());
          });
        }
        if (this.sampleRate >= 1 || (this.sampleRate > 0 && this.random() < this.sampleRate)) {
          this.recent.add(event.id, series, event.label, now);
          this.predictionLog?.append(event, now);
        }
      }
    } catch (error) {
      this.hookFailed('onPredictions', error);
    }
  }

  onModelLoaded(model: string, version: string, seconds: number): void {
    try {
      const series = this.series(model, version, true);
      series.loaded = true;
      series.loadSeconds = seconds;
      if (!series.profileKnown) this.lookUpProfile(series);
      this.prometheus.modelInfo.labels(model, version).set(1);
      if (Number.isFinite(seconds)) this.prometheus.modelLoad.labels(model, version).set(seconds);
      this.event(
        'model-loaded',
        'info',
        `loaded ${model} ${version} in ${seconds.toFixed(3)} s`,
        model,
        version,
        {
          seconds,
          drift: series.drift ? 'on' : 'off (no reference profile)',
        },
      );
    } catch (error) {
      this.hookFailed('onModelLoaded', error);
    }
  }

  addModel(model: string, version: string, profile: ReferenceProfile | undefined): void {
    try {
      const series = this.series(model, version, true);
      series.profileKnown = true;
      series.drift = DriftWindow.create(profile, this.driftOptions);
      if (profile && !series.drift) {
        this.logger.warn('reference profile unusable: drift off', { model, version });
      }
    } catch (error) {
      this.hookFailed('addModel', error);
    }
  }

  onServingEvent(event: ServingEvent): void {
    try {
      const { model, version } = event;
      if (model !== undefined && version !== undefined && event.kind === 'model-unloaded') {
        this.prometheus.unload(model, version);
        const series = this.states.get(model)?.get(version);
        if (series) series.loaded = false;
      }
      const previous = event.properties?.previousVersion;
      if (model !== undefined && event.kind === 'model-swapped' && previous !== undefined) {
        this.prometheus.unload(model, String(previous));
        const series = this.states.get(model)?.get(String(previous));
        if (series) series.loaded = false;
      }
      const level = event.kind === 'model-load-failed' ? 'error' : 'info';
      this.event(event.kind, level, event.message, model ?? null, version ?? null, event.properties ?? {});
    } catch (error) {
      this.hookFailed('onServingEvent', error);
    }
  }

  feedback(id: string, label: string): FeedbackResult {
    this.applyPending();
    try {
      const now = this.now();
      const entry = this.recent.get(id, now);
      if (!entry) {
        this.prometheus.feedback('', '', false);
        return { matched: false };
      }
      const series = entry.series;
      const correct = entry.label === label;
      if (entry.outcome?.inWindow) series.accuracy.relabel(entry.outcome, correct);
      else this.recent.setOutcome(entry.slot, series.accuracy.add(now, correct));
      series.accuracy.expire(now);
      series.labelsInWindow++;
      this.prometheus.feedback(series.model, series.version, true);
      const accuracy = series.accuracy.accuracy;
      if (accuracy !== null) this.prometheus.liveAccuracy.labels(series.model, series.version).set(accuracy);
      return { matched: true };
    } catch (error) {
      this.hookFailed('feedback', error);
      return { matched: false };
    }
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    this.applyPending();
    return this.prometheus.exposition();
  }

  // --- periodic work -----------------------------------------------------------------------

  /** Evaluates drift of every model version with predictions since its last evaluation. */
  evaluateDrift(): void {
    this.applyPending();
    const now = this.now();
    for (const series of this.allSeries()) {
      if (series.drift?.stale) this.evaluateSeries(series, now);
    }
  }

  /** Ends the current window: summaries to the sink, expired labels and predictions dropped. */
  flushWindows(): void {
    this.applyPending();
    const now = this.now();
    this.recent.expire(now);
    for (const series of this.allSeries()) {
      series.accuracy.expire(now);
      const accuracy = series.accuracy.accuracy;
      if (accuracy === null) this.prometheus.liveAccuracy.remove(series.model, series.version);
      else this.prometheus.liveAccuracy.labels(series.model, series.version).set(accuracy);
      const window = series.traffic.takeWindow(now);
      const labelled = series.labelsInWindow;
      series.labelsInWindow = 0;
      if (!this.sink || series.model === '') continue;
      if (window.requests === 0 && window.predictions === 0 && labelled === 0) continue;
      const started = Math.max(window.startedAt, series.traffic.createdAt);
      const seconds = Math.max((now - started) / 1000, 1e-3);
      const ms = (q: number) => {
        const s = window.latency.quantile(q);
        return s === null ? null : Number((s * 1000).toPrecision(4));
      };
      const summary: WindowSummary = {
        server: this.server,
        model: series.model,
        version: series.version,
        startedAt: new Date(started).toISOString(),
        endedAt: new Date(now).toISOString(),
        requests: window.requests,
        errors: window.errors,
        throughput: Number((window.requests / seconds).toPrecision(6)),
        predictions: window.predictions,
        p50Ms: ms(0.5),
        p95Ms: ms(0.95),
        p99Ms: ms(0.99),
        liveAccuracy: accuracy,
        labelled: series.accuracy.size,
        scores: { edges: SCORE_EDGES, counts: Array.from(window.scoreCounts) },
        drift: series.drift?.summary() ?? null,
      };
      this.toSink(`window ${series.model} ${series.version}`, (sink) => sink.recordWindow(summary));
    }
  }

  // --- dashboards ----------------------------------------------------------------------------

  snapshot(): Record<string, unknown> {
    this.applyPending();
    const now = this.now();
    const thresholds = { psi: this.driftOptions.psiThreshold, ks: this.driftOptions.ksThreshold };
    const models = [...this.allSeries()].map((series) => {
      const last10s = series.traffic.last(10, now);
      const last60s = series.traffic.last(SERIES_SECONDS, now);
      const drift = series.drift;
      const summary = drift?.summary() ?? null;
      const distributions = drift?.distributions();
      const window = ({ scoreCounts: _, ...totals }: typeof last10s) => totals;
      return {
        model: series.model,
        version: series.version,
        loaded: series.loaded,
        loadSeconds: series.loadSeconds ?? null,
        // The last minute (per-window detail below).
        requests: last60s.requests,
        errors: last60s.errors,
        serverErrors: last60s.serverErrors,
        predictions: last60s.predictions,
        throughput: last10s.requestsPerSecond,
        predictionsPerSecond: last10s.predictionsPerSecond,
        latencyMs: last60s.latencyMs,
        windows: { last10s: window(last10s), last60s: window(last60s) },
        total: { ...series.traffic.total },
        scores: {
          edges: SCORE_EDGES,
          counts: last60s.scoreCounts,
          // The reference's shares on the same bins (ledge profiles use them; others: see drift.features.score).
          reference:
            drift && sameEdges(drift.profile.score.edges, SCORE_EDGES) ? drift.profile.score.fractions : null,
        },
        alerting: drift?.alerting ?? false,
        drift:
          drift && distributions
            ? {
                samples: drift.samples,
                windowSize: this.driftOptions.windowSize,
                minSamples: this.driftOptions.minSamples,
                evaluatedAt: summary?.evaluatedAt ?? null,
                thresholds,
                features: Object.fromEntries(
                  DRIFT_FEATURES.map((feature) => [
                    feature,
                    {
                      psi: summary ? summary.features[feature].psi : null,
                      ks: summary ? summary.features[feature].ks : null,
                      alert: drift.feature(feature).alert,
                      thresholds,
                      ...distributions[feature],
                    },
                  ]),
                ),
              }
            : null,
        accuracy: {
          value: series.accuracy.accuracy,
          labelled: series.accuracy.size,
          correct: series.accuracy.correct,
          windowLabels: this.accuracyOptions.labels,
          windowSeconds: this.accuracyOptions.seconds ?? null,
        },
        series: series.traffic.series(now),
      };
    });
    const log = this.predictionLog?.stats();
    return {
      monitoring: 'on',
      server: this.server,
      time: new Date(now).toISOString(),
      uptimeSeconds: Math.round((now - this.startedAt) / 1000),
      thresholds: { ...thresholds, minSamples: this.driftOptions.minSamples },
      predictionLog: {
        sampleRate: this.sampleRate,
        file: log?.file ?? null,
        written: log?.written ?? 0,
        dropped: log?.dropped ?? 0,
        buffered: log?.buffered ?? 0,
        remembered: this.recent.size,
      },
      models,
    };
  }

  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        for (const timer of this.timers) clearInterval(timer);
        try {
          this.evaluateDrift();
          this.flushWindows();
        } catch (error) {
          this.hookFailed('close', error);
        }
        await this.predictionLog?.close();
        await this.sinkQueue;
        await Promise.allSettled([...this.inflight]);
      })();
    }
    return this.closing;
  }

  // --- internals -----------------------------------------------------------------------------

  private *allSeries(): Iterable<Series> {
    for (const byVersion of this.states.values()) yield* byVersion.values();
  }

  /** The state of a model version; unknown versions beyond `maxSeries` fold into ('', ''). */
  private series(model: string, version: string, known: boolean): Series {
    const existing = this.states.get(model)?.get(version);
    if (existing) return existing;
    if (!known && this.seriesCount >= this.maxSeries && (model !== '' || version !== '')) {
      return this.series('', '', true);
    }
    const series = new Series(
      model,
      version,
      this.prometheus.series(model, version),
      this.now(),
      new AccuracyWindow(this.accuracyOptions),
    );
    let byVersion = this.states.get(model);
    if (!byVersion) {
      byVersion = new Map();
      this.states.set(model, byVersion);
    }
    byVersion.set(version, series);
    this.seriesCount++;
    if (model !== '') this.lookUpProfile(series);
    return series;
  }

  private lookUpProfile(series: Series): void {
    if (!this.profileFor) return;
    let profile: ReferenceProfile | undefined;
    try {
      profile = this.profileFor(series.model, series.version);
    } catch (error) {
      this.logger.warn('reference profile lookup failed: drift off', {
        model: series.model,
        version: series.version,
        error,
      });
      return;
    }
    if (!profile) return;
    series.profileKnown = true;
    series.drift = DriftWindow.create(profile, this.driftOptions);
  }

  private evaluateSeries(series: Series, now: number): void {
    const drift = series.drift;
    if (!drift) return;
    series.driftEvaluatedAt = now;
    try {
      const transitions = drift.evaluate(now);
      for (const feature of DRIFT_FEATURES) {
        const f = drift.feature(feature);
        this.prometheus.drift(series.model, series.version, feature, f.psi, f.ks);
        this.prometheus.driftAlertActive.labels(series.model, series.version, feature).set(f.alert ? 1 : 0);
      }
      for (const transition of transitions) this.alert(series, transition, now);
    } catch (error) {
      this.hookFailed('drift', error);
    }
  }

  private alert(series: Series, t: DriftTransition, now: number): void {
    const { model, version } = series;
    const firing = t.state === 'fired';
    const name = t.statistic === 'psi' ? 'PSI' : 'KS';
    const message = firing
      ? `drift on ${model} ${version}: ${t.feature} ${name} ${t.value.toFixed(3)} > ${t.threshold}`
      : `drift cleared on ${model} ${version}: ${t.feature} PSI ${t.psi.toFixed(3)}, KS ${t.ks.toFixed(3)}`;
    if (firing) this.prometheus.driftAlerts.labels(model, version, t.feature).inc();
    const details = {
      feature: t.feature,
      statistic: t.statistic,
      value: t.value,
      threshold: t.threshold,
      psi: t.psi,
      ks: t.ks,
      samples: t.samples,
    };
    this.event(
      firing ? 'drift-alert-fired' : 'drift-alert-cleared',
      firing ? 'warn' : 'info',
      message,
      model,
      version,
      details,
    );
    const webhook = this.webhook;
    if (!webhook) return;
    const payload: DriftAlertPayload = {
      type: 'ledge.drift-alert',
      status: firing ? 'firing' : 'resolved',
      at: new Date(now).toISOString(),
      server: this.server,
      model,
      version,
      ...details,
      thresholds: { psi: this.driftOptions.psiThreshold, ks: this.driftOptions.ksThreshold },
      message,
    };
    const delivery = postJson(webhook, payload).then(
      (status) => this.logger.info('drift alert webhook delivered', { url: redactUrl(webhook.url), status }),
      (error) => this.logger.warn('drift alert webhook failed', { url: redactUrl(webhook.url), error }),
    );
    this.inflight.add(delivery);
    void delivery.finally(() => this.inflight.delete(delivery));
  }

  /** Logs a serving event and sends it to the sink. */
  private event(
    kind: ServingEventRecordKind,
    level: 'info' | 'warn' | 'error',
    message: string,
    model: string | null,
    version: string | null,
    properties: LogFields,
  ): void {
    this.logger[level](message, { event: kind, model, version, ...properties });
    const record = {
      at: new Date(this.now()).toISOString(),
      server: this.server,
      kind,
      model,
      version,
      message,
      properties,
    };
    this.toSink(`event ${kind}`, (sink) => sink.recordEvent(record));
  }

  /** Sink writes one at a time, in order; at most 1,000 waiting (then dropped, with a warning). */
  private toSink(what: string, write: (sink: MonitoringSink) => Promise<void>): void {
    const sink = this.sink;
    if (!sink) return;
    if (this.sinkPending >= 1000) {
      this.hookFailed('sink', new Error(`monitoring sink is behind: ${what} dropped`));
      return;
    }
    this.sinkPending++;
    this.sinkQueue = this.sinkQueue
      .then(() => write(sink))
      .catch((error: unknown) => this.logger.warn('monitoring sink failed', { what, error }))
      .finally(() => {
        this.sinkPending--;
      });
  }

  /** Logs a failure inside monitoring, at most once a minute per place. */
  private hookFailed(where: string, error: unknown): void {
    const now = Date.now();
    if (now - (this.lastHookError.get(where) ?? 0) < 60_000) return;
    this.lastHookError.set(where, now);
    try {
      this.logger.error('monitoring failed', { where, error });
    } catch {
      // Never into serving.
    }
  }
}

export function createMonitor(options: MonitorOptions = {}): ServingMonitor {
  return new ServingMonitor(options);
}
