import { describe, expect, it } from 'vitest';
import { chunkPayloads } from '../src/plugin/runtime';

describe('chunkPayloads', () => {
  const MAX = 7880; // a plugin's ctx.notify.maxPayload
  const ids = Array.from({ length: 3000 }, (_, i) => `${String(i).padStart(8, '0')}-profile${i % 5 === 0 ? '-é' : ''}`);

  it.each([
    ['comma-joined', (c: string[]) => c.join(','), (p: string) => p.split(',')],
    ['JSON', (c: string[]) => JSON.stringify(c), (p: string) => JSON.parse(p) as string[]],
  ])('splits %s ids into payloads under the NOTIFY limit, losing none, in order', (_name, encode, decode) => {
    const payloads = chunkPayloads(ids, encode, MAX);
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX);
    expect(payloads.flatMap(decode)).toEqual(ids);
    expect(chunkPayloads([], encode, MAX)).toEqual([]);
  });
});
