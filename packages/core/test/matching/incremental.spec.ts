import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BlockingIndex,
  DEFAULT_PERSON_MATCHING_CONFIG,
  blockingKeysOf,
  compileModel,
  loadFebrlCsv,
  matchRecords,
  scoreIncremental,
  type MatchModel,
} from '../../src/identity/matching';

const DATA = path.resolve(__dirname, '../../../../data/febrl');
const key = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);

describe('incremental scoring', () => {
  const { records } = loadFebrlCsv(path.join(DATA, 'dataset1.csv'));
  const batch = matchRecords(records, DEFAULT_PERSON_MATCHING_CONFIG, { minProbability: 0 });
  // the stored model is what a later process would load from PostgreSQL
  const model = JSON.parse(JSON.stringify(batch.model)) as MatchModel;
  const compiled = compileModel(model);

  it('scores every record against its blocks exactly like batch scoring', () => {
    const index = new BlockingIndex(model.config);
    index.addAll(records);
    expect(index.size).toBe(records.length);
    const batchPairs = new Map(batch.pairs.map((p) => [key(p.idA, p.idB), p]));
    const seen = new Set<string>();
    for (const record of records) {
      for (const p of scoreIncremental(compiled, record, index)) {
        expect(p.idA).toBe(record.id);
        const k = key(p.idA, p.idB);
        seen.add(k);
        const b = batchPairs.get(k);
        expect(b, k).toBeDefined();
        expect(p.weight).toBeCloseTo(b!.weight, 10);
        expect(p.probability).toBeCloseTo(b!.probability, 10);
        expect(p.decision).toBe(b!.decision);
        expect(p.explanation.map((e) => e.label)).toEqual(b!.explanation.map((e) => e.label));
      }
    }
    expect(seen.size).toBe(batch.candidatePairs);
  });

  it('scores a new (unindexed) record against existing records only', () => {
    const [newcomer, ...existing] = records;
    const index = new BlockingIndex(model.config);
    index.addAll(existing);
    const scored = scoreIncremental(model, newcomer, index);
    const expected = batch.pairs.filter((p) => p.idA === newcomer.id || p.idB === newcomer.id);
    expect(new Set(scored.map((p) => p.idB))).toEqual(new Set(expected.map((p) => (p.idA === newcomer.id ? p.idB : p.idA))));
    for (let i = 1; i < scored.length; i++) expect(scored[i - 1].weight).toBeGreaterThanOrEqual(scored[i].weight);
  });

  it('supports removing and replacing records', () => {
    const index = new BlockingIndex(model.config);
    const a = { id: 'a', traits: { firstName: 'Ann', lastName: 'Lee', nationalId: '123' } };
    const b = { id: 'b', traits: { firstName: 'Anne', lastName: 'Lee', nationalId: '123' } };
    index.add(a);
    expect(scoreIncremental(model, b, index).map((p) => p.idB)).toEqual(['a']);
    index.add({ ...a, traits: { firstName: 'Zed', lastName: 'Q', nationalId: '999' } });
    expect(scoreIncremental(model, b, index)).toEqual([]);
    expect(index.remove('a')).toBe(true);
    expect(index.remove('a')).toBe(false);
    expect(index.size).toBe(0);
  });

  it('exposes the blocking keys a database would persist', () => {
    const keys = blockingKeysOf(records[0], model.config);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(model.config.blocking[k.rule].name).toBe(k.ruleName);
      expect(typeof k.key).toBe('string');
    }
  });
});
