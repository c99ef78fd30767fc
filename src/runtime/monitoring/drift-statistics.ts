/**
 * Drift statistics of a live sample against a reference profile's histogram: the population
 * stability index over the reference bins, and the Kolmogorov–Smirnov statistic evaluated
 * where the reference distribution is known exactly. Pure functions over sorted samples; the
 * caller owns (and reuses) every buffer.
 */
import type { Histogram } from '../model/bundle-format.js';
import { binOf } from '../model/histogram.js';

/** Stands in for an empty bin's share, so PSI stays finite (the usual 1e-4). */
export const PSI_EPSILON = 1e-4;

const QUANTILE_LEVELS = [
  ['p05', 0.05],
  ['p25', 0.25],
  ['p50', 0.5],
  ['p75', 0.75],
  ['p95', 0.95],
] as const;

/**
 * The share of the first `n` values in each bin of `edges`, by the rule the reference profile
 * was built with (values below the first edge in the first bin, at or above the last edge in
 * the last). Writes into `out` (length edges.length − 1).
 */
export function binFractions(values: ArrayLike<number>, n: number, edges: number[], out: Float64Array): void {
  out.fill(0);
  if (n === 0) return;
  for (let i = 0; i < n; i++) out[binOf(values[i]!, edges)]! += 1;
  for (let b = 0; b < out.length; b++) out[b]! /= n;
}

/** PSI = Σ (live − ref) · ln(live / ref) over the bins, empty shares replaced by PSI_EPSILON. */
export function populationStabilityIndex(live: ArrayLike<number>, reference: ArrayLike<number>): number {
  let psi = 0;
  for (let b = 0; b < reference.length; b++) {
    const l = Math.max(live[b] ?? 0, PSI_EPSILON);
    const r = Math.max(reference[b]!, PSI_EPSILON);
    psi += (l - r) * Math.log(l / r);
  }
  return psi;
}

/** How many of ascending `sorted[0..n)` are < `x` (or ≤ `x` with `inclusive`). */
function countBelow(sorted: ArrayLike<number>, n: number, x: number, inclusive: boolean): number {
  let low = 0;
  let high = n;
  while (low < high) {
    const mid = (low + high) >> 1;
    const v = sorted[mid]!;
    if (v < x || (inclusive && v === x)) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * The Kolmogorov–Smirnov statistic sup |F_live − F_ref| between the live sample (ascending
 * `sorted[0..n)`) and the reference distribution, known only through its histogram and
 * quantiles. It is evaluated where F_ref is known:
 *
 * - at each inner bin edge e, F_ref(x < e) is the sum of the bins below it, exactly;
 * - at each reference quantile q_p, F_ref(x < q_p) ≤ p ≤ F_ref(x ≤ q_p) (up to 1/examples),
 *   so |F_live − F_ref| near q_p is at least max(p − F_live(x ≤ q_p), F_live(x < q_p) − p).
 *
 * The result is a lower bound of the two-sample statistic the full reference sample would give
 * (the sup over a subset of points), never inflated by ties (token counts are integers, many
 * OOV rates are exactly 0) the way a within-bin interpolation of the reference would be.
 */
export function kolmogorovSmirnov(sorted: ArrayLike<number>, n: number, reference: Histogram): number {
  if (n === 0) return 0;
  let d = 0;
  let cumulative = 0;
  const { edges, fractions } = reference;
  for (let i = 1; i < edges.length - 1; i++) {
    cumulative += fractions[i - 1]!;
    const live = countBelow(sorted, n, edges[i]!, false) / n;
    d = Math.max(d, Math.abs(live - cumulative));
  }
  for (const [key, p] of QUANTILE_LEVELS) {
    const q = reference.quantiles[key];
    if (!Number.isFinite(q)) continue;
    const below = countBelow(sorted, n, q, false) / n;
    const atOrBelow = countBelow(sorted, n, q, true) / n;
    d = Math.max(d, p - atOrBelow, below - p);
  }
  return d;
}
