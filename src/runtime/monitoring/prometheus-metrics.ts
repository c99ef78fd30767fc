/**
 * The Prometheus metrics of a server, in their own prom-client Registry. Hot-path counters are
 * plain numbers in cached cells, copied into prom-client only when `/metrics` is scraped;
 * histograms are counting-histogram.ts cells cached per model version, read at scrape time. Names follow Prometheus
 * conventions: `ledge_` prefix, base units (seconds), `_total` for counters. The list, with
 * types and labels, is in docs/monitoring.md.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { CountingHistogram, type HistogramCell } from './counting-histogram.js';
import type { DriftFeature } from './monitoring-sink.js';

/** Request durations: 0.1 ms to 1 s (a text model answers in about a millisecond). */
export const REQUEST_DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];
/** Batch queue waits: 50 µs to 1 s (the batcher's delay is a few milliseconds at most). */
export const QUEUE_DURATION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/** A counter value kept outside prom-client, exported at scrape time. */
interface CountCell {
  labels: Record<string, string>;
  value: number;
}

function countedCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  cells: CountCell[],
): Counter<string> {
  const counter: Counter<string> = new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect: () => {
      counter.reset();
      for (const cell of cells) counter.inc(cell.labels, cell.value);
    },
  });
  return counter;
}

/** One model version's cached metric children. */
export class SeriesMetrics {
  readonly requestDuration: HistogramCell;
  readonly queueDuration: HistogramCell;
  readonly batchSize: HistogramCell;
  private readonly requests = new Map<string, Map<number, CountCell>>();
  private readonly predictions = new Map<string, CountCell>();

  constructor(
    private readonly metrics: ServingMetrics,
    readonly model: string,
    readonly version: string,
  ) {
    this.requestDuration = metrics.requestDuration.cell(model, version);
    this.queueDuration = metrics.queueDuration.cell(model, version);
    this.batchSize = metrics.batchSize.cell(model, version);
  }

  /** The `ledge_inference_requests_total` cell of an endpoint and status code. */
  requestCell(endpoint: string, code: number): CountCell {
    let byCode = this.requests.get(endpoint);
    if (!byCode) {
      byCode = new Map();
      this.requests.set(endpoint, byCode);
    }
    let cell = byCode.get(code);
    if (!cell) {
      cell = { labels: { model: this.model, version: this.version, endpoint, code: String(code) }, value: 0 };
      byCode.set(code, cell);
      this.metrics.requestCells.push(cell);
    }
    return cell;
  }

  /** The `ledge_predictions_total` cell of a label. */
  predictionCell(label: string): CountCell {
    let cell = this.predictions.get(label);
    if (!cell) {
      cell = { labels: { model: this.model, version: this.version, label: String(label) }, value: 0 };
      this.predictions.set(label, cell);
      this.metrics.predictionCells.push(cell);
    }
    return cell;
  }
}

export interface ServingMetricsOptions {
  /** prom-client's process and Node.js metrics, under their standard names (default true). */
  defaultMetrics?: boolean;
  /** Prediction log line counts, read at scrape time. */
  predictionLog?: () => { written: number; dropped: number };
}

export class ServingMetrics {
  readonly registry = new Registry();
  readonly requestCells: CountCell[] = [];
  readonly predictionCells: CountCell[] = [];
  private readonly feedbackCells: CountCell[] = [];
  private readonly feedbackIndex = new Map<string, CountCell>();
  readonly requestDuration: CountingHistogram;
  readonly queueDuration: CountingHistogram;
  readonly batchSize: CountingHistogram;
  readonly modelLoad: Gauge<string>;
  readonly modelInfo: Gauge<string>;
  readonly liveAccuracy: Gauge<string>;
  readonly driftPsi: Gauge<string>;
  readonly driftKs: Gauge<string>;
  readonly driftAlertActive: Gauge<string>;
  readonly driftAlerts: Counter<string>;

  constructor(options: ServingMetricsOptions = {}) {
    const registry = this.registry;
    const mv = ['model', 'version'];
    const mvf = ['model', 'version', 'feature'];
    countedCounter(
      registry,
      'ledge_inference_requests_total',
      'Requests answered, by model, version, endpoint and HTTP status code.',
      ['model', 'version', 'endpoint', 'code'],
      this.requestCells,
    );
    this.requestDuration = new CountingHistogram(
      'ledge_inference_request_duration_seconds',
      'Wall time of requests, from arrival to response, in seconds.',
      mv,
      REQUEST_DURATION_BUCKETS,
      registry,
    );
    this.queueDuration = new CountingHistogram(
      'ledge_inference_queue_duration_seconds',
      'Time requests waited in the batch queue, in seconds (requests that waited only).',
      mv,
      QUEUE_DURATION_BUCKETS,
      registry,
    );
    this.batchSize = new CountingHistogram(
      'ledge_inference_batch_size',
      'Inputs per model run (dynamic batching).',
      mv,
      BATCH_SIZE_BUCKETS,
      registry,
    );
    countedCounter(
      registry,
      'ledge_predictions_total',
      'Predictions made, by model, version and predicted label.',
      ['model', 'version', 'label'],
      this.predictionCells,
    );
    this.modelLoad = new Gauge({
      name: 'ledge_model_load_duration_seconds',
      help: 'How long the last load of a model version took, in seconds.',
      labelNames: mv,
      registers: [registry],
    });
    this.modelInfo = new Gauge({
      name: 'ledge_model_info',
      help: 'Model versions loaded (always 1).',
      labelNames: mv,
      registers: [registry],
    });
    this.liveAccuracy = new Gauge({
      name: 'ledge_live_accuracy',
      help: 'Share of labelled predictions that were correct, over the accuracy window.',
      labelNames: mv,
      registers: [registry],
    });
    countedCounter(
      registry,
      'ledge_feedback_total',
      'Labels received; matched="false" when no logged prediction had the id (model and version empty).',
      ['model', 'version', 'matched'],
      this.feedbackCells,
    );
    this.driftPsi = new Gauge({
      name: 'ledge_drift_psi',
      help: 'Population stability index of live inputs or scores against the reference profile.',
      labelNames: mvf,
      registers: [registry],
    });
    this.driftKs = new Gauge({
      name: 'ledge_drift_ks',
      help: 'Kolmogorov-Smirnov statistic of live inputs or scores against the reference profile.',
      labelNames: mvf,
      registers: [registry],
    });
    this.driftAlertActive = new Gauge({
      name: 'ledge_drift_alert_active',
      help: 'Whether the drift alert of a feature is firing (1) or not (0).',
      labelNames: mvf,
      registers: [registry],
    });
    this.driftAlerts = new Counter({
      name: 'ledge_drift_alerts_total',
      help: 'Drift alerts fired (a feature crossing its PSI or KS threshold).',
      labelNames: mvf,
      registers: [registry],
    });
    const log = options.predictionLog;
    if (log) {
      const written = new Counter({
        name: 'ledge_prediction_log_written_total',
        help: 'Prediction log lines written.',
        registers: [registry],
        collect: () => {
          written.reset();
          written.inc(log().written);
        },
      });
      const dropped = new Counter({
        name: 'ledge_prediction_log_dropped_total',
        help: 'Prediction log lines dropped because the disk could not keep up or failed.',
        registers: [registry],
        collect: () => {
          dropped.reset();
          dropped.inc(log().dropped);
        },
      });
    }
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  }

  /** The cached children and counter cells of a model version (create once, keep). */
  series(model: string, version: string): SeriesMetrics {
    return new SeriesMetrics(this, model, version);
  }

  feedback(model: string, version: string, matched: boolean): void {
    const key = `${model}\u0000${version}\u0000${matched}`;
    let cell = this.feedbackIndex.get(key);
    if (!cell) {
      cell = { labels: { model, version, matched: String(matched) }, value: 0 };
      this.feedbackIndex.set(key, cell);
      this.feedbackCells.push(cell);
    }
    cell.value++;
  }

  drift(model: string, version: string, feature: DriftFeature, psi: number, ks: number): void {
    if (Number.isFinite(psi)) this.driftPsi.labels(model, version, feature).set(psi);
    if (Number.isFinite(ks)) this.driftKs.labels(model, version, feature).set(ks);
  }

  /** Forgets a model version's gauges (unloaded); its counters stay, as counters must. */
  unload(model: string, version: string): void {
    this.modelInfo.remove(model, version);
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
