/**
 * Estimation of u probabilities (level distribution among non-matching pairs) from random
 * record pairs, drawn with a seeded generator for determinism.
 */
import { NULL_LEVEL, type CompiledComparison, type PreparedRecords } from './comparison';
import type { TrainingConfig } from './matching.types';
import { clampDistribution, initialM } from './probability';
import { seededInt } from './random';

/**
 * Estimates u (level distribution among non-matching pairs) per comparison from random
 * pairs of records that both have a value. For a leading `exact` level, u is computed
 * exactly from value frequencies; the remaining levels share the rest in proportion to
 * the sample. Add-one smoothing and clamping keep every u strictly inside (0, 1).
 */
export function estimateU(
  prepared: PreparedRecords,
  comparisons: CompiledComparison[],
  training: Required<TrainingConfig>,
): number[][] {
  const randInt = seededInt(training.seed);
  return comparisons.map((cmp, k) => {
    const L = cmp.labels.length;
    const vals = prepared.values[k];
    const sw = prepared.swaps[k];
    const present: number[] = [];
    for (let i = 0; i < vals.length; i++) if (vals[i] !== null) present.push(i);
    const n = present.length;
    if (n < 2 || L < 2) {
      // No information: make u equal the default m so the comparison weighs ~0 until trained.
      return clampDistribution(initialM(L), training.epsilon);
    }
    const counts = new Array<number>(L).fill(0);
    let total = 0;
    const count = (x: number, y: number) => {
      const level = cmp.compare(vals[x], vals[y], sw ? sw[x] : null, sw ? sw[y] : null);
      if (level !== NULL_LEVEL) {
        counts[level]++;
        total++;
      }
    };
    const allPairs = (n * (n - 1)) / 2;
    if (allPairs <= training.uSampleSize) {
      for (let x = 0; x < n; x++) for (let y = x + 1; y < n; y++) count(present[x], present[y]);
    } else {
      for (let s = 0; s < training.uSampleSize; s++) {
        const x = randInt(n);
        let y = randInt(n - 1);
        if (y >= x) y++;
        count(present[x], present[y]);
      }
    }
    let u = counts.map((c) => (c + 1) / (total + L));
    const firstIsExact = (cmp.config.levels?.[0]?.type ?? 'exact') === 'exact';
    if (firstIsExact) {
      const freq = new Map<string, number>();
      for (const i of present) {
        const v = vals[i] as string;
        freq.set(v, (freq.get(v) ?? 0) + 1);
      }
      let same = 0;
      for (const c of freq.values()) same += c * (c - 1);
      const uExact = Math.max(same / (n * (n - 1)), 1 / (n * (n - 1)));
      const restSum = u.slice(1).reduce((s, v) => s + v, 0);
      u = [uExact, ...u.slice(1).map((v) => (v / restSum) * (1 - uExact))];
    }
    return clampDistribution(u, training.epsilon);
  });
}
