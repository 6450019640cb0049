import fc from 'fast-check';
import { expect, it } from 'vitest';
import { checkFunnel, runFunnel, type FunnelArgs } from '../src';
import { referenceFunnel, type RefEvent } from './reference';
import { useStoreFixture } from './store.fixture';

// The set-wise ordered funnel (window functions instead of journeys_funnel_person: ordered mode, no exclusion, no
// per-step window) against the plain TypeScript reference. funnel-property.spec.ts covers every mode, but only a few of
// its cases take this path; here every case does, with steps that repeat an event (one event matching several steps),
// equal timestamps and window edges, breakdowns with both attributions, and a date range.
const f = useStoreFixture();

const NAMES = ['A', 'B', 'C'];
const T0 = Date.UTC(2026, 0, 1);

const eventArb = fc.record({
  person: fc.integer({ min: 0, max: 5 }),
  name: fc.constantFrom(...NAMES, 'Z'),
  at: fc.integer({ min: 0, max: 30 }),
  plan: fc.constantFrom('free', 'pro', undefined),
  n: fc.constantFrom(1, 2),
});
const filterArb = fc.option(fc.oneof(fc.constant({ property: 'plan', equals: 'pro' }), fc.constant({ property: 'n', equals: '1' })), { nil: undefined });

const funnelArb = fc.record({
  steps: fc.array(fc.record({ event: fc.constantFrom(...NAMES), filter: filterArb }), { minLength: 2, maxLength: 5 }),
  windowSeconds: fc.integer({ min: 1, max: 20 }),
  from: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
  breakdown: fc.option(fc.record({ property: fc.constantFrom('plan', 'n'), attribution: fc.constantFrom<'first_touch' | 'last_touch'>('first_touch', 'last_touch') }), { nil: undefined }),
  bins: fc.integer({ min: 1, max: 6 }),
  k: fc.constantFrom(1, 1, 1, 2),
  // Parts the funnel runs in (disjoint sets of people, merged): the answer must not depend on it.
  parts: fc.integer({ min: 1, max: 4 }),
}).map(({ steps, windowSeconds, from, breakdown, bins, k, parts }) => {
  const args: FunnelArgs = {
    steps: steps.map((s) => ({ event: s.event, where: s.filter ? [s.filter] : [], withinSeconds: null })),
    windowSeconds, mode: 'ordered', from: from === undefined ? null : new Date(T0 + from * 1000), to: null, exclusions: [],
    breakdown: breakdown ?? null, bins,
  };
  return { spec: checkFunnel(args), k, parts };
});

it('the set-wise ordered funnel equals the reference on random event streams', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(eventArb, { minLength: 5, maxLength: 80, size: 'max' }), funnelArb, async (raw, { spec, k, parts }) => {
      const events = raw.map((e, i): RefEvent => ({
        profileId: f.people[e.person]!, eventId: i + 1, name: e.name, ts: T0 + e.at * 1000,
        props: { ...(e.plan ? { plan: e.plan } : {}), n: e.n },
      }));
      await f.store(events);
      expect(await runFunnel(f.ctx, spec, k, { parts })).toEqual(referenceFunnel(events, f.allowed, spec, k));
    }),
    { numRuns: 400, seed: Number(process.env.FC_SEED ?? 20261207) },
  );
});
