import { describe, expect, it } from 'vitest';
import {
  clusterAutoMerges,
  clusterPairs,
  decide,
  matchProbability,
  scorePair,
  type MatchModel,
  type MatchingConfig,
} from '../../src/identity/matching';

const config: MatchingConfig = {
  comparisons: [
    { name: 'firstName', kind: 'name', paths: ['firstName'], swapPaths: ['lastName'] },
    { name: 'email', kind: 'email', paths: ['email'] },
    { name: 'postalCode', kind: 'postcode', paths: ['address.postalCode'] },
  ],
  blocking: [{ name: 'postcode', keys: ['address.postalCode'] }],
  maxBlockSize: 100,
  thresholds: { autoMerge: 0.99, review: 0.5 },
};

/** Hand-built model with known parameters, so every weight can be checked exactly. */
const model: MatchModel = {
  version: 1,
  config,
  lambda: 0.2,
  comparisons: [
    {
      name: 'firstName',
      levels: [
        { label: 'exact match', m: 0.8, u: 0.01 },
        { label: 'swapped with lastName', m: 0.02, u: 0.0001 },
        { label: 'Jaro-Winkler >= 0.92', m: 0.1, u: 0.01 },
        { label: 'Jaro-Winkler >= 0.88', m: 0.03, u: 0.02 },
        { label: 'Jaro-Winkler >= 0.7', m: 0.02, u: 0.1 },
        { label: 'else', m: 0.03, u: 0.8599 },
      ],
    },
    {
      name: 'email',
      levels: [
        { label: 'exact match', m: 0.9, u: 0.001 },
        { label: 'same email local part', m: 0.05, u: 0.001 },
        { label: 'else', m: 0.05, u: 0.998 },
      ],
    },
    {
      name: 'postalCode',
      levels: [
        { label: 'exact match', m: 0.9, u: 0.01 },
        { label: 'edit distance <= 1', m: 0.05, u: 0.05 },
        { label: 'first 3 characters equal', m: 0.02, u: 0.04 },
        { label: 'else', m: 0.03, u: 0.9 },
      ],
    },
  ],
  stats: { records: 0, candidatePairs: 0, emIterations: 0, converged: true, labelledPairs: 0 },
};

describe('scoring explanations', () => {
  it('explains every comparison with level label, compared values and weight', () => {
    const pair = scorePair(
      model,
      { id: 'a', traits: { firstName: 'Martha', email: 'Martha@Example.com', address: { postalCode: '2600' } } },
      { id: 'b', traits: { firstName: 'Marhta', email: 'martha@other.org' } },
    );
    expect(pair.explanation).toEqual([
      { comparison: 'firstName', label: 'Jaro-Winkler >= 0.92', level: 2, valueA: 'martha', valueB: 'marhta', weight: Math.log2(0.1 / 0.01) },
      { comparison: 'email', label: 'same email local part', level: 1, valueA: 'martha@example.com', valueB: 'martha@other.org', weight: Math.log2(0.05 / 0.001) },
      { comparison: 'postalCode', label: 'missing value', level: -1, valueA: '2600', valueB: null, weight: 0 },
    ]);
    const prior = Math.log2(0.2 / 0.8);
    const expectedWeight = prior + Math.log2(10) + Math.log2(50);
    expect(pair.weight).toBeCloseTo(expectedWeight, 12);
    expect(pair.probability).toBeCloseTo(2 ** expectedWeight / (1 + 2 ** expectedWeight), 12);
    expect(pair.decision).toBe('merge');
  });

  it('recognises swapped first and last names', () => {
    const pair = scorePair(
      model,
      { id: 'a', traits: { firstName: 'Snell', lastName: 'Sophie' } },
      { id: 'b', traits: { firstName: 'Sophie', lastName: 'Snell' } },
    );
    expect(pair.explanation[0].label).toBe('swapped with lastName');
    expect(pair.explanation[0].weight).toBeCloseTo(Math.log2(0.02 / 0.0001), 12);
  });

  it('gives a negative contribution for disagreement and decides by thresholds', () => {
    const pair = scorePair(
      model,
      { id: 'a', traits: { firstName: 'Ann', address: { postalCode: '2600' } } },
      { id: 'b', traits: { firstName: 'Xavier', address: { postalCode: '9999' } } },
    );
    expect(pair.explanation.map((e) => e.label)).toEqual(['else', 'missing value', 'else']);
    expect(pair.explanation[0].weight).toBeLessThan(0);
    expect(pair.decision).toBe('distinct');
    expect(decide(0.995, config.thresholds)).toBe('merge');
    expect(decide(0.99, config.thresholds)).toBe('merge');
    expect(decide(0.7, config.thresholds)).toBe('review');
    expect(decide(0.2, config.thresholds)).toBe('distinct');
  });

  it('computes probability as 2^w / (1 + 2^w), stably at extremes', () => {
    expect(matchProbability(0)).toBe(0.5);
    expect(matchProbability(1)).toBeCloseTo(2 / 3, 12);
    expect(matchProbability(-1)).toBeCloseTo(1 / 3, 12);
    expect(matchProbability(5000)).toBe(1);
    expect(matchProbability(-5000)).toBe(0);
  });

  it('survives a JSON round trip of the model', () => {
    const restored = JSON.parse(JSON.stringify(model)) as MatchModel;
    const a = { id: 'a', traits: { firstName: 'Dwayne', email: 'd@x.io' } };
    const b = { id: 'b', traits: { firstName: 'Duane', email: 'd@x.io' } };
    expect(scorePair(restored, a, b)).toEqual(scorePair(model, a, b));
  });
});

describe('clustering', () => {
  it('builds connected components of the auto-merge pairs', () => {
    const pairs = [
      { idA: 'a', idB: 'b', probability: 0.999 },
      { idA: 'b', idB: 'c', probability: 0.995 },
      { idA: 'd', idB: 'e', probability: 0.6 },
      { idA: 'f', idB: 'g', probability: 0.9999 },
    ].map((p) => ({ ...p, weight: 0, decision: 'merge' as const, explanation: [] }));
    expect(clusterAutoMerges(pairs, { autoMerge: 0.99 })).toEqual([
      ['a', 'b', 'c'],
      ['f', 'g'],
    ]);
    expect(clusterPairs([{ idA: 'x', idB: 'y' }], { ids: ['z'], includeSingletons: true })).toEqual([['z'], ['x', 'y']]);
  });
});
