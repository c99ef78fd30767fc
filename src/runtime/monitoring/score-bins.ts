/** The bins live scores are counted in: ten of width 0.1, the edges reference profiles use. */
import { binOf, linearEdges } from '../model/histogram.js';

export const SCORE_EDGES: number[] = linearEdges(0, 1, 10);

/** The bin of a score (out-of-range and NaN scores count in the end bins). */
export function scoreBin(score: number): number {
  return Number.isNaN(score) ? 0 : binOf(score, SCORE_EDGES);
}
