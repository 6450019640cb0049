import { describe, expect, it } from 'vitest';
import { MAX_NOTIFY_PAYLOAD } from '@rapport/core';
import { chunkPayloads } from '../src/plugin/runtime';

describe('chunkPayloads', () => {
  const ids = Array.from({ length: 3000 }, (_, i) => `${String(i).padStart(8, '0')}-profile${i % 5 === 0 ? '-é' : ''}`);

  it.each([
    ['comma-joined', (c: string[]) => c.join(','), (p: string) => p.split(',')],
    ['JSON', (c: string[]) => JSON.stringify(c), (p: string) => JSON.parse(p) as string[]],
  ])('splits %s ids into payloads under the NOTIFY limit, losing none, in order', (_name, encode, decode) => {
    const payloads = chunkPayloads(ids, encode);
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX_NOTIFY_PAYLOAD);
    expect(payloads.flatMap(decode)).toEqual(ids);
    expect(chunkPayloads([], encode)).toEqual([]);
  });
});
