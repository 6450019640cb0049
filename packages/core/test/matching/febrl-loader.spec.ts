import { describe, expect, it } from 'vitest';
import {
  combineDatasets,
  countTruePairs,
  febrlEntityOf,
  pairwiseMetrics,
  parseCsv,
  parseFebrlCsv,
} from '../../src/identity/matching';

const CSV = [
  'rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id',
  'rec-1-org, sarah, bruhn, 44, forbes street, wintersloe, kellerberrin, 4510, vic, 19300213, 7535316',
  'rec-1-dup-0, , bruhn, , forbes st, , kellerberrin, 4510, vic, 19300213, 7535316',
  'rec-2-org, jacob, lanyon, 5, milne cove, wellwod, beaconsfield upper, 2602, vic, 19080712, 9497788',
].join('\n');

describe('FEBRL loader', () => {
  it('maps columns to Segment-style traits, trimming and dropping empty cells', () => {
    const { records, clusterOf } = parseFebrlCsv(CSV);
    expect(records[0]).toEqual({
      id: 'rec-1-org',
      traits: {
        firstName: 'sarah',
        lastName: 'bruhn',
        address: {
          streetNumber: '44',
          street: 'forbes street',
          line2: 'wintersloe',
          city: 'kellerberrin',
          postalCode: '4510',
          state: 'vic',
        },
        birthday: '19300213',
        nationalId: '7535316',
      },
    });
    expect(records[1].traits).toEqual({
      lastName: 'bruhn',
      address: { street: 'forbes st', city: 'kellerberrin', postalCode: '4510', state: 'vic' },
      birthday: '19300213',
      nationalId: '7535316',
    });
    expect([...clusterOf.entries()]).toEqual([
      ['rec-1-org', '1'],
      ['rec-1-dup-0', '1'],
      ['rec-2-org', '2'],
    ]);
    expect(countTruePairs(clusterOf)).toBe(1);
  });

  it('parses FEBRL record ids', () => {
    expect(febrlEntityOf('rec-2778-org')).toBe('2778');
    expect(febrlEntityOf(' rec-712-dup-3 ')).toBe('712');
    expect(febrlEntityOf('something-else')).toBeNull();
  });

  it('accepts a generic cluster id column', () => {
    const text = 'rec_id,given_name,surname,cluster_id\nr1,Ann,Lee,c1\nr2,Anne,Lee,c1\nr3,Bob,Kim,c2\nr4,Bo,Kim,\n';
    const auto = parseFebrlCsv(text);
    expect([...auto.clusterOf.values()]).toEqual(['c1', 'c1', 'c2']);
    const named = parseFebrlCsv(text.replace('cluster_id', 'person'), { clusterColumn: 'person' });
    expect(named.clusterOf.get('r2')).toBe('c1');
    expect(() => parseFebrlCsv(text, { clusterColumn: 'nope' })).toThrow();
  });

  it('combines linked files, counting cross-file pairs with the same entity', () => {
    const a = parseFebrlCsv('rec_id,given_name\nrec-1-org,a\nrec-2-org,b\n');
    const b = parseFebrlCsv('rec_id,given_name\nrec-1-dup-0,a\nrec-2-dup-0,b\nrec-3-dup-0,c\n');
    const both = combineDatasets(a, b);
    expect(both.records).toHaveLength(5);
    expect(countTruePairs(both.clusterOf)).toBe(2);
    expect(() => combineDatasets(a, a)).toThrow(/duplicate/);
    const prefixed = combineDatasets(a, parseFebrlCsv('rec_id,given_name\nrec-1-org,a\n', { idPrefix: 'b:' }));
    expect(prefixed.records.map((r) => r.id)).toEqual(['rec-1-org', 'rec-2-org', 'b:rec-1-org']);
  });

  it('parses quoted CSV cells', () => {
    expect(parseCsv('a,"b, c","d ""e"""\r\n1,2,3')).toEqual([
      ['a', 'b, c', 'd "e"'],
      ['1', '2', '3'],
    ]);
  });

  it('computes pairwise precision, recall and F1', () => {
    const truth = new Map([
      ['a', '1'],
      ['b', '1'],
      ['c', '1'],
      ['d', '2'],
      ['e', '2'],
    ]);
    const m = pairwiseMetrics([['a', 'b'], ['c', 'd']], truth);
    expect(m).toMatchObject({ truePositives: 1, predictedPairs: 2, truePairs: 4, precision: 0.5, recall: 0.25 });
    expect(m.f1).toBeCloseTo(1 / 3, 12);
  });
});
