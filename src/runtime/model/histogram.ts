/** Histograms with fixed edges, the common currency of reference profiles and drift checks. */
import type { Histogram } from './bundle-format.js';

/** The value at quantile `q` (0..1) of ascending `sorted`, linearly interpolated. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

/**
 * Summarises `values` over bins `[edges[i], edges[i+1])`; values below the first edge count in
 * the first bin and values at or above the last edge in the last one.
 */
export function histogram(values: ArrayLike<number>, edges: number[]): Histogram {
  const bins = edges.length - 1;
  const counts = new Array<number>(bins).fill(0);
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const value of sorted) {
    sum += value;
    counts[binOf(value, edges)]!++;
  }
  const n = sorted.length;
  return {
    edges,
    fractions: counts.map((c) => (n === 0 ? 0 : c / n)),
    mean: n === 0 ? 0 : sum / n,
    quantiles: {
      p05: quantile(sorted, 0.05),
      p25: quantile(sorted, 0.25),
      p50: quantile(sorted, 0.5),
      p75: quantile(sorted, 0.75),
      p95: quantile(sorted, 0.95),
    },
  };
}

/** The bin of `value` (binary search over the edges). */
export function binOf(value: number, edges: number[]): number {
  let low = 0;
  let high = edges.length - 2;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (value >= edges[mid]!) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** `count` equal-width edges from `min` to `max`. */
export function linearEdges(min: number, max: number, count: number): number[] {
  return Array.from({ length: count + 1 }, (_, i) => min + ((max - min) * i) / count);
}

/**
 * Edges at the quantiles of reference values, so each bin holds about the same share (values
 * outside the reference range fall in the first or last bin). Finite, so they survive JSON.
 */
export function quantileEdges(values: ArrayLike<number>, bins: number): number[] {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return [0, 1];
  const edges = [sorted[0]!];
  for (let i = 1; i < bins; i++) {
    const edge = quantile(sorted, i / bins);
    if (edge > edges[edges.length - 1]!) edges.push(edge);
  }
  const last = sorted[sorted.length - 1]!;
  edges.push(last > edges[edges.length - 1]! ? last : edges[edges.length - 1]! + 1);
  return edges;
}
