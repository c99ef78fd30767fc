/** PSI and KS against a reference histogram: known values, ties, shifts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../../src/ml/train/seeded-random.js';
import { histogram, linearEdges, quantileEdges } from '../../../src/runtime/model/histogram.js';
import {
  binFractions,
  kolmogorovSmirnov,
  PSI_EPSILON,
  populationStabilityIndex,
} from '../../../src/runtime/monitoring/drift-statistics.js';

function normals(n: number, mean: number, random: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - random();
    out[i] = mean + Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  }
  return out;
}

const sorted = (values: Float64Array) => Float64Array.from(values).sort();

describe('population stability index', () => {
  it('is 0 for equal shares and matches the formula otherwise', () => {
    assert.equal(populationStabilityIndex([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]), 0);
    const expected = 0.25 * Math.log(2) + 0.25 * Math.log(0.75 / 0.5);
    assert.ok(Math.abs(populationStabilityIndex([0.5, 0.5], [0.25, 0.75]) - expected) < 1e-12);
  });

  it('stays finite when a bin is empty on either side', () => {
    const psi = populationStabilityIndex([1, 0], [0, 1]);
    assert.ok(Number.isFinite(psi));
    assert.ok(Math.abs(psi - 2 * (1 - PSI_EPSILON) * Math.log(1 / PSI_EPSILON)) < 1e-9);
  });

  it('bins live values by the rule the reference used (ends clamp into the end bins)', () => {
    const edges = [0, 1, 2, 3];
    const out = new Float64Array(3);
    binFractions([-5, 0, 0.5, 1, 2.9, 3, 99, 2], 8, edges, out);
    assert.deepEqual(Array.from(out), [3 / 8, 1 / 8, 4 / 8]);
    const reference = histogram([-5, 0, 0.5, 1, 2.9, 3, 99, 2], edges);
    assert.deepEqual(Array.from(out), reference.fractions);
  });
});

describe('Kolmogorov–Smirnov against a reference histogram', () => {
  const random = seededRandom(11);
  const referenceValues = normals(5000, 0, random);
  const reference = histogram(referenceValues, quantileEdges(referenceValues, 10));

  it('is near 0 for a sample of the same distribution', () => {
    const live = sorted(normals(1000, 0, random));
    const d = kolmogorovSmirnov(live, live.length, reference);
    assert.ok(d < 0.05, `D = ${d}`);
    const self = sorted(referenceValues);
    assert.ok(kolmogorovSmirnov(self, self.length, reference) < 0.002);
  });

  it('finds a shift of one standard deviation (exact D = 0.383)', () => {
    const live = sorted(normals(1000, 1, random));
    const d = kolmogorovSmirnov(live, live.length, reference);
    assert.ok(d > 0.33 && d < 0.42, `D = ${d}`);
  });

  it('is not inflated by ties: integer token counts, OOV rates that are mostly exactly 0', () => {
    // 40% zeros, the rest spread over (0, 0.2): like out-of-vocabulary rates.
    const draw = (n: number) => Float64Array.from({ length: n }, () => (random() < 0.4 ? 0 : random() * 0.2));
    const oovReference = draw(5000);
    const oovProfile = histogram(oovReference, quantileEdges(oovReference, 10));
    const live = sorted(draw(1000));
    assert.ok(kolmogorovSmirnov(live, live.length, oovProfile) < 0.05);
    const counts = Float64Array.from({ length: 5000 }, () => Math.floor(random() * 20));
    const countProfile = histogram(counts, quantileEdges(counts, 10));
    const liveCounts = sorted(Float64Array.from({ length: 1000 }, () => Math.floor(random() * 20)));
    assert.ok(kolmogorovSmirnov(liveCounts, liveCounts.length, countProfile) < 0.05);
    // …while a real shift still shows: every live count 0.
    const zeros = new Float64Array(1000);
    assert.ok(kolmogorovSmirnov(zeros, zeros.length, countProfile) > 0.9);
  });

  it('uses the linear score bins of a profile too', () => {
    const scores = Float64Array.from({ length: 2000 }, () => random());
    const profile = histogram(scores, linearEdges(0, 1, 10));
    const high = sorted(Float64Array.from({ length: 500 }, () => 0.5 + random() / 2));
    const d = kolmogorovSmirnov(high, high.length, profile);
    assert.ok(d > 0.45 && d <= 0.55, `D = ${d}`);
  });
});
