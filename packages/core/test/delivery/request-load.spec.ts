import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RequestLoad } from '../../src/delivery/request-load';

// The clock is faked: the share is measured over the last half second of (fake) time, sampled every 50 ms.
let now = 0;
let load: RequestLoad;
beforeEach(() => {
  vi.useFakeTimers();
  now = 0;
  load = new RequestLoad(() => now);
});
afterEach(() => {
  load.close();
  vi.useRealTimers();
});
const advance = (ms: number) => {
  for (let i = 0; i < ms / 10; i++) {
    now += 10;
    vi.advanceTimersByTime(10);
  }
};

describe('RequestLoad: how busy the request path is', () => {
  it('a request in flight the whole last half second saturates it; one just begun is no evidence yet', () => {
    const end = load.begin();
    advance(30);
    expect(load.saturated()).toBe(false);
    advance(600);
    expect(load.busyShare()).toBe(1);
    expect(load.saturated()).toBe(true);
    end();
    advance(150);
    expect(load.busyShare()).toBeCloseTo(0.7, 1);
    expect(load.saturated()).toBe(false);
  });

  it('overlapping requests count once, from the first one in to the last one out; 80% busy is not saturated', () => {
    for (let i = 0; i < 20; i++) {
      const a = load.begin();
      advance(30);
      const b = load.begin();
      advance(30);
      a();
      advance(30);
      b();
      advance(10);
    }
    expect(load.busyShare()).toBeCloseTo(0.9, 1);
    for (let i = 0; i < 20; i++) {
      const a = load.begin();
      const b = load.begin();
      advance(50);
      a();
      advance(30);
      b();
      advance(20);
    }
    expect(load.busyShare()).toBeCloseTo(0.8, 1);
    expect(load.saturated()).toBe(false);
  });

  it('a sampling timer held back (a busy event loop) still reads a saturated path as saturated', () => {
    const end = load.begin();
    advance(80);
    now += 1500; // no timer ran meanwhile
    expect(load.saturated()).toBe(true);
    end();
  });

  it('a first request (or the first after an idle spell) is measured against a whole window, idle before it', () => {
    const end = load.begin();
    advance(200);
    expect(load.busyShare()).toBeLessThan(0.5); // 200 ms busy of the 700 since the idle window before it began
    expect(load.saturated()).toBe(false);
    end();
    advance(2000);
    const again = load.begin();
    advance(100);
    expect(load.busyShare()).toBeLessThan(0.5);
    again();
  });

  it('ending a request twice counts once; an idle second after a burst reads 0', () => {
    const end = load.begin();
    advance(1000);
    end();
    end();
    expect(load.active).toBe(0);
    advance(2000);
    expect(load.busyShare()).toBe(0);
  });
});
