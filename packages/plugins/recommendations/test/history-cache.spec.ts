import { describe, expect, it } from 'vitest';
import { HistoryCache } from '../src/plugin/history-cache';
import type { InteractionRow } from '../src/plugin/store';

const row = (profileId: string, itemId: string): InteractionRow =>
  ({ profileId, itemId, weight: 1, count: 1, views: 1, adds: 0, purchases: 0, lastAt: new Date(0) });

/** A load the test finishes by hand, recording what it was asked for. */
function gate() {
  const asked: string[][] = [];
  let release: () => void = () => undefined;
  let fail: (e: Error) => void = () => undefined;
  const load = (ids: readonly string[]) => {
    asked.push([...ids]);
    return new Promise<InteractionRow[][]>((resolve, reject) => {
      release = () => resolve(ids.map((id) => [row(id, `item-of-${id}`)]));
      fail = reject;
    });
  };
  return { asked, load, release: () => release(), fail: (e: Error) => fail(e) };
}

describe('HistoryCache', () => {
  it('serves a stored read from memory until the profile is invalidated', async () => {
    const cache = new HistoryCache(10, () => true);
    const g = gate();
    const first = cache.get(['a'], g.load);
    g.release();
    expect((await first)[0][0].itemId).toBe('item-of-a');
    expect((await cache.get(['a'], g.load))[0][0].itemId).toBe('item-of-a');
    expect(g.asked).toEqual([['a']]);
    cache.invalidate(['a']);
    const again = cache.get(['a'], g.load);
    g.release();
    await again;
    expect(g.asked).toEqual([['a'], ['a']]);
  });

  it('a profile invalidated while its read was in flight is not stored; the others of that read are', async () => {
    const cache = new HistoryCache(10, () => true);
    const g = gate();
    const pending = cache.get(['a', 'b'], g.load);
    cache.invalidate(['a']); // a write to a committed after the read began: its rows may be stale
    g.release();
    await pending;
    const next = gate();
    const later = cache.get(['a', 'b'], next.load);
    next.release();
    await later;
    expect(next.asked).toEqual([['a']]); // b came from memory
    expect(cache.size).toBe(2);
  });

  it('an invalidation that happened before the read began does not stop it being stored', async () => {
    const cache = new HistoryCache(10, () => true);
    const g = gate();
    const slow = cache.get(['x'], g.load); // keeps a read in flight throughout
    cache.invalidate(['a']);
    const h = gate();
    const read = cache.get(['a'], h.load); // began after the invalidation
    h.release();
    await read;
    g.release();
    await slow;
    expect(cache.size).toBe(2);
  });

  it('nothing a read returns is stored when the cache was cleared meanwhile, or while untrusted', async () => {
    const cache = new HistoryCache(10, () => true);
    const g = gate();
    const pending = cache.get(['a', 'b'], g.load);
    cache.clear();
    g.release();
    await pending;
    expect(cache.size).toBe(0);
    const untrusted = new HistoryCache(10, () => false); // notifications down
    const u = gate();
    const p2 = untrusted.get(['a'], u.load);
    u.release();
    await p2;
    expect(untrusted.size).toBe(0);
  });

  it('a failed read stores nothing and does not stop later reads being stored', async () => {
    const cache = new HistoryCache(10, () => true);
    const g = gate();
    const pending = cache.get(['a'], g.load);
    g.fail(new Error('connection lost'));
    await expect(pending).rejects.toThrow('connection lost');
    const h = gate();
    const ok = cache.get(['a'], h.load);
    h.release();
    await ok;
    expect(cache.size).toBe(1);
  });

  it('keeps at most maxProfiles, evicting the least recently used', async () => {
    const cache = new HistoryCache(2, () => true);
    for (const id of ['a', 'b']) {
      const g = gate();
      const p = cache.get([id], g.load);
      g.release();
      await p;
    }
    await cache.get(['a'], gate().load); // a is now the most recent
    const g = gate();
    const p = cache.get(['c'], g.load);
    g.release();
    await p;
    const probe = gate();
    const q = cache.get(['a', 'b', 'c'], probe.load);
    probe.release();
    await q;
    expect(probe.asked).toEqual([['b']]);
  });
});
