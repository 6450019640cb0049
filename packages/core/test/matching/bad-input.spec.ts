import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PERSON_MATCHING_CONFIG,
  NULL_LEVEL,
  blockingKeysOf,
  compileComparison,
  generateCandidatePairs,
  getTraitValue,
  matchRecords,
  normalizeDate,
  normalizeEmail,
  normalizeName,
  normalizePhone,
  scorePair,
  type ComparatorKind,
  type MatchRecord,
} from '../../src/identity/matching';

const KINDS: ComparatorKind[] = ['name', 'email', 'phone', 'date', 'postcode', 'address', 'exact', 'numeric-string'];

const WEIRD_VALUES: unknown[] = [
  undefined,
  null,
  '',
  '   ',
  '\t\n',
  0,
  -1,
  42,
  19651013,
  99999999,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  false,
  {},
  { nested: 'object' },
  [],
  ['a', 'b'],
  new Date('invalid'),
  new Date(Date.UTC(1990, 0, 2)),
  BigInt(12),
  Symbol('s'),
  () => 'fn',
  'José',
  'Zoë Ångström',
  'Дмитрий',
  '山田太郎',
  'مُحَمَّد',
  '😀',
  'x'.repeat(10_000),
  '99999999',
  '0000-00-00',
  '2023-13-45',
  'not a date',
  '@',
  'a@b@c',
  '+44 (0)20 7946 0958',
];

describe('comparators never throw on bad input', () => {
  it.each(KINDS)('%s comparator', (kind) => {
    const cmp = compileComparison({ name: kind, kind, paths: ['v'], swapPaths: kind === 'name' ? ['w'] : undefined });
    for (const a of WEIRD_VALUES) {
      for (const b of WEIRD_VALUES) {
        const ra: MatchRecord = { id: 'a', traits: { v: a, w: b } };
        const rb: MatchRecord = { id: 'b', traits: { v: b, w: a } };
        const va = cmp.valueOf(ra);
        const vb = cmp.valueOf(rb);
        const level = cmp.compare(va, vb, cmp.swapValueOf(ra), cmp.swapValueOf(rb));
        expect(level).toBeGreaterThanOrEqual(NULL_LEVEL);
        expect(level).toBeLessThan(cmp.labels.length);
      }
    }
  });

  it('missing, empty and wrong-typed values get the null level', () => {
    const name = compileComparison({ name: 'n', kind: 'name', paths: ['v'] });
    for (const v of [undefined, null, '', '   ', 42, {}, [], true]) {
      expect(name.valueOf({ id: 'x', traits: { v } })).toBeNull();
    }
    expect(name.compare(null, 'ann', null, null)).toBe(NULL_LEVEL);
  });
});

describe('normalisation', () => {
  it('strips diacritics, lower-cases and collapses whitespace', () => {
    expect(normalizeName('  José   María ')).toBe('jose maria');
    expect(normalizeName('Zoë')).toBe('zoe');
    expect(normalizeName("O'Brien")).toBe('obrien');
    expect(normalizeName('Ｊｏｈｎ')).toBe('john'); // full-width (NFKD)
  });

  it('keeps non-Latin scripts (equal to themselves, unequal to transliterations)', () => {
    const cmp = compileComparison({ name: 'n', kind: 'name', paths: ['v'] });
    const a = cmp.valueOf({ id: 'a', traits: { v: '山田太郎' } });
    const b = cmp.valueOf({ id: 'b', traits: { v: '山田太郎' } });
    expect(cmp.compare(a, b, null, null)).toBe(0);
    const c = cmp.valueOf({ id: 'c', traits: { v: 'Дмитрий' } });
    const d = cmp.valueOf({ id: 'd', traits: { v: 'Dmitry' } });
    expect(cmp.compare(c, d, null, null)).toBe(cmp.labels.length - 1);
  });

  it('parses dates and rejects absurd ones', () => {
    expect(normalizeDate('19651013')).toBe('19651013');
    expect(normalizeDate('1965-10-13')).toBe('19651013');
    expect(normalizeDate('1965-10-13T08:00:00Z')).toBe('19651013');
    expect(normalizeDate(19651013)).toBe('19651013');
    expect(normalizeDate(new Date(Date.UTC(1965, 9, 13)))).toBe('19651013');
    expect(normalizeDate('19458030')).toBe('19458030'); // typo kept for edit-distance levels
    for (const bad of ['99999999', 99999999, '00000000', '0000-00-00', 'yesterday', '', 0, 123, new Date('x'), {}, null]) {
      expect(normalizeDate(bad)).toBeNull();
    }
  });

  it('normalises emails and phones', () => {
    expect(normalizeEmail(' Ann.Lee+news@Example.COM ')).toBe('ann.lee+news@example.com');
    expect(normalizeEmail('no-at-sign')).toBeNull();
    expect(normalizeEmail('a@b@c')).toBeNull();
    expect(normalizeEmail('@example.com')).toBeNull();
    expect(normalizePhone('+44 (0)20 7946-0958')).toBe('4402079460958');
    expect(normalizePhone('0044 20 7946 0958')).toBe('442079460958');
    expect(normalizePhone('12')).toBeNull();
    expect(normalizePhone({})).toBeNull();
  });

  it('reads dotted paths safely', () => {
    const traits = { address: { postalCode: '2600' }, 'a.b': 'literal', list: ['x'] };
    expect(getTraitValue(traits, 'address.postalCode')).toBe('2600');
    expect(getTraitValue(traits, 'a.b')).toBe('literal');
    expect(getTraitValue(traits, 'address.missing.deep')).toBeUndefined();
    expect(getTraitValue(traits, 'list.0')).toBeUndefined();
    expect(getTraitValue(traits, 'toString')).toBeUndefined();
    expect(getTraitValue(traits, '__proto__')).toBeUndefined();
    expect(getTraitValue(null, 'x')).toBeUndefined();
    expect(getTraitValue('string', 'length')).toBeUndefined();
  });
});

describe('the pipeline tolerates garbage records', () => {
  const garbage: MatchRecord[] = WEIRD_VALUES.map((v, i) => ({
    id: `g${i}`,
    traits: {
      firstName: v,
      lastName: i % 2 === 0 ? v : 'Smith',
      birthday: v,
      nationalId: v,
      email: v,
      phone: v,
      address: i % 3 === 0 ? v : { postalCode: v, streetNumber: v, street: v, city: v, state: v },
    },
  }));
  garbage.push({ id: 'nulltraits', traits: null as unknown as Record<string, unknown> });
  garbage.push({ id: 'arraytraits', traits: [] as unknown as Record<string, unknown> });

  it('blocks, trains and scores without throwing, with finite results', () => {
    const result = matchRecords(garbage, DEFAULT_PERSON_MATCHING_CONFIG, { minProbability: 0 });
    expect(Number.isFinite(result.model.lambda)).toBe(true);
    for (const c of result.model.comparisons) {
      for (const l of c.levels) {
        expect(l.m).toBeGreaterThan(0);
        expect(l.m).toBeLessThan(1);
        expect(l.u).toBeGreaterThan(0);
        expect(l.u).toBeLessThan(1);
      }
    }
    for (const p of result.pairs) {
      expect(Number.isFinite(p.weight)).toBe(true);
      expect(p.probability).toBeGreaterThanOrEqual(0);
      expect(p.probability).toBeLessThanOrEqual(1);
    }
    expect(() => JSON.stringify(result.model)).not.toThrow();
    for (const r of garbage) expect(() => blockingKeysOf(r, DEFAULT_PERSON_MATCHING_CONFIG)).not.toThrow();
    const pair = scorePair(result.model, garbage[0], garbage[garbage.length - 1]);
    expect(pair.explanation.every((e) => e.weight === 0 && e.level === NULL_LEVEL)).toBe(true);
  });

  it('works on empty and single-record inputs', () => {
    expect(matchRecords([], DEFAULT_PERSON_MATCHING_CONFIG).pairs).toEqual([]);
    const one = matchRecords([{ id: 'x', traits: { firstName: 'Ann' } }], DEFAULT_PERSON_MATCHING_CONFIG);
    expect(one.candidatePairs).toBe(0);
    expect(one.clusters).toEqual([]);
    expect(generateCandidatePairs([], DEFAULT_PERSON_MATCHING_CONFIG).count).toBe(0);
  });
});
