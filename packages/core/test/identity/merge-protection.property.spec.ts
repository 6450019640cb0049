import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MergeProtection } from '../../src/identity/merge-protection';
import type { IdentityRef } from '../../src/ingestion/segment-message.types';

// `violation` counts a profile's few identities in place and a long list with a map of sets: both must name the same
// type, limit and count (or none) for any list, whatever its duplicates and order.

const identity = fc.record({ type: fc.constantFrom('user_id', 'anonymous_id', 'email', 'phone', 'crm'), value: fc.constantFrom('a', 'b', 'c', 'd') });
const limits = fc.record({ user_id: fc.integer({ min: 0, max: 3 }), email: fc.integer({ min: 0, max: 3 }), anonymous_id: fc.integer({ min: 0, max: 3 }) });

describe('merge protection: the first type over its limit', () => {
  it('is the same whether the identities are counted in place (a short array) or through a map (any iterable)', () => {
    fc.assert(
      fc.property(fc.array(identity, { maxLength: 12 }), limits, fc.integer({ min: 0, max: 3 }), (ids: IdentityRef[], l, defaultLimit) => {
        const protection = new MergeProtection({ limits: l, defaultLimit, priority: ['user_id', 'email', 'anonymous_id'] } as never);
        const inPlace = protection.violation(ids);
        const viaMap = protection.violation(new Set(ids).values());
        expect(inPlace).toEqual(viaMap);
      }),
      { numRuns: 2000 },
    );
  });

  it('counts distinct values of a type, in the order types first appear', () => {
    const protection = new MergeProtection({ limits: { user_id: 1, email: 1 }, defaultLimit: 5, priority: [] } as never);
    const ids = [
      { type: 'email', value: 'x' }, { type: 'user_id', value: 'a' }, { type: 'user_id', value: 'a' }, { type: 'email', value: 'y' }, { type: 'user_id', value: 'b' },
    ];
    expect(protection.violation(ids)).toEqual({ type: 'email', limit: 1, count: 2 });
    expect(protection.violation(ids.slice(1, 3))).toBeNull();
  });
});
