import { describe, expect, it } from 'vitest';
import { checkStorableJson } from '../../src/ingestion/storable-json.validator';

// Validation measures each message against the size limit. The walk that checks a message is
// storable also bounds its serialised size, so most messages are never serialised only to be
// measured; the bound must never be below the real size, or an oversized message would pass.
const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

describe('checkStorableJson size bound', () => {
  const samples: Array<[string, unknown]> = [
    ['a bench track', { type: 'track', messageId: 'c0a8', userId: 'user-1', event: 'Product Viewed', timestamp: '2026-01-01T00:00:00.000Z',
      properties: { product_id: 'p-1', price: 1.99, category: 'c-1' }, context: { ip: '203.0.113.9', library: { name: 'bench' } } }],
    ['escapes and control characters', { s: '"\\\n\t\u0001\u001f', k: ['\b\f\r'] }],
    ['non-ASCII, emoji and a lone surrogate', { name: 'Zoë 東京 😀', bad: 'x\ud800y', ['ключ']: 'значение' }],
    ['numbers, booleans and nulls', { a: -1.2345678901234567e-308, b: 1e21, c: 0, d: true, e: false, f: null, g: [1, 2, 3.5, -0] }],
    ['empty containers and deep nesting', { a: {}, b: [], c: [[[[{}]]]], d: { e: { f: { g: [] } } } }],
    ['a "__proto__" key', JSON.parse('{"__proto__": {"x": 1}, "y": "z"}')],
  ];
  for (const [what, message] of samples) {
    it(`bounds the serialised size from above: ${what}`, () => {
      const { maxJsonBytes } = checkStorableJson(message);
      expect(maxJsonBytes).toBeGreaterThanOrEqual(bytes(message));
      expect(Number.isFinite(maxJsonBytes)).toBe(true);
    });
  }

  it('gives no finite bound for values that serialise beyond their own keys (toJSON)', () => {
    expect(checkStorableJson({ at: new Date(0) }).maxJsonBytes).toBe(Infinity);
  });
});
