import { describe, expect, it } from 'vitest';
import {
  BlockingIndex,
  blockingKeyPart,
  generateCandidatePairs,
  scoreIncremental,
  trainModel,
  type MatchRecord,
  type MatchingConfig,
} from '../../src/identity/matching';

const rec = (id: string, traits: Record<string, unknown>): MatchRecord => ({ id, traits });

describe('blocking', () => {
  it('derives keys from paths and transforms', () => {
    const r = rec('x', {
      firstName: 'Sophie',
      lastName: 'Snell',
      birthday: '1923-11-14',
      phone: '+61 2 9999 1234',
      email: ' Sophie@Example.com',
      address: { postalCode: '26 00', street: 'Vaughan G arden' },
    });
    expect(blockingKeyPart(r, 'lastName')).toBe('snell');
    expect(blockingKeyPart(r, { path: 'lastName', transform: 'soundex' })).toBe('s540');
    expect(blockingKeyPart(r, { path: 'firstName', transform: 'prefix', length: 3 })).toBe('sop');
    expect(blockingKeyPart(r, { path: 'birthday', transform: 'year' })).toBe('1923');
    expect(blockingKeyPart(r, { path: 'birthday', transform: 'date' })).toBe('19231114');
    expect(blockingKeyPart(r, { path: 'phone', transform: 'digits', length: 9 })).toBe('299991234');
    expect(blockingKeyPart(r, { path: 'email', transform: 'email' })).toBe('sophie@example.com');
    expect(blockingKeyPart(r, { path: 'address.postalCode', transform: 'alnum' })).toBe('2600');
    expect(blockingKeyPart(r, { path: 'address.street', transform: 'alnum' })).toBe('vaughangarden');
    const swapped = rec('y', { firstName: 'Snell', lastName: 'Sophie' });
    const sorted = { path: 'firstName lastName', transform: 'soundexSorted' } as const;
    expect(blockingKeyPart(r, sorted)).toBe(blockingKeyPart(swapped, sorted));
    expect(blockingKeyPart(rec('z', { firstName: 'Ann' }), sorted)).toBeNull();
    expect(blockingKeyPart(r, 'missing.path')).toBeNull();
  });

  it('returns the deduplicated union of pairs and skips oversized blocks', () => {
    const records: MatchRecord[] = [];
    for (let i = 0; i < 10; i++) records.push(rec(`big${i}`, { state: 'nsw', lastName: `n${i}` }));
    records.push(rec('a1', { state: 'vic', lastName: 'lee', nationalId: '1' }));
    records.push(rec('a2', { state: 'vic', lastName: 'lee', nationalId: '1' }));
    records.push(rec('a3', { state: 'vic', lastName: 'kim', nationalId: '1' }));
    const config: Pick<MatchingConfig, 'blocking' | 'maxBlockSize'> = {
      maxBlockSize: 5,
      blocking: [
        { name: 'state', keys: ['state'] },
        { name: 'nationalId', keys: ['nationalId'] },
        { name: 'lastName', keys: ['lastName'] },
      ],
    };
    const pairs = generateCandidatePairs(records, config);
    const ids = new Set<string>();
    for (let p = 0; p < pairs.count; p++) ids.add(`${records[pairs.a[p]].id}|${records[pairs.b[p]].id}`);
    expect(ids).toEqual(new Set(['a1|a2', 'a1|a3', 'a2|a3']));
    expect(pairs.count).toBe(3);
    expect(pairs.skippedBlocks).toBe(1);
    expect(pairs.rules.map((r) => [r.rule, r.newPairs, r.skippedBlocks, r.skippedRecords])).toEqual([
      ['state', 3, 1, 10],
      ['nationalId', 0, 0, 0],
      ['lastName', 0, 0, 0],
    ]);
  });

  it('applies the same block-size cap incrementally', () => {
    const records: MatchRecord[] = [];
    for (let i = 0; i < 6; i++) records.push(rec(`r${i}`, { state: 'nsw', firstName: `name${i}` }));
    const config: MatchingConfig = {
      comparisons: [{ name: 'firstName', kind: 'name', paths: ['firstName'] }],
      blocking: [{ name: 'state', keys: ['state'] }],
      maxBlockSize: 5,
      thresholds: { autoMerge: 0.99, review: 0.5 },
    };
    expect(generateCandidatePairs(records, config).count).toBe(0);
    const model = trainModel(records, config);
    const index = new BlockingIndex(config);
    index.addAll(records.slice(0, 4));
    expect(scoreIncremental(model, records[4], index)).toHaveLength(4); // block of 5: allowed
    index.add(records[4]);
    expect(scoreIncremental(model, records[5], index)).toHaveLength(0); // block of 6: skipped
  });
});
