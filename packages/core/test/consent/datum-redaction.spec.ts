import { describe, expect, it } from 'vitest';
import type { Datum } from '../../src/consent/data-element';
import { redactEventField, redactTraits } from '../../src/consent/datum-redaction';
import type { EventRecord } from '../../src/service/event.service';

/** A filter denying the datums whose key or path is listed. */
const denying = (...paths: string[]) => (d: Datum) => !('path' in d && paths.includes(d.path));
const noNested = () => [];

function event(properties: Record<string, unknown>, type = 'track'): EventRecord {
  return { type, name: 'Order Completed', properties, context: {}, traits: null, userId: null, anonymousId: null } as unknown as EventRecord;
}

describe('datum redaction', () => {
  it('returns the stored object itself when nothing in it is denied (a read copies nothing)', () => {
    const traits = { email: 'a@example.com', plan: 'pro', address: { city: 'Ghent' } };
    expect(redactTraits(traits, denying(), noNested)).toBe(traits);
    const e = event({ total: 12, currency: 'EUR' });
    expect(redactEventField(e, 'properties', denying(), noNested)).toBe(e.properties);
  });

  it('leaves a denied key out of a new object and never changes the stored one', () => {
    const traits = { email: 'a@example.com', plan: 'pro', name: 'Ada' };
    const out = redactTraits(traits, denying('plan'), noNested);
    expect(out).toEqual({ email: 'a@example.com', name: 'Ada' });
    expect(Object.keys(out)).toEqual(['email', 'name']);
    expect(traits).toEqual({ email: 'a@example.com', plan: 'pro', name: 'Ada' });
    const e = event({ total: 12, coupon: 'X1' });
    expect(redactEventField(e, 'properties', denying('total'), noNested)).toEqual({ coupon: 'X1' });
    expect(e.properties).toEqual({ total: 12, coupon: 'X1' });
  });

  it('copies only the key whose deeper path is denied, and keeps `__proto__` an ordinary key', () => {
    const address = { city: 'Ghent', street: 'Veldstraat 1' };
    const other = { a: 1 };
    const traits = JSON.parse('{"__proto__": {"polluted": true}, "address": {"city": "Ghent", "street": "Veldstraat 1"}, "other": {"a": 1}}');
    traits.address = address;
    traits.other = other;
    const nested = (d: Datum) => ('path' in d && d.path === 'address' ? ['address.street'] : []);
    const out = redactTraits(traits, denying('address.street'), nested);
    expect(out.address).toEqual({ city: 'Ghent' });
    expect(address).toEqual({ city: 'Ghent', street: 'Veldstraat 1' });
    expect(out.other).toBe(other);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("drops an alias's previousId unless both identity types may be read", () => {
    const e = event({ previousId: 'anon-1', note: 'x' }, 'alias');
    const denyUserIds = (d: Datum) => !(d.kind === 'identity' && d.type === 'user_id');
    expect(redactEventField(e, 'properties', denyUserIds, noNested)).toEqual({ note: 'x' });
    expect(redactEventField(e, 'properties', () => true, noNested)).toBe(e.properties);
  });
});
