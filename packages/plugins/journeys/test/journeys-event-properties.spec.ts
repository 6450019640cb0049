import { createPluginTestkit, type PluginTestkit } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { journeysPlugin } from '../src';

// Which event properties a funnel's filters and breakdowns see, over core's events read in place: short strings,
// numbers and booleans of the configured keys; a longer string, a list, an object or a null counts as absent, and a
// key the `properties` option leaves out is refused.
const plugin = journeysPlugin({ k: 1, properties: ['plan', 'seats', 'trial', 'note', 'emoji', 'tags', 'gone'] });
let kit: PluginTestkit;
beforeAll(async () => {
  kit = await createPluginTestkit([plugin]);
});
afterAll(async () => kit?.close());

const ANALYST = { roles: ['admin'], purpose: 'analytics' };
const FUNNEL = `query($steps: [FunnelStepInput!]!, $breakdown: FunnelBreakdownInput) {
  funnel(steps: $steps, breakdown: $breakdown) { series { breakdownValue steps { entered } } } }`;

/** People who reached the second step: `first`, then `second` where `property` equals `equals`. */
async function matched(first: string, second: string, property: string, equals: string): Promise<number | null> {
  const r = await kit.graphql(FUNNEL, { steps: [{ event: first }, { event: second, where: [{ property, equals }] }] }, ANALYST);
  expect(r.errors).toBeUndefined();
  return r.data.funnel.series[0].steps[1].entered;
}

/** The breakdown values of a 2-step funnel (first touch: the value is the first step's), with the people entering each. */
async function breakdown(first: string, second: string, property: string): Promise<Record<string, number>> {
  const r = await kit.graphql(FUNNEL, { steps: [{ event: first }, { event: second }], breakdown: { property } }, ANALYST);
  expect(r.errors).toBeUndefined();
  return Object.fromEntries(r.data.funnel.series.map((s: { breakdownValue: string | null; steps: { entered: number }[] }) => [String(s.breakdownValue), s.steps[0]!.entered]));
}

beforeAll(async () => {
  const r = await kit.ingest([
    { type: 'track', userId: 'props-1', event: 'Props Start', timestamp: '2026-06-01T11:59:00Z' },
    {
      type: 'track', userId: 'props-1', event: 'Plan Chosen', timestamp: '2026-06-01T12:00:00.123Z',
      properties: { plan: 'pro', seats: 12.5, trial: false, note: 'n'.repeat(200), emoji: '😀'.repeat(200), tags: ['a'], gone: null, long: 'x'.repeat(500) },
    },
    { type: 'track', userId: 'props-2', event: 'Props Start', timestamp: '2026-06-01T11:59:00Z' },
    // 201 characters; and 5,000 characters, stored compressed.
    { type: 'track', userId: 'props-2', event: 'Too Long', timestamp: '2026-06-01T12:00:00Z', properties: { plan: 'p'.repeat(201), seats: 3 } },
    { type: 'track', userId: 'props-2', event: 'Compressed', timestamp: '2026-06-01T12:01:00Z', properties: { plan: 'p'.repeat(5000), seats: 1 } },
    { type: 'track', userId: 'props-2', event: 'With Object', timestamp: '2026-06-01T12:02:00Z', properties: { plan: { a: 1 }, seats: 1 } },
    { type: 'page', userId: 'props-3', name: 'Pricing', timestamp: '2026-06-01T12:00:00Z', properties: { plan: 'team' } },
    { type: 'screen', userId: 'props-3', name: 'Settings', timestamp: '2026-06-01T12:01:00Z' },
    { type: 'identify', userId: 'props-3', traits: { plan: 'team' }, timestamp: '2026-06-01T12:02:00Z' },
  ]);
  expect(r.rejected).toEqual([]);
  await kit.settle();
});

it('matches short strings, numbers and booleans of the configured keys', async () => {
  expect(await matched('Props Start', 'Plan Chosen', 'plan', 'pro')).toBe(1);
  expect(await matched('Props Start', 'Plan Chosen', 'plan', 'free')).toBe(0);
  expect(await matched('Props Start', 'Plan Chosen', 'seats', '12.5')).toBe(1);
  expect(await matched('Props Start', 'Plan Chosen', 'trial', 'false')).toBe(1);
  // 200 characters are used (the emoji are 200 characters, 400 UTF-16 units).
  expect(await matched('Props Start', 'Plan Chosen', 'note', 'n'.repeat(200))).toBe(1);
  expect(await matched('Props Start', 'Plan Chosen', 'emoji', '😀'.repeat(200))).toBe(1);
});

it('treats a list, an object, a null and a string over 200 characters as absent', async () => {
  expect(await matched('Props Start', 'Plan Chosen', 'tags', '["a"]')).toBe(0);
  expect(await matched('Props Start', 'Plan Chosen', 'gone', 'null')).toBe(0);
  expect(await matched('Props Start', 'With Object', 'plan', '{"a": 1}')).toBe(0);
  expect(await matched('Props Start', 'Too Long', 'plan', 'p'.repeat(201))).toBe(0);
  expect(await matched('Props Start', 'Compressed', 'plan', 'p'.repeat(5000))).toBe(0);
  expect(await matched('Props Start', 'Too Long', 'seats', '3')).toBe(1);
  expect(await breakdown('Too Long', 'Compressed', 'plan')).toEqual({ null: 1 });
  expect(await breakdown('Compressed', 'With Object', 'plan')).toEqual({ null: 1 });
  expect(await breakdown('With Object', 'Compressed', 'plan')).toEqual({ null: 1 });
  expect(await breakdown('Too Long', 'Compressed', 'seats')).toEqual({ 3: 1 });
  expect(await breakdown('Plan Chosen', 'Props Start', 'plan')).toEqual({ pro: 1 });
});

it('refuses a filter or a breakdown on a key the properties option leaves out, naming the argument', async () => {
  const filter = await kit.graphql(FUNNEL, { steps: [{ event: 'Props Start' }, { event: 'Plan Chosen', where: [{ property: 'long', equals: 'x' }] }] }, ANALYST);
  expect(filter.errors?.[0]?.extensions).toEqual({ code: 'VALIDATION_FAILED', field: 'steps[1].where[0].property', rule: 'properties' });
  const by = await kit.graphql(FUNNEL, { steps: [{ event: 'Props Start' }, { event: 'Plan Chosen' }], breakdown: { property: 'long' } }, ANALYST);
  expect(by.errors?.[0]?.extensions).toEqual({ code: 'VALIDATION_FAILED', field: 'breakdown.property', rule: 'properties' });
  const journey = await kit.graphql(
    `mutation($i: JourneyInput!) { defineJourney(input: $i) { name } }`,
    { i: { name: 'Props', stages: [{ name: 'A', when: [{ event: 'Props Start' }] }, { name: 'B', when: [{ anyOf: [{ when: [{ event: 'Plan Chosen', where: [{ property: 'long', equals: 'x' }] }] }, { when: [{ event: 'Too Long' }] }] }] }] } },
    { roles: ['admin'] },
  );
  expect(journey.errors?.[0]?.extensions).toEqual({ code: 'VALIDATION_FAILED', field: 'input.stages[1].when[0].anyOf[0].when[0].where[0].property', rule: 'properties' });
});

it('reads page and screen views under the names a step matches, with their properties, and not identify events', async () => {
  const r = await kit.graphql(FUNNEL, { steps: [{ event: 'Page Viewed', where: [{ property: 'plan', equals: 'team' }] }, { event: 'Screen Viewed' }] }, ANALYST);
  expect(r.errors).toBeUndefined();
  expect(r.data.funnel.series[0].steps.map((s: { entered: number }) => s.entered)).toEqual([1, 1]);
  expect(await matched('Page Viewed', 'Pricing', 'plan', 'team')).toBe(0);
  expect(await matched('Screen Viewed', 'identify', 'plan', 'team')).toBe(0);
});
