import fc from 'fast-check';
import { expect, it } from 'vitest';
import { checkLifecycle, checkRetention } from '../src/plugin/retention.definition';
import { runLifecycle, runRetention } from '../src/plugin/retention.query';
import { buildLifecycle, buildRetention } from '../src/plugin/retention.result';
import { buildPaths, checkPaths, runPaths } from '../src/plugin/paths.query';
import { referencePaths } from './paths-reference';
import type { RefEvent } from './reference';
import { useStoreFixture } from './store.fixture';
import { referenceLifecycle, referenceRetention } from './retention-reference';

// Retention, lifecycle and paths in SQL against the plain TypeScript reference, on random event streams and random
// queries: they must agree exactly, suppression included. The people are real profiles, so the consent SQL
// applies (one of them refused analytics).
const f = useStoreFixture();
const store = (events: RefEvent[]) => f.store(events);

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 5);

// Times in hours around T0, from two weeks before to five weeks after, mostly on or next to a day's edge (and `from`
// on one too), so an event exactly at a period's start, just before it, and "before from" all occur often.
const eventsArb = fc.array(
  fc
    .record({ person: fc.integer({ min: 0, max: 5 }), name: fc.constantFrom('A', 'B'), day: fc.integer({ min: -14, max: 35 }), at: fc.constantFrom(0, 0, 1, 23) })
    .map(({ person, name, day, at }) => ({ person, name, hour: day * 24 + at })),
  { minLength: 5, maxLength: 60 },
);
const queryArb = fc.record({
  period: fc.constantFrom<'day' | 'week'>('day', 'week'),
  periods: fc.integer({ min: 1, max: 6 }),
  fromHour: fc.tuple(fc.integer({ min: -3, max: 7 }), fc.constantFrom(0, 0, 1)).map(([d, h]) => d * 24 + h),
  start: fc.constantFrom('A', 'B'),
  back: fc.constantFrom('A', 'B'),
  k: fc.constantFrom(1, 1, 2, 3),
});

const toEvents = (raw: Array<{ person: number; name: string; hour: number }>): RefEvent[] =>
  raw.map((e, i) => ({ profileId: f.people[e.person]!, eventId: i + 1, name: e.name, ts: T0 + e.hour * 3_600_000, props: {} }));

it('retention in SQL agrees with the reference on random streams and queries', async () => {
  await fc.assert(
    fc.asyncProperty(eventsArb, queryArb, async (raw, q) => {
      const events = toEvents(raw);
      await store(events);
      const spec = checkRetention({ startEvent: q.start, returnEvent: q.back, period: q.period, from: new Date(T0 + q.fromHour * 3_600_000), periods: q.periods });
      const sql = await runRetention(f.ctx, spec, q.k);
      const ref = referenceRetention(events, f.allowed, spec);
      expect(sql).toEqual(buildRetention(spec.fromMs, spec.periodMs, spec.periods, ref.sizes, ref.returned, q.k));
    }),
    { numRuns: 150, seed: 20261206 },
  );
});

it('lifecycle in SQL agrees with the reference on random streams and queries', async () => {
  await fc.assert(
    fc.asyncProperty(eventsArb, queryArb, async (raw, q) => {
      const events = toEvents(raw);
      await store(events);
      const spec = checkLifecycle({ event: q.start, period: q.period, from: new Date(T0 + q.fromHour * 3_600_000), periods: q.periods });
      const sql = await runLifecycle(f.ctx, spec, q.k);
      expect(sql).toEqual(buildLifecycle(spec.fromMs, spec.periodMs, spec.periods, referenceLifecycle(events, f.allowed, spec), q.k));
    }),
    { numRuns: 150, seed: 20261206 },
  );
});

it('paths in SQL agree with the reference on random streams and queries', async () => {
  const pathsArb = fc.record({
    event: fc.constantFrom('A', 'B', 'C'),
    direction: fc.constantFrom<'next' | 'previous'>('next', 'previous'),
    depth: fc.integer({ min: 1, max: 4 }),
    from: fc.option(fc.integer({ min: -3, max: 4 }), { nil: null }),
    span: fc.option(fc.integer({ min: 1, max: 8 }), { nil: null }),
    k: fc.constantFrom(1, 1, 2, 3),
  });
  const streamArb = fc.array(
    fc.record({ person: fc.integer({ min: 0, max: 5 }), name: fc.constantFrom('A', 'B', 'C'), day: fc.integer({ min: -2, max: 6 }), at: fc.constantFrom(0, 0, 5) }),
    { minLength: 10, maxLength: 50 },
  );
  await fc.assert(
    fc.asyncProperty(streamArb, pathsArb, async (raw, q) => {
      // Equal timestamps are common (at: 0): the event id breaks the tie, as in the SQL.
      const events = raw.map((e, i) => ({ profileId: f.people[e.person]!, eventId: i + 1, name: e.name, ts: T0 + (e.day * 24 + e.at) * 3_600_000, props: {} }));
      await store(events);
      const from = q.from === null ? null : new Date(T0 + q.from * DAY);
      const to = q.from === null || q.span === null ? null : new Date(T0 + (q.from + q.span) * DAY);
      const spec = checkPaths({ event: q.event, direction: q.direction, depth: q.depth, from, to });
      expect(await runPaths(f.ctx, spec, q.k)).toEqual(buildPaths(referencePaths(events, f.allowed, spec), q.k));
    }),
    { numRuns: 150, seed: 20261206 },
  );
});

it('paths: repeats collapse, equal times go by event id, and the previous steps read backwards from the anchor', async () => {
  const at = (person: number, name: string, hour: number, id: number): RefEvent => ({ profileId: f.people[person]!, eventId: id, name, ts: T0 + hour * 3_600_000, props: {} });
  await store([at(0, 'B', 0, 1), at(0, 'C', 0, 2), at(0, 'A', 1, 3), at(0, 'A', 2, 4), at(0, 'B', 3, 5), at(0, 'B', 4, 6), at(0, 'C', 5, 7)]);
  const next = await runPaths(f.ctx, checkPaths({ event: 'A', direction: 'next', depth: 3, from: null, to: null }), 1);
  expect(next.edges.map((e) => [e.level, e.source, e.target, e.people])).toEqual([[1, 'A', 'B', 1], [2, 'B', 'C', 1]]);
  const previous = await runPaths(f.ctx, checkPaths({ event: 'A', direction: 'previous', depth: 3, from: null, to: null }), 1);
  expect(previous.edges.map((e) => [e.level, e.source, e.target, e.people])).toEqual([[1, 'A', 'C', 1], [2, 'C', 'B', 1]]);
});

it('a hand-made week: the triangle and the lifecycle read as expected', async () => {
  // r0 and r1 sign up in week 0; r0 comes back in weeks 1 and 2, r1 in week 2; r2 signs up in week 1 and never returns.
  const ev = (person: number, name: string, day: number, id: number): RefEvent => ({ profileId: f.people[person]!, eventId: id, name, ts: T0 + day * DAY + 3_600_000, props: {} });
  await store([ev(0, 'A', 0, 1), ev(1, 'A', 2, 2), ev(0, 'B', 8, 3), ev(0, 'B', 15, 4), ev(1, 'B', 16, 5), ev(2, 'A', 9, 6), ev(5, 'A', 1, 7)]);
  const r = await runRetention(f.ctx, checkRetention({ startEvent: 'A', returnEvent: 'B', period: 'week', from: new Date(T0), periods: 3 }), 1);
  expect(r.cohorts.map((c) => c.cells.map((x) => x.count))).toEqual([[2, 1, 2], [1, 0], [0]]);
  expect(r.cohorts[0]!.cells[2]!.rate).toBe(1);
  const l = await runLifecycle(f.ctx, checkLifecycle({ event: 'A', period: 'week', from: new Date(T0), periods: 3 }), 1);
  expect(l.periods.map((p) => [p.new, p.returning, p.resurrecting, p.dormant])).toEqual([[2, 0, 0, 0], [1, 0, 0, 2], [0, 0, 0, 1]]);
});
