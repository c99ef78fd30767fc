/**
 * Drift of one model version: the last `windowSize` live predictions (token count, OOV rate,
 * score) in ring buffers, compared with the model's reference profile every `evaluateEvery`
 * predictions (or when the monitor's timer asks). Each feature has an alert that fires when its
 * PSI or KS crosses a threshold (with at least `minSamples` in the window) and re-arms when both
 * are back under. Decides whether an alert changes; the monitor decides what that means (logs,
 * metrics, webhook, events).
 */
import type { Histogram, ReferenceProfile } from '../model/bundle-format.js';
import { binFractions, kolmogorovSmirnov, populationStabilityIndex } from './drift-statistics.js';
import {
  DRIFT_FEATURES,
  type DriftFeature,
  type DriftSummary,
  type FeatureDrift,
} from './monitoring-sink.js';

export interface DriftOptions {
  /** Live predictions kept in the sliding window. */
  windowSize: number;
  /** Evaluate after this many new predictions. */
  evaluateEvery: number;
  /** No alert changes state with fewer predictions in the window. */
  minSamples: number;
  psiThreshold: number;
  ksThreshold: number;
}

export const DEFAULT_DRIFT_OPTIONS: DriftOptions = {
  windowSize: 1000,
  evaluateEvery: 100,
  minSamples: 300,
  psiThreshold: 0.2,
  ksThreshold: 0.2,
};

/** An alert changing state. */
export interface DriftTransition {
  feature: DriftFeature;
  state: 'fired' | 'cleared';
  psi: number;
  ks: number;
  /** The statistic that crossed (fired), or the larger one relative to its threshold (cleared). */
  statistic: 'psi' | 'ks';
  value: number;
  threshold: number;
  samples: number;
}

interface FeatureState {
  reference: Histogram;
  values: Float64Array;
  live: Float64Array;
  psi: number;
  ks: number;
  alert: boolean;
}

const PROFILE_KEYS: Record<DriftFeature, 'tokenCount' | 'oovRate' | 'score'> = {
  token_count: 'tokenCount',
  oov_rate: 'oovRate',
  score: 'score',
};

function usableHistogram(h: Histogram | undefined): h is Histogram {
  return (
    !!h &&
    Array.isArray(h.edges) &&
    Array.isArray(h.fractions) &&
    h.edges.length >= 2 &&
    h.fractions.length === h.edges.length - 1 &&
    h.edges.every(Number.isFinite) &&
    typeof h.quantiles === 'object' &&
    h.quantiles !== null
  );
}

export class DriftWindow {
  private readonly features: Record<DriftFeature, FeatureState>;
  private readonly scratch: Float64Array;
  private next = 0;
  private count = 0;
  private sinceEvaluation = 0;
  private evaluatedAt: number | undefined;

  /** Returns undefined when the profile lacks a usable histogram of every feature. */
  static create(profile: ReferenceProfile | undefined, options: DriftOptions): DriftWindow | undefined {
    if (!profile) return undefined;
    for (const feature of DRIFT_FEATURES) {
      if (!usableHistogram(profile[PROFILE_KEYS[feature]])) return undefined;
    }
    return new DriftWindow(profile, options);
  }

  private constructor(
    readonly profile: ReferenceProfile,
    readonly options: DriftOptions,
  ) {
    const state = (reference: Histogram): FeatureState => ({
      reference,
      values: new Float64Array(options.windowSize),
      live: new Float64Array(reference.fractions.length),
      psi: Number.NaN,
      ks: Number.NaN,
      alert: false,
    });
    this.features = {
      token_count: state(profile.tokenCount),
      oov_rate: state(profile.oovRate),
      score: state(profile.score),
    };
    this.scratch = new Float64Array(options.windowSize);
  }

  /** Adds one prediction; true when an evaluation is due. */
  add(tokens: number, oovRate: number, score: number): boolean {
    const i = this.next;
    this.features.token_count.values[i] = tokens;
    this.features.oov_rate.values[i] = oovRate;
    this.features.score.values[i] = score;
    this.next = i + 1 === this.options.windowSize ? 0 : i + 1;
    if (this.count < this.options.windowSize) this.count++;
    this.sinceEvaluation++;
    return this.sinceEvaluation >= this.options.evaluateEvery;
  }

  /** Predictions in the window. */
  get samples(): number {
    return this.count;
  }

  /** Whether predictions arrived since the last evaluation. */
  get stale(): boolean {
    return this.sinceEvaluation > 0;
  }

  /** Computes PSI and KS of every feature; returns the alerts that changed state. */
  evaluate(now: number): DriftTransition[] {
    this.sinceEvaluation = 0;
    this.evaluatedAt = now;
    const n = this.count;
    const { psiThreshold, ksThreshold, minSamples } = this.options;
    const transitions: DriftTransition[] = [];
    for (const feature of DRIFT_FEATURES) {
      const state = this.features[feature];
      const sorted = this.scratch.subarray(0, n);
      sorted.set(state.values.subarray(0, n));
      sorted.sort();
      binFractions(sorted, n, state.reference.edges, state.live);
      state.psi = populationStabilityIndex(state.live, state.reference.fractions);
      state.ks = kolmogorovSmirnov(sorted, n, state.reference);
      if (n < minSamples) continue;
      const psiOver = state.psi > psiThreshold;
      const ksOver = state.ks > ksThreshold;
      const over = psiOver || ksOver;
      if (over === state.alert) continue;
      state.alert = over;
      const byPsi = over ? psiOver : state.psi / psiThreshold >= state.ks / ksThreshold;
      transitions.push({
        feature,
        state: over ? 'fired' : 'cleared',
        psi: state.psi,
        ks: state.ks,
        statistic: byPsi ? 'psi' : 'ks',
        value: byPsi ? state.psi : state.ks,
        threshold: byPsi ? psiThreshold : ksThreshold,
        samples: n,
      });
    }
    return transitions;
  }

  /** The last evaluation, or null before the first. */
  summary(): DriftSummary | null {
    if (this.evaluatedAt === undefined) return null;
    const thresholds = { psi: this.options.psiThreshold, ks: this.options.ksThreshold };
    const feature = (f: DriftFeature): FeatureDrift => {
      const s = this.features[f];
      return { psi: round(s.psi), ks: round(s.ks), alert: s.alert, thresholds };
    };
    return {
      samples: this.count,
      evaluatedAt: new Date(this.evaluatedAt).toISOString(),
      features: {
        token_count: feature('token_count'),
        oov_rate: feature('oov_rate'),
        score: feature('score'),
      },
    };
  }

  /** Per feature: the live and reference shares of each reference bin, and the live mean. */
  distributions(): Record<
    DriftFeature,
    { edges: number[]; live: number[]; reference: number[]; liveMean: number; referenceMean: number }
  > {
    const out = {} as ReturnType<DriftWindow['distributions']>;
    const n = this.count;
    for (const feature of DRIFT_FEATURES) {
      const s = this.features[feature];
      const live = new Float64Array(s.reference.fractions.length);
      binFractions(s.values, n, s.reference.edges, live);
      let sum = 0;
      for (let i = 0; i < n; i++) sum += s.values[i]!;
      out[feature] = {
        edges: s.reference.edges,
        live: Array.from(live, round),
        reference: s.reference.fractions.map(round),
        liveMean: n === 0 ? 0 : round(sum / n),
        referenceMean: round(s.reference.mean),
      };
    }
    return out;
  }

  /** Whether any feature's alert is firing. */
  get alerting(): boolean {
    return DRIFT_FEATURES.some((f) => this.features[f].alert);
  }

  feature(feature: DriftFeature): Readonly<{ psi: number; ks: number; alert: boolean }> {
    return this.features[feature];
  }
}

/** Six significant digits: enough for dashboards, short in JSON. */
export function round(value: number): number {
  return Number.isFinite(value) ? Number(value.toPrecision(6)) : value;
}
