import { MergeProtection, Survivorship, type SurvivorshipConfig } from '@rapport/core/internal';
import { describe, expect, it } from 'vitest';
import { completeVerdict } from '../../src/consent/access-decision';
import { consentStatesOf } from '../../src/consent/legal-basis';
import { parseFebrlCsv } from '../../src/identity/matching';

// Trait keys are whatever a message sends: the names of Object.prototype's members are keys like
// any other, never the members themselves.
const KEYS = ['hasOwnProperty', 'valueOf', 'constructor', 'toString', '__proto__', 'isPrototypeOf', 'propertyIsEnumerable'];
const at = (iso: string) => ({ at: iso, messageId: 'm', profileId: 'p' });

describe('Survivorship.ruleFor with keys named like Object.prototype members', () => {
  it('gives the default rule when no override names the key', () => {
    const s = new Survivorship({ default: 'first_seen', traits: { plan: 'most_recent' } });
    for (const key of KEYS) expect(s.ruleFor(key), key).toBe('first_seen');
  });

  it('gives the override when one names the key, __proto__ included', () => {
    const traits = JSON.parse('{"constructor":"first_seen","__proto__":{"sourcePriority":["crm"]},"toString":"first_seen"}') as SurvivorshipConfig['traits'];
    const s = new Survivorship({ default: 'most_recent', traits });
    expect(s.ruleFor('constructor')).toBe('first_seen');
    expect(s.ruleFor('toString')).toBe('first_seen');
    expect(s.ruleFor('__proto__')).toEqual({ sourcePriority: ['crm'] });
    expect(s.ruleFor('valueOf')).toBe('most_recent');
  });

  it('picks between two values of such a key by the rule', () => {
    const s = new Survivorship({ default: 'most_recent', traits: {} });
    for (const key of KEYS) {
      const old = { value: 'old', source: at('2024-01-01T00:00:00.000Z') };
      const recent = { value: 'new', source: at('2024-02-01T00:00:00.000Z') };
      expect(s.pick(key, old, recent).value, key).toBe('new');
      expect(s.pick(key, recent, old).value, key).toBe('new');
    }
  });
});

describe('MergeProtection.limit with identity types named like Object.prototype members', () => {
  it('gives the default limit to a type no limit names', () => {
    const p = new MergeProtection({ limits: { user_id: 5 }, defaultLimit: 1, priority: [], blockedValues: [] } as never);
    expect(p.limit('constructor')).toBe(1);
    expect(p.limit('__proto__')).toBe(1);
    expect(p.violation([{ type: 'constructor', value: 'a' }, { type: 'constructor', value: 'b' }])).toEqual({ type: 'constructor', limit: 1, count: 2 });
  });
});

describe('consent states of purposes named like Object.prototype members', () => {
  it('keeps a decision for a purpose called __proto__, and reads an undecided constructor as none', () => {
    const states = consentStatesOf([{ purpose: '__proto__', granted: true, expiresAt: null }]);
    expect(Object.keys(states)).toEqual(['__proto__']);
    const verdict = (purpose: string, basis: 'consent' | 'legitimate_interest') => completeVerdict({ kind: 'consent', purpose, basis, policy: 'p' }, states);
    expect(verdict('__proto__', 'consent').allowed).toBe(true);
    // Legitimate interest needs no grant: undecided (none) allows, as for any purpose.
    expect(verdict('constructor', 'legitimate_interest').allowed).toBe(true);
    expect(verdict('constructor', 'consent')).toMatchObject({ allowed: false, rule: 'consent' });
  });
});

describe('FEBRL CSV columns named like Object.prototype members', () => {
  it('maps only the columns it knows, and columns given by name', () => {
    const csv = 'rec_id,given_name,constructor,__proto__\nrec-1-org,ann,x,y\n';
    expect(Object.entries(parseFebrlCsv(csv).records[0].traits)).toEqual([['firstName', 'ann']]);
    const named = parseFebrlCsv(csv, { columns: JSON.parse('{"__proto__":"extra.proto"}') });
    expect(JSON.stringify(named.records[0].traits)).toBe('{"firstName":"ann","extra":{"proto":"y"}}');
  });
});
