import { afterEach, describe, expect, it, vi } from 'vitest';
import { SnapshotCache } from '../../src/service/snapshot.cache';

/** A load whose calls are counted and each resolved (or rejected) by the test. */
function loader() {
  const calls: Array<{ resolve(v: number): void; reject(e: Error): void }> = [];
  const load = () => new Promise<number>((resolve, reject) => calls.push({ resolve, reject }));
  return { load, calls };
}

afterEach(() => vi.useRealTimers());

describe('SnapshotCache', () => {
  it('callers that find the value stale share one reload', async () => {
    const { load, calls } = loader();
    const cache = new SnapshotCache(load, 5000);
    const waiting = Array.from({ length: 20 }, () => cache.get());
    expect(calls).toHaveLength(1);
    calls[0].resolve(7);
    expect(await Promise.all(waiting)).toEqual(Array(20).fill(7));
    expect(cache.fresh()).toBe(7);
    expect(await cache.get()).toBe(7);
    expect(calls).toHaveLength(1);
  });

  it('after a change, callers get a new read, and a reload started before the change is not kept', async () => {
    const { load, calls } = loader();
    const cache = new SnapshotCache(load, 5000);
    const before = cache.get();
    cache.invalidate(); // a change while the first reload is in flight
    const after = cache.get();
    expect(calls).toHaveLength(2);
    calls[0].resolve(1); // what was read before the change
    expect(await before).toBe(1);
    expect(cache.fresh()).toBeUndefined();
    calls[1].resolve(2);
    expect(await after).toBe(2);
    expect(cache.fresh()).toBe(2);
  });

  it('a failed reload fails its callers, and the next caller reads again', async () => {
    const { load, calls } = loader();
    const cache = new SnapshotCache(load, 5000);
    const a = cache.get();
    const b = cache.get();
    calls[0].reject(new Error('database unavailable'));
    await expect(a).rejects.toThrow('database unavailable');
    await expect(b).rejects.toThrow('database unavailable');
    const c = cache.get();
    expect(calls).toHaveLength(2);
    calls[1].resolve(3);
    expect(await c).toBe(3);
  });

  it('a value older than its time to live is read again', async () => {
    vi.useFakeTimers();
    const { load, calls } = loader();
    const cache = new SnapshotCache(load, 5000);
    const first = cache.get();
    calls[0].resolve(1);
    await first;
    vi.advanceTimersByTime(4999);
    expect(cache.fresh()).toBe(1);
    vi.advanceTimersByTime(2);
    expect(cache.fresh()).toBeUndefined();
    const second = cache.get();
    expect(calls).toHaveLength(2);
    calls[1].resolve(2);
    expect(await second).toBe(2);
  });
});
