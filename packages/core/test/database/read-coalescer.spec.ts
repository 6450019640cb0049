import { describe, expect, it } from 'vitest';
import { ReadCoalescer } from '../../src/database/read-coalescer';

/** A coalescer over a fake table that records every load it makes. */
function fixture(opts: { fail?: boolean; maxKeys?: number } = {}) {
  const loads: string[][] = [];
  const c = new ReadCoalescer<{ id: string; tags: string[] }>(
    async (keys) => {
      loads.push(keys);
      await new Promise((r) => setTimeout(r, 5));
      if (opts.fail) throw new Error('connection lost');
      return new Map(keys.filter((k) => !k.startsWith('missing')).map((k) => [k, { id: k, tags: [k] }]));
    },
    undefined,
    opts.maxKeys,
  );
  return { c, loads };
}

describe('ReadCoalescer', () => {
  it('answers the calls of one event-loop turn with one load of their distinct keys', async () => {
    const { c, loads } = fixture();
    const [a, b, d] = await Promise.all([c.get(['1', '2']), c.get(['2', '3', 'missing-9']), c.get(['1'])]);
    expect(loads).toEqual([['1', '2', '3', 'missing-9']]);
    expect([...a.keys()]).toEqual(['1', '2']);
    expect([...b.keys()]).toEqual(['2', '3']); // absent keys are absent
    expect(d.get('1')).toEqual({ id: '1', tags: ['1'] });
    expect(c.stats).toEqual({ loads: 1, calls: 3 });
  });

  it('gives each caller its own copy of a key two callers asked for', async () => {
    const { c } = fixture();
    const [a, b] = await Promise.all([c.get(['1']), c.get(['1'])]);
    expect(a.get('1')).toEqual(b.get('1'));
    a.get('1')!.tags.push('changed by the first caller');
    expect(b.get('1')!.tags).toEqual(['1']);
  });

  it('calls made after a turn ends go into a new load', async () => {
    const { c, loads } = fixture();
    const first = c.get(['1']);
    await new Promise((r) => setImmediate(r));
    const second = c.get(['2']);
    await Promise.all([first, second]);
    expect(loads).toEqual([['1'], ['2']]);
  });

  it('a batch that reaches maxKeys is loaded at once, and the rest wait for the next', async () => {
    const { c, loads } = fixture({ maxKeys: 3 });
    const all = await Promise.all([c.get(['1', '2']), c.get(['3']), c.get(['4'])]);
    expect(loads).toEqual([['1', '2', '3'], ['4']]);
    expect(all.map((m) => [...m.keys()])).toEqual([['1', '2'], ['3'], ['4']]);
  });

  it('a load that throws at once fails its callers like one that rejects', async () => {
    const c = new ReadCoalescer<number>(() => {
      throw new Error('bad keys');
    });
    const results = await Promise.allSettled([c.get(['1']), c.get(['2'])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('a value that cannot be copied fails only the caller that needed the copy', async () => {
    const c = new ReadCoalescer<{ id: string }>(
      async (keys) => new Map(keys.map((k) => [k, { id: k }])),
      () => {
        throw new Error('cannot copy');
      },
    );
    const [first, second] = await Promise.allSettled([c.get(['1']), c.get(['1', '2'])]);
    expect(first.status).toBe('fulfilled');
    expect(second).toMatchObject({ status: 'rejected', reason: { message: 'cannot copy' } });
  });

  it('a failed load fails every caller of its batch, and the next batch is unaffected', async () => {
    const opts = { fail: true };
    const { c, loads } = fixture(opts);
    const results = await Promise.allSettled([c.get(['1']), c.get(['2'])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('connection lost');
    opts.fail = false;
    expect((await c.get(['5'])).get('5')?.id).toBe('5');
    expect(loads).toEqual([['1', '2'], ['5']]);
  });
});
