import fc from 'fast-check';
import { expect, it } from 'vitest';
import { checkFunnel, runFunnel, type FunnelArgs, type FunnelSpec } from '../src';
import { generateJourneys } from '../src/eval/synthetic-journeys';
import { referenceFunnel, type RefEvent } from './reference';
import { useStoreFixture } from './store.fixture';

// The SQL funnel (journeys_funnel_person and the aggregation around it) against the plain TypeScript reference,
// on random event streams and random funnels. Events are written straight into the plugin's store; the people are
// real profiles, so the consent SQL applies (one of them refused analytics).
const f = useStoreFixture();
const store = (events: RefEvent[]) => f.store(events);

const NAMES = ['A', 'B', 'C'];
const T0 = Date.UTC(2026, 0, 1);

const eventArb = fc.record({
  person: fc.integer({ min: 0, max: 5 }),
  name: fc.constantFrom(...NAMES, 'Z'),
  // Small integer offsets (in seconds) so equal timestamps and window edges happen often.
  at: fc.integer({ min: 0, max: 40 }),
  plan: fc.constantFrom('free', 'pro', undefined),
  n: fc.constantFrom(1, 2),
});
const filterArb = fc.option(fc.oneof(fc.constant({ property: 'plan', equals: 'pro' }), fc.constant({ property: 'n', equals: '1' })), { nil: undefined });
const stepArb = fc.record({ event: fc.constantFrom(...NAMES), filter: filterArb, within: fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }) });

const funnelArb = fc
  .record({
    steps: fc.array(stepArb, { minLength: 2, maxLength: 4 }),
    windowSeconds: fc.integer({ min: 1, max: 30 }),
    mode: fc.constantFrom<'ordered' | 'strict' | 'unordered'>('ordered', 'strict', 'unordered'),
    from: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
    exclusion: fc.option(fc.record({ event: fc.constantFrom(...NAMES, 'Z'), a: fc.nat(), b: fc.nat() }), { nil: undefined }),
    breakdown: fc.option(fc.record({ property: fc.constantFrom('plan', 'n'), attribution: fc.constantFrom<'first_touch' | 'last_touch'>('first_touch', 'last_touch') }), { nil: undefined }),
    bins: fc.integer({ min: 1, max: 6 }),
    // Mostly 1, so most cells are compared as numbers; 2 and 3 check the suppression on the same data.
    k: fc.constantFrom(1, 1, 1, 2, 3),
    // Parts the funnel runs in (disjoint sets of people, merged): the answer must not depend on it.
    parts: fc.integer({ min: 1, max: 4 }),
  })
  .map(({ steps, windowSeconds, mode, from, exclusion, breakdown, bins, k, parts }) => {
    const n = steps.length;
    const ordered = mode !== 'unordered';
    const args: FunnelArgs = {
      steps: steps.map((s, i) => ({
        event: s.event,
        where: s.filter ? [s.filter] : [],
        withinSeconds: ordered && i > 0 && s.within !== undefined ? Math.min(s.within, windowSeconds) : null,
      })),
      windowSeconds,
      mode,
      from: from === undefined ? null : new Date(T0 + from * 1000),
      to: null,
      exclusions: ordered && exclusion
        ? [{ event: exclusion.event, fromStep: 1 + (exclusion.a % (n - 1)), toStep: Math.min(n, 2 + (exclusion.a % (n - 1)) + (exclusion.b % n)) }]
        : [],
      breakdown: breakdown ?? null,
      bins,
    };
    return { spec: checkFunnel(args), k, parts };
  });

async function agree(events: RefEvent[], spec: FunnelSpec, k: number, parts?: number): Promise<void> {
  await store(events);
  const sql = await runFunnel(f.ctx, spec, k, { parts });
  expect(sql).toEqual(referenceFunnel(events, f.allowed, spec, k));
}

it('the SQL funnel equals the reference on random event streams, funnels, modes and windows', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(eventArb, { minLength: 5, maxLength: 80, size: 'max' }), funnelArb, async (raw, { spec, k, parts }) => {
      const events = raw.map((e, i): RefEvent => ({
        profileId: f.people[e.person]!, eventId: i + 1, name: e.name, ts: T0 + e.at * 1000,
        props: { ...(e.plan ? { plan: e.plan } : {}), n: e.n },
      }));
      await agree(events, spec, k, parts);
    }),
    { numRuns: 300, seed: Number(process.env.FC_SEED ?? 20261206) },
  );
});

it('agrees with the reference, and with the planted ground truth, on seeded synthetic journeys', async () => {
  const steps = ['Visited', 'Signed Up', 'Activated', 'Paid'];
  const g = generateJourneys({ seed: 7, people: 5, steps, noise: ['Browsed'], eventsPerPerson: 12, windowMs: 600_000, startMs: T0 });
  const events: RefEvent[] = g.events.map((e) => ({ profileId: f.people[e.person]!, eventId: e.id, name: e.name, ts: e.ts, props: e.props }));
  const spec = checkFunnel({ steps: steps.map((event) => ({ event })), windowSeconds: 600, mode: 'ordered', bins: 4 });
  await agree(events, spec, 1);
  const sql = await runFunnel(f.ctx, spec, 1);
  const planted = steps.map((_, i) => g.reached.filter((r) => r > i).length);
  expect(sql.series[0]!.steps.map((s) => s.entered)).toEqual(planted);
});
