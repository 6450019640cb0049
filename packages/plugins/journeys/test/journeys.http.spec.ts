import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journeysPlugin } from '../src';

// The plugin in a real server: events in through /v1/batch, delivery settled, the funnel out through GraphQL, with
// the default k = 5.
let env: TestEnvironment;
const T = Date.UTC(2026, 2, 2, 9, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const ANALYTICS = { headers: { 'x-rapport-purpose': 'analytics' } };

/** 12 shoppers: all view, 10 add to cart (60 s x i later), 6 pay (120 s after the cart). One more refuses analytics. */
function shop(): Record<string, unknown>[] {
  const batch: Record<string, unknown>[] = [];
  for (let i = 1; i <= 12; i++) {
    batch.push({ type: 'track', userId: `shopper-${i}`, event: 'Shop Viewed', timestamp: iso(T), properties: { plan: i % 2 ? 'pro' : 'free' } });
    if (i <= 10) batch.push({ type: 'track', userId: `shopper-${i}`, event: 'Shop Carted', timestamp: iso(T + 60_000 * i) });
    if (i <= 6) batch.push({ type: 'track', userId: `shopper-${i}`, event: 'Shop Paid', timestamp: iso(T + 60_000 * i + 120_000), properties: { plan: 'annual' } });
  }
  const refuses = { consent: { categoryPreferences: { analytics: false } } };
  for (const [k, event] of ['Shop Viewed', 'Shop Carted', 'Shop Paid'].entries()) {
    batch.push({ type: 'track', userId: 'refuser', event, timestamp: iso(T + k * 1000), context: refuses });
  }
  return batch;
}

beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [journeysPlugin()] });
  const r = await env.post('/v1/batch', { batch: shop() });
  expect(r.status).toBe(200);
  await env.settle();
});
afterAll(async () => env?.close());

const STEPS = [{ event: 'Shop Viewed' }, { event: 'Shop Carted' }, { event: 'Shop Paid' }];
const FUNNEL = `query($steps: [FunnelStepInput!]!, $w: Int, $mode: FunnelMode, $b: FunnelBreakdownInput, $bins: Int, $x: [FunnelExclusionInput!]) {
  funnel(steps: $steps, windowSeconds: $w, mode: $mode, breakdown: $b, bins: $bins, exclusions: $x) {
    k omittedBreakdownValues
    series { breakdownValue steps { step event entered converted conversionFromFirst conversionFromPrevious
      medianSecondsToConvert p90SecondsToConvert suppressed histogram { fromSeconds toSeconds count suppressed } } }
  } }`;
const run = (vars: Record<string, unknown>, opts: Parameters<TestEnvironment['graphql']>[2] = ANALYTICS): Promise<{ status: number; body: any }> =>
  env.graphql(FUNNEL, { steps: STEPS, w: 3600, bins: 6, ...vars }, opts);

it('answers an ordered funnel: counts, rates, median and p90 time to convert, histogram; the refuser is not counted', async () => {
  const r = await run({});
  expect(r.status).toBe(200);
  expect(r.body.errors).toBeUndefined();
  const [series] = r.body.data.funnel.series;
  expect(r.body.data.funnel.k).toBe(5);
  expect(series.breakdownValue).toBeNull();
  const steps = series.steps;
  expect(steps.map((s: any) => [s.entered, s.converted])).toEqual([[12, 10], [10, 6], [6, null]]);
  expect(steps.map((s: any) => s.conversionFromFirst)).toEqual([1, 10 / 12, 0.5]);
  expect(steps.map((s: any) => s.conversionFromPrevious)).toEqual([1, 10 / 12, 0.6]);
  expect(steps.map((s: any) => [s.medianSecondsToConvert, s.p90SecondsToConvert])).toEqual([[null, null], [300, 540], [120, 120]]);
  expect(steps[0].histogram).toBeNull();
  // 600-second bins over the 3600-second window: nine carts in the first, one in the second (withheld: 1 < k).
  expect(steps[1].histogram.map((b: any) => [b.fromSeconds, b.toSeconds, b.count, b.suppressed])).toEqual([
    [0, 600, 9, false], [600, 1200, null, true], [1200, 1800, 0, false], [1800, 2400, 0, false], [2400, 3000, 0, false], [3000, 3600, 0, false],
  ]);
  expect(steps[1].suppressed).toBe(true);
  expect(steps[2].histogram.map((b: any) => b.count)).toEqual([6, 0, 0, 0, 0, 0]);
  expect(steps[2].suppressed).toBe(false);
});

it('a shorter window or a per-step window drops the slow carts', async () => {
  const r = await run({ w: 300 });
  expect(r.body.data.funnel.series[0].steps.map((s: any) => s.entered)).toEqual([12, 5, null]);
  const perStep = await run({ steps: [STEPS[0], { event: 'Shop Carted', withinSeconds: 420 }, STEPS[2]] });
  expect(perStep.body.data.funnel.series[0].steps.map((s: any) => s.entered)).toEqual([12, 7, 6]);
});

it('breaks down by an event property, first-touch and last-touch, withholding cells under k', async () => {
  const first = await run({ b: { property: 'plan', attribution: 'FIRST_TOUCH' } });
  expect(first.body.errors).toBeUndefined();
  const f = first.body.data.funnel.series.map((s: any) => [s.breakdownValue, s.steps.map((x: any) => x.entered), s.steps[2].suppressed]);
  expect(f).toEqual([['free', [6, 5, null], true], ['pro', [6, 5, null], true]]);
  const last = await run({ b: { property: 'plan', attribution: 'LAST_TOUCH' } });
  const l = last.body.data.funnel.series.map((s: any) => [s.breakdownValue, s.steps.map((x: any) => x.entered)]);
  expect(l).toEqual([['annual', [6, 6, 6]], [null, [null, null, 0]], ['free', [null, 0, 0]], ['pro', [null, 0, 0]]]);
});

it('strict mode needs each step to be the very next event; an exclusion disqualifies', async () => {
  const strict = await run({ mode: 'STRICT' });
  expect(strict.body.data.funnel.series[0].steps.map((s: any) => s.entered)).toEqual([12, 10, 6]);
  const ex = await run({ steps: [STEPS[0], STEPS[2]], x: [{ event: 'Shop Carted' }] });
  // Ten of the twelve carted after viewing, before paying (or never paying): PostHog removes them from the funnel.
  // The two left are fewer than k, so the count is withheld.
  expect(ex.body.data.funnel.series[0].steps.map((s: any) => [s.entered, s.suppressed])).toEqual([[null, true], [0, false]]);
});

it('answers zeros for an unknown event and says so in a warning', async () => {
  const r = await run({ steps: [STEPS[0], { event: 'Never Happened' }] });
  expect(r.body.errors).toBeUndefined();
  expect(r.body.data.funnel.series[0].steps.map((s: any) => s.entered)).toEqual([12, 0]);
  expect(r.body.extensions.warnings).toEqual([expect.objectContaining({ code: 'UNKNOWN_EVENT', field: 'steps[1].event', rule: 'exists' })]);
});

describe('bad input is refused with the argument and the rule', () => {
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['one step', { steps: [STEPS[0]] }, 'steps', 'count'],
    ['eleven steps', { steps: Array.from({ length: 11 }, () => STEPS[0]) }, 'steps', 'count'],
    ['a window of 0', { w: 0 }, 'windowSeconds', 'range'],
    ['a window over 365 days', { w: 10 * 365 * 86400 }, 'windowSeconds', 'range'],
    ['a per-step window on the first step', { steps: [{ event: 'Shop Viewed', withinSeconds: 5 }, STEPS[1]] }, 'steps[0].withinSeconds', 'firstStep'],
    ['an exclusion between steps that do not exist', { x: [{ event: 'Shop Carted', fromStep: 2, toStep: 5 }] }, 'exclusions[0]', 'stepRange'],
    ['exclusions in an unordered funnel', { mode: 'UNORDERED', x: [{ event: 'Shop Carted' }] }, 'exclusions', 'mode'],
    ['51 bins', { bins: 51 }, 'bins', 'range'],
  ];
  it.each(cases)('%s', async (_name, vars, field, rule) => {
    const r = await run(vars);
    expect(r.body.data).toBeNull();
    expect(r.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field, rule });
    expect(r.body.errors[0].message).toMatch(new RegExp(`^${field.replace(/[[\]]/g, '\\$&')}: `));
  });

  it('a request that does not act for analytics, and a key without journeys:read', async () => {
    const none = await run({}, {});
    expect(none.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field: 'purpose', rule: 'actsFor' });
    const app = await run({}, { key: env.keys.app, ...ANALYTICS });
    expect(app.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });
});

it('counts events stored before the plugin was installed (delivery from history)', async () => {
  const bare = await createTestEnvironment({ plugins: [] });
  try {
    const batch = Array.from({ length: 5 }, (_, i) => [
      { type: 'track', userId: `early-${i}`, event: 'Early Viewed', timestamp: iso(T) },
      { type: 'track', userId: `early-${i}`, event: 'Early Paid', timestamp: iso(T + 1000) },
    ]).flat();
    expect((await bare.post('/v1/batch', { batch })).status).toBe(200);
    const later = await bare.addServer({ plugins: [journeysPlugin()] });
    await later.settle();
    const r = await later.graphql(FUNNEL, { steps: [{ event: 'Early Viewed' }, { event: 'Early Paid' }] }, ANALYTICS);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.funnel.series[0].steps.map((s: any) => s.entered)).toEqual([5, 5]);
  } finally {
    await bare.close();
  }
});
