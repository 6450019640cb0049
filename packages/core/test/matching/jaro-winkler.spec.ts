import { describe, expect, it } from 'vitest';
import { editDistance, jaro, jaroWinkler, soundex, tokenJaccard, withinOneEdit } from '../../src/identity/matching';

describe('jaroWinkler', () => {
  it.each([
    ['MARTHA', 'MARHTA', 0.961],
    ['DWAYNE', 'DUANE', 0.84],
    ['DIXON', 'DICKSONX', 0.813],
    ['JELLYFISH', 'SMELLYFISH', 0.896],
  ])('%s / %s = %d', (a, b, expected) => {
    expect(jaroWinkler(a, b)).toBeCloseTo(expected, 3);
    expect(jaroWinkler(b, a)).toBeCloseTo(expected, 3);
  });

  it('computes plain Jaro without the prefix boost', () => {
    expect(jaro('MARTHA', 'MARHTA')).toBeCloseTo(0.944, 3);
    expect(jaro('DWAYNE', 'DUANE')).toBeCloseTo(0.822, 3);
  });

  it('handles identical, empty and disjoint strings', () => {
    expect(jaroWinkler('ann', 'ann')).toBe(1);
    expect(jaroWinkler('', '')).toBe(1);
    expect(jaroWinkler('', 'ann')).toBe(0);
    expect(jaroWinkler('abc', 'xyz')).toBe(0);
  });

  it('stays within [0, 1] for long and non-Latin strings', () => {
    const long = 'a'.repeat(500) + 'b';
    for (const [a, b] of [
      [long, long.slice(1)],
      ['Дмитрий', 'Dmitry'],
      ['山田太郎', '山田花子'],
      ['😀x', '😀y'],
    ]) {
      const s = jaroWinkler(a, b);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1);
    }
  });
});

describe('string metrics', () => {
  it('edit distance counts adjacent transpositions as one edit', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('1234', '1324')).toBe(1);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(editDistance('abcdef', 'uvwxyz', 2)).toBe(3);
  });

  it('withinOneEdit agrees with editDistance <= 1', () => {
    const words = ['4', '47', '74', '447', '8638391', '8368391', '8638392', '863839', '86383911', 'abc', 'acb', 'bac', ''];
    for (const a of words) for (const b of words) expect(withinOneEdit(a, b)).toBe(editDistance(a, b) <= 1);
  });

  it('token Jaccard ignores token order', () => {
    expect(tokenJaccard('main street', 'street main')).toBe(1);
    expect(tokenJaccard('light street', 'light setreet')).toBeCloseTo(1 / 3, 6);
    expect(tokenJaccard('', 'a')).toBe(0);
  });

  it.each([
    ['robert', 'r163'],
    ['rupert', 'r163'],
    ['rubin', 'r150'],
    ['ashcraft', 'a261'],
    ['tymczak', 't522'],
    ['pfister', 'p236'],
    ['honeyman', 'h555'],
  ])('soundex(%s) = %s', (name, code) => {
    expect(soundex(name)).toBe(code);
  });

  it('soundex of a string without ASCII letters is null', () => {
    expect(soundex('')).toBeNull();
    expect(soundex('山田')).toBeNull();
    expect(soundex('123')).toBeNull();
  });
});
