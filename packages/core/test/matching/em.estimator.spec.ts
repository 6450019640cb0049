import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PERSON_MATCHING_CONFIG,
  loadFebrlCsv,
  trainModel,
  type LabelledPair,
  type MatchModel,
} from '../../src/identity/matching';

const DATA = path.resolve(__dirname, '../../../../data/febrl');

describe('EM parameter estimation', () => {
  const { records, clusterOf } = loadFebrlCsv(path.join(DATA, 'dataset1.csv'));

  it('is deterministic for a seed and produces a JSON-serialisable model', () => {
    const a = trainModel(records, DEFAULT_PERSON_MATCHING_CONFIG);
    const b = trainModel(records, DEFAULT_PERSON_MATCHING_CONFIG);
    expect(a).toEqual(b);
    const restored = JSON.parse(JSON.stringify(a)) as MatchModel;
    expect(restored).toEqual(a);
    expect(a.stats.converged).toBe(true);
  });

  it('learns m/u that make agreement on strong identifiers strong evidence', () => {
    const model = trainModel(records, DEFAULT_PERSON_MATCHING_CONFIG);
    const byName = new Map(model.comparisons.map((c) => [c.name, c]));
    for (const name of ['nationalId', 'birthday', 'lastName']) {
      const levels = byName.get(name)!.levels;
      const exact = levels[0];
      const other = levels[levels.length - 1];
      expect(exact.m).toBeGreaterThan(exact.u * 50);
      expect(other.m).toBeLessThan(other.u);
      const mSum = levels.reduce((s, l) => s + l.m, 0);
      const uSum = levels.reduce((s, l) => s + l.u, 0);
      expect(mSum).toBeCloseTo(1, 4);
      expect(uSum).toBeCloseTo(1, 4);
      for (const l of levels) {
        expect(l.m).toBeGreaterThan(0);
        expect(l.m).toBeLessThan(1);
        expect(l.u).toBeGreaterThan(0);
        expect(l.u).toBeLessThan(1);
      }
    }
    expect(model.lambda).toBeGreaterThan(0);
    expect(model.lambda).toBeLessThan(1);
  });

  it('can initialise or fix m from labelled pairs', () => {
    const byEntity = new Map<string, string[]>();
    for (const [id, c] of clusterOf) byEntity.set(c, [...(byEntity.get(c) ?? []), id]);
    const labels: LabelledPair[] = [];
    for (const ids of byEntity.values()) if (ids.length > 1) labels.push({ idA: ids[0], idB: ids[1], match: true });
    const fixed = trainModel(records, DEFAULT_PERSON_MATCHING_CONFIG, { labels, fixMFromLabels: true });
    expect(fixed.stats.labelledPairs).toBe(labels.length);
    const nationalId = fixed.comparisons.find((c) => c.name === 'nationalId')!;
    // with m fixed from labels, m(exact) is the smoothed labelled frequency
    expect(nationalId.levels[0].m).toBeGreaterThan(0.5);
    const initialised = trainModel(records, DEFAULT_PERSON_MATCHING_CONFIG, { labels });
    expect(initialised.stats.labelledPairs).toBe(labels.length);
    expect(initialised.stats.converged).toBe(true);
  });
});
