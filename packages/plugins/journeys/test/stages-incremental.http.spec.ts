import type { PluginContext } from '@rapport/core';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { journeysPlugin } from '../src';

// A delivered event re-evaluates only the stages it can change (stage.increment.ts): the stored stage is kept unless
// the event can make it stop holding, and only later stages that read the event's name (or a trait it sets) are
// tried. Checked against the full evaluation on random journeys and random event streams: events arrive over
// GraphQL's sibling /v1/batch in several batches (each delivered before the next), the stages are read through
// Profile.journey; then each journey is defined again unchanged, which evaluates everyone in full (the backfill), and
// every person must be in the same stage as before.
let env: TestEnvironment;
let ctx: PluginContext;
const ANALYTICS = { headers: { 'x-rapport-purpose': 'analytics' } };
const DEFINE = `mutation($input: JourneyInput!) { defineJourney(input: $input) { name version } }`;
const READY = `{ journeyDefinitions { name version ready } }`;
const DAY = 86_400_000;

const NAMES = ['A', 'B', 'C'];
// Mostly plain counts, the conditions a person's stage is kept by; the others force a full evaluation in some cases.
const eventCond = fc.oneof(
  { arbitrary: fc.record({ event: fc.constantFrom(...NAMES), atLeast: fc.integer({ min: 1, max: 2 }) }), weight: 6 },
  { arbitrary: fc.record({ event: fc.constantFrom(...NAMES), absent: fc.constant(true) }), weight: 1 },
  // Events are sent 1 or 10 days old: a window of 3 days is never crossed while the test runs.
  { arbitrary: fc.record({ event: fc.constantFrom(...NAMES), withinSeconds: fc.constant(3 * 86_400) }), weight: 1 },
);
const traitCond = fc.oneof(
  fc.record({ trait: fc.constant('plan'), equals: fc.constantFrom('pro', 'free') }),
  fc.record({ trait: fc.constant('plan'), exists: fc.boolean() }),
  fc.record({ trait: fc.constant('tier'), notEquals: fc.constant('gold') }),
);
const simple = fc.oneof({ arbitrary: eventCond, weight: 4 }, { arbitrary: traitCond, weight: 1 });
const cond = fc.oneof(
  { arbitrary: simple, weight: 6 },
  { arbitrary: fc.array(simple, { minLength: 1, maxLength: 2 }).chain((a) => fc.array(simple, { minLength: 1, maxLength: 2 }).map((b) => ({ anyOf: [{ when: a }, { when: b }] }))), weight: 1 },
);
const stagesArb = fc.array(fc.array(cond, { minLength: 1, maxLength: 2 }), { minLength: 2, maxLength: 4 });

const PEOPLE = 3;
const eventArb = fc.oneof(
  { arbitrary: fc.record({ type: fc.constant('track'), who: fc.nat(PEOPLE - 1), name: fc.constantFrom(...NAMES, 'D'), old: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ type: fc.constant('identify'), who: fc.nat(PEOPLE - 1), plan: fc.constantFrom('pro', 'free', null), tier: fc.constantFrom('gold', 'silver', undefined) }), weight: 1 },
);
const batchesArb = fc.array(fc.array(eventArb, { minLength: 1, maxLength: 6 }), { minLength: 3, maxLength: 6 });

async function ready(names: string[], version: number): Promise<void> {
  const end = Date.now() + 20_000;
  for (;;) {
    const r = await env.graphql(READY);
    const defs = r.body.data.journeyDefinitions.filter((j: any) => names.includes(j.name));
    if (defs.length === names.length && defs.every((j: any) => j.ready && j.version === version)) return;
    if (Date.now() > end) throw new Error(`journeys not evaluated in time: ${JSON.stringify(defs)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stagesOf(users: string[], journeys: string[]): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const u of users) {
    const fields = journeys.map((j, i) => `j${i}: journey(name: ${JSON.stringify(j)}) { stage }`).join(' ');
    const r = await env.graphql(`query($v: String!) { profileByIdentity(type: "user_id", value: $v) { ${fields} } }`, { v: u }, ANALYTICS);
    expect(r.body.errors).toBeUndefined();
    journeys.forEach((j, i) => (out[`${u} in ${j}`] = r.body.data.profileByIdentity?.[`j${i}`]?.stage ?? null));
  }
  return out;
}

beforeAll(async () => {
  // Time-based rules are re-checked hourly only: here a stage changes with time only when an event comes.
  const plugin = journeysPlugin({ k: 1, stageRecheckMs: 3_600_000 });
  env = await createTestEnvironment({ plugins: [plugin], jobs: { pollIntervalMs: 100 } });
  ctx = env.server.core.pluginContext(plugin);
});
afterAll(async () => env?.close());

let run = 0;
it('keeps every person in the stage a full evaluation gives, batch after batch', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(stagesArb, { minLength: 1, maxLength: 3 }), batchesArb, async (defs, batches) => {
      run++;
      const journeys = defs.map((stages, i) => ({ name: `R${run}-${i}`, stages: stages.map((when, s) => ({ name: `S${s}`, when })) }));
      for (const input of journeys) {
        const r = await env.graphql(DEFINE, { input });
        expect(r.body.errors).toBeUndefined();
      }
      const names = journeys.map((j) => j.name);
      await ready(names, 1);
      const now = Date.now();
      for (const batch of batches) {
        const r = await env.post('/v1/batch', {
          batch: batch.map((e) => (e.type === 'track'
            ? { type: 'track', userId: `r${run}-u${e.who}`, event: e.name, timestamp: new Date(now - (e.old ? 10 : 1) * DAY).toISOString() }
            : { type: 'identify', userId: `r${run}-u${e.who}`, traits: { plan: e.plan, ...(e.tier ? { tier: e.tier } : {}) } })),
        });
        expect(r.status).toBe(200);
        await env.settle();
      }
      const users = [...new Set(batches.flat().map((e) => `r${run}-u${e.who}`))];
      const delivered = await stagesOf(users, names);
      for (const input of journeys) await env.graphql(DEFINE, { input });
      await ready(names, 2);
      expect(delivered).toEqual(await stagesOf(users, names));
      for (const n of names) await env.graphql(`mutation($n: String!) { deleteJourney(name: $n) }`, { n });
    }),
    { numRuns: 30, seed: 16_2026 },
  );
}, 240_000);

/** Defines a journey, waits until it is evaluated for everyone, and returns a function giving a person's stage in it. */
async function define(name: string, stages: Record<string, unknown>[][]): Promise<(user: string) => Promise<string | null>> {
  const r = await env.graphql(DEFINE, { input: { name, stages: stages.map((when, i) => ({ name: `S${i}`, when })) } });
  expect(r.body.errors).toBeUndefined();
  await ready([name], 1);
  return async (user) => (await stagesOf([user], [name]))[`${user} in ${name}`] ?? null;
}
async function send(...batch: Record<string, unknown>[]): Promise<void> {
  const r = await env.post('/v1/batch', { batch });
  expect(r.status).toBe(200);
  await env.settle();
}

/** A counter of the plugin's from a scrape of /metrics (admin key); 0 before it first counts. */
async function counter(name: string): Promise<number> {
  const res = await fetch(`${env.url}/metrics`, { headers: { authorization: `Bearer ${env.keys.admin}` } });
  expect(res.status).toBe(200);
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`rapport_plugin_journeys_${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

it('a person with a stored stage is evaluated from it: the shortcut runs, and /metrics counts it', async () => {
  const stageOf = await define('Counted', [[{ event: 'A' }], [{ event: 'B' }]]);
  await send({ type: 'track', userId: 'counted-1', event: 'A' });
  expect(await stageOf('counted-1')).toBe('S0');
  const before = await counter('stage_evaluations_incremental_total');
  await send({ type: 'track', userId: 'counted-1', event: 'B' });
  expect(await stageOf('counted-1')).toBe('S1');
  expect(await counter('stage_evaluations_incremental_total')).toBe(before + 1);
});

it('an event named by an absent condition of the stored stage evaluates the person in full', async () => {
  const stageOf = await define('Absent', [[{ event: 'B' }], [{ event: 'B' }, { event: 'A', absent: true }], [{ event: 'C' }]]);
  await send({ type: 'track', userId: 'absent-1', event: 'B' });
  expect(await stageOf('absent-1')).toBe('S1');
  await send({ type: 'track', userId: 'absent-1', event: 'A' });
  expect(await stageOf('absent-1')).toBe('S0');
});

it('a trait the stored stage reads, set again, evaluates the person in full', async () => {
  const stageOf = await define('Trait', [[{ event: 'B' }], [{ event: 'B' }, { trait: 'plan', equals: 'pro' }], [{ event: 'C' }]]);
  await send({ type: 'identify', userId: 'trait-1', traits: { plan: 'pro' } }, { type: 'track', userId: 'trait-1', event: 'B' });
  expect(await stageOf('trait-1')).toBe('S1');
  await send({ type: 'identify', userId: 'trait-1', traits: { plan: 'free' } });
  expect(await stageOf('trait-1')).toBe('S0');
});

it('a stage with a window is evaluated at every event: the window may have closed since the last evaluation', async () => {
  // Closing removes the stored stage: C can only change S2 (which it does not reach), so S1 is kept if the window is ignored.
  const closing = await define('Closing', [[{ event: 'B' }], [{ event: 'B' }, { event: 'A', withinSeconds: 3 }], [{ event: 'C', atLeast: 2 }]]);
  // Quiet reaches a later stage: nothing in the last 3 seconds; C cannot make it hold, so it is not tried if the window is ignored.
  const quiet = await define('Quiet', [[{ event: 'B' }], [{ event: 'B' }, { event: 'A', absent: true, withinSeconds: 3 }], [{ event: 'C', atLeast: 2 }]]);
  await send({ type: 'track', userId: 'window-1', event: 'B' }, { type: 'track', userId: 'window-1', event: 'A' });
  expect([await closing('window-1'), await quiet('window-1')]).toEqual(['S1', 'S0']);
  await new Promise((r) => setTimeout(r, 3_500));
  await send({ type: 'track', userId: 'window-1', event: 'C' });
  expect([await closing('window-1'), await quiet('window-1')]).toEqual(['S0', 'S1']);
});

/**
 * Sends `batch` and stops its delivery after it read the journey definitions and before it writes stages: its identify
 * waits on a `SHARE` lock of `journeys_identified` (a lock that assigns no transaction id, so the batch's changes are
 * delivered, up to there). `meanwhile` runs then; the batch goes on when it returns.
 */
async function whileBatchIsStopped(batch: Record<string, unknown>[], meanwhile: () => Promise<void>): Promise<void> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const holder = ctx.db.transaction(async (tx) => {
    await tx.query('LOCK TABLE journeys_identified IN SHARE MODE');
    locked();
    await released;
  });
  await isLocked;
  try {
    const r = await env.post('/v1/batch', { batch });
    expect(r.status).toBe(200);
    for (let waiting = 0; waiting === 0;) {
      await new Promise((res) => setTimeout(res, 50));
      [{ waiting }] = await ctx.db.query<{ waiting: number }>(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO journeys_identified%'`,
      );
    }
    await meanwhile();
  } finally {
    release();
    await holder;
  }
  await env.settle();
}

it('a journey redefined while a batch is delivered: the batch writes what the new version says, not the old', async () => {
  const stageOf = await define('Redefined', [[{ event: 'A' }], [{ event: 'B' }]]);
  await send({ type: 'identify', userId: 'redefined-1', traits: { plan: 'free' } }, { type: 'track', userId: 'redefined-1', event: 'A' });
  expect(await stageOf('redefined-1')).toBe('S0');
  await whileBatchIsStopped([{ type: 'identify', userId: 'redefined-1', traits: { plan: 'pro' } }, { type: 'track', userId: 'redefined-1', event: 'B' }], async () => {
    // Redefined meanwhile (B no longer counts) and evaluated for everyone: the person is in S0.
    const d = await env.graphql(DEFINE, { input: { name: 'Redefined', stages: [{ name: 'S0', when: [{ event: 'A' }] }, { name: 'S1', when: [{ event: 'C' }] }] } });
    expect(d.body.errors).toBeUndefined();
    await ready(['Redefined'], 2);
  });
  expect(await stageOf('redefined-1')).toBe('S0');
});

it('a journey defined while a batch is delivered sees what the batch wrote: its people are evaluated in it', async () => {
  // Plan is kept already (for Keeper), so Newcomer copies nothing: its backfill reads the kept values, and this
  // person's new one is not committed yet when it runs.
  await define('Keeper', [[{ event: 'A' }], [{ trait: 'plan', equals: 'gold' }]]);
  await send({ type: 'identify', userId: 'defined-1', traits: { plan: 'free' } }, { type: 'track', userId: 'defined-1', event: 'A' });
  let stageOf!: (user: string) => Promise<string | null>;
  await whileBatchIsStopped([{ type: 'identify', userId: 'defined-1', traits: { plan: 'pro' } }], async () => {
    stageOf = await define('Newcomer', [[{ event: 'A' }], [{ event: 'A' }, { trait: 'plan', equals: 'pro' }]]);
    expect(await stageOf('defined-1')).toBe('S0');
  });
  expect(await stageOf('defined-1')).toBe('S1');
});
