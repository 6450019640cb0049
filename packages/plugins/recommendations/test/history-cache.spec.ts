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

/** A read that nothing races: asks `cache` for `ids` and finishes the load at once; returns what was loaded. */
async function readNow(cache: HistoryCache, ids: string[]): Promise<string[][]> {
  const g = gate();
  const pending = cache.get(ids, g.load);
  g.release();
  await pending;
  return g.asked;
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
    expect(await readNow(cache, ['a', 'b'])).toEqual([['a']]); // b came from memory
    expect(cache.size).toBe(2);
  });

  it('an invalidation that happened before the read began does not stop it being stored', async () => {
    const cache = new HistoryCache(10, () => true);
    const g = gate();
    const slow = cache.get(['x'], g.load); // keeps a read in flight throughout
    cache.invalidate(['a']);
    await readNow(cache, ['a']); // began after the invalidation
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
    await readNow(untrusted, ['a']);
    expect(untrusted.size).toBe(0);
  });

  it('a failed read stores nothing and does not stop later reads being stored', async () => {
    const cache = new HistoryCache(10, () => true);
    const g = gate();
    const pending = cache.get(['a'], g.load);
    g.fail(new Error('connection lost'));
    await expect(pending).rejects.toThrow('connection lost');
    await readNow(cache, ['a']);
    expect(cache.size).toBe(1);
  });

  it('keeps at most maxProfiles, evicting the least recently used', async () => {
    const cache = new HistoryCache(2, () => true);
    for (const id of ['a', 'b']) await readNow(cache, [id]);
    await readNow(cache, ['a']); // a is now the most recent
    await readNow(cache, ['c']);
    expect(await readNow(cache, ['a', 'b', 'c'])).toEqual([['b']]);
  });
});
