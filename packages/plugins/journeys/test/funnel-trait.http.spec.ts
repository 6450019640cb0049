import { createLoadersKey, definePlugin, type SqlRunner } from '@rapport/core';
import { JSONScalar, type RequestContext } from '@rapport/schema';
import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFunnel, type FunnelMode } from '../src';
import { ANALYTICS, shopFixture, type ShopFixture } from './funnel-profiles.fixture';
import { referenceFunnel, type RefEvent } from './reference';

// The funnel broken down by a trait, on a real server, against the reference; and the host API under it,
// RequestContext.traitSql, through a probe plugin that lists what the expression gives per person (a test only: a
// real plugin publishes aggregates).
const probeLoaders = createLoadersKey<{ db: SqlRunner }>('trait-probe');

@Resolver()
class TraitProbeResolver {
  @Query(() => JSONScalar, { description: 'Test only: RequestContext.traitSql per profile id.' })
  async traitProbe(@Arg('ids', () => [String]) ids: string[], @Arg('key', () => String) key: string, @Ctx() ctx: RequestContext): Promise<unknown> {
    return probeLoaders.of(ctx).db.query(
      `SELECT x.id::text AS id, ${ctx.traitSql('x.id', key, 'key')} AS value FROM unnest($1::uuid[]) AS x(id) ORDER BY x.id`,
      [ids],
    );
  }
}
const traitProbe = definePlugin(() => ({ name: 'trait-probe', resolvers: [TraitProbeResolver], loaders: (ctx) => probeLoaders.provide({ db: ctx.db }) }));

let f: ShopFixture;
beforeAll(async () => {
  f = await shopFixture([traitProbe()]);
}, 120_000);
afterAll(async () => f?.env.close());

const STEPS = [{ event: 'Viewed' }, { event: 'Carted' }, { event: 'Paid' }];
const FUNNEL = `query($steps: [FunnelStepInput!]!, $w: Int, $mode: FunnelMode, $b: FunnelBreakdownInput, $bins: Int) {
  funnel(steps: $steps, windowSeconds: $w, mode: $mode, breakdown: $b, bins: $bins) {
    k omittedBreakdownValues
    series { breakdownValue steps { step event entered converted conversionFromFirst conversionFromPrevious
      medianSecondsToConvert p90SecondsToConvert suppressed histogram { fromSeconds toSeconds count suppressed } } }
  } }`;
const run = (vars: Record<string, unknown>, key?: string) => f.env.graphql(FUNNEL, { steps: STEPS, w: 600, bins: 4, ...vars }, { key, headers: ANALYTICS });

/** The reference answer of a breakdown by `trait`: each person's value put on their events as a property. */
function expectedByTrait(trait: string, mode: FunnelMode, windowSeconds: number) {
  const valueOf = new Map(f.people.map((p) => [f.profileOf.get(p.userId)!, p.traits[trait]]));
  const events = f.events.map((e): RefEvent => {
    const v = valueOf.get(e.profileId);
    return { ...e, props: v === undefined ? {} : { __trait: v } };
  });
  const spec = checkFunnel({ steps: STEPS, windowSeconds, mode, bins: 4, breakdown: { property: '__trait', attribution: 'first_touch' } });
  return referenceFunnel(events, f.allowed, spec, 5);
}

describe('breakdown by a trait', () => {
  it.each([
    ['plan (no policy), ordered', 'plan', 'ORDERED', 'ordered', 600],
    ['plan, strict', 'plan', 'STRICT', 'strict', 1200],
    ['plan, unordered', 'plan', 'UNORDERED', 'unordered', 600],
    ['tier (a policy serving analytics: per-person consent)', 'tier', 'ORDERED', 'ordered', 600],
  ] as const)('%s: counts per current value equal the reference, cells under k withheld', async (_name, trait, mode, refMode, w) => {
    const r = await run({ b: { trait }, mode, w }, f.keys.app);
    expect(r.body.errors).toBeUndefined();
    const want = expectedByTrait(trait, refMode, w);
    expect(r.body.data.funnel).toEqual(JSON.parse(JSON.stringify(want)));
    expect(want.series.length).toBeGreaterThan(1);
  });

  it('withholds a value counting fewer than k people, and puts people without the trait in the null series', async () => {
    const r = await run({ b: { trait: 'plan' } }, f.keys.app);
    const series = r.body.data.funnel.series as Array<{ breakdownValue: string | null; steps: Array<{ entered: number | null; suppressed: boolean }> }>;
    expect(series.map((s) => s.breakdownValue)).toEqual(expect.arrayContaining(['pro', 'free', null]));
    for (const s of series) for (const step of s.steps) expect(step.entered === null || step.entered === 0 || step.entered >= 5).toBe(true);
    expect(series.some((s) => s.steps.some((x) => x.entered === null && x.suppressed))).toBe(true);
    // Attribution does not apply to a trait: the answer is the same either way.
    const last = await run({ b: { trait: 'plan', attribution: 'LAST_TOUCH' } }, f.keys.app);
    expect(last.body.data).toEqual(r.body.data);
  });
});

describe('a trait the caller may not read is refused, naming breakdown.trait and the rule', () => {
  const cases: Array<[string, string, 'app' | 'admin' | 'analyst', string]> = [
    ['a policy allowing other roles', 'secretNote', 'app', 'role'],
    ['a policy serving other purposes', 'favoriteColor', 'app', 'purpose'],
    ['personal data without a policy (denied by default)', 'phone', 'app', 'default'],
    ['personal data an admin may read: not in a set query', 'phone', 'admin', 'pii'],
    ['a policy marking it personal data', 'email', 'app', 'pii'],
    ['a key without profiles:read', 'plan', 'analyst', 'permission'],
  ];
  it.each(cases)('%s', async (_name, trait, who, rule) => {
    const key = who === 'admin' ? undefined : f.keys[who];
    const r = await run({ b: { trait } }, key);
    expect(r.body.data).toBeNull();
    expect(r.body.errors[0].extensions).toEqual({ code: 'FORBIDDEN', field: 'breakdown.trait', rule });
    expect(r.body.errors[0].message).toMatch(/^breakdown\.trait: /);
  });

  it.each([
    ['property and trait', { property: 'src', trait: 'plan' }, 'breakdown', 'oneOf'],
    ['neither', {}, 'breakdown', 'oneOf'],
    ['a blank trait', { trait: ' ' }, 'breakdown.trait', 'length'],
  ])('%s: a validation error', async (_name, b, field, rule) => {
    const r = await run({ b }, f.keys.app);
    expect(r.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field, rule });
  });
});

describe('RequestContext.traitSql, the host API', () => {
  const PROBE = `query($ids: [String!]!, $key: String!) { traitProbe(ids: $ids, key: $key) }`;
  const TRAIT = `query($id: ID!, $key: String!) { profile(id: $id) { trait(key: $key) } }`;

  it('gives NULL for a person whose consent does not allow the purpose, as profile(id) denies the trait', async () => {
    // favoriteColor serves personalization, a purpose resting on consent: only people who granted it.
    const ids = [...f.profileOf.values()].sort();
    const r = await f.env.graphql(PROBE, { ids, key: 'favoriteColor' }, { key: f.keys.appPersonal });
    expect(r.body.errors).toBeUndefined();
    const rows = r.body.data.traitProbe as Array<{ id: string; value: string | null }>;
    expect(rows.map((x) => x.id)).toEqual(ids);
    for (const row of rows) {
      const p = f.people.find((x) => x.userId === f.userOf.get(row.id))!;
      expect(row.value).toBe(p.grantsPersonalization ? p.traits.favoriteColor : null);
      const one = await f.env.graphql(TRAIT, { id: row.id, key: 'favoriteColor' }, { key: f.keys.appPersonal });
      expect(one.body.data.profile.trait).toBe(row.value);
      if (!p.grantsPersonalization) expect(one.body.errors[0].extensions.code).toBe('CONSENT_REQUIRED');
    }
    expect(rows.filter((x) => x.value === null).length).toBeGreaterThan(0);
    expect(rows.filter((x) => x.value !== null).length).toBeGreaterThan(0);
  });

  it('acting for analytics: NULL for the people who refused it, the value for the others', async () => {
    const ids = [...f.profileOf.values()];
    const r = await f.env.graphql(PROBE, { ids, key: 'tier' }, { key: f.keys.app });
    for (const row of r.body.data.traitProbe as Array<{ id: string; value: string | null }>) {
      const p = f.people.find((x) => x.userId === f.userOf.get(row.id))!;
      expect(row.value).toBe(p.refusesAnalytics ? null : p.traits.tier);
    }
  });

  it('an unknown id or an absent trait is NULL; a bad key names the argument', async () => {
    const r = await f.env.graphql(PROBE, { ids: ['00000000-0000-4000-8000-000000000000', [...f.profileOf.values()][0]], key: 'neverSet' }, { key: f.keys.app });
    expect((r.body.data.traitProbe as Array<{ value: unknown }>).map((x) => x.value)).toEqual([null, null]);
    const dotted = await f.env.graphql(PROBE, { ids: [], key: 'address.city' }, { key: f.keys.app });
    expect(dotted.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field: 'key', rule: 'topLevel' });
    const quoted = await f.env.graphql(PROBE, { ids: [[...f.profileOf.values()][0]], key: "it's\\" }, { key: f.keys.app });
    expect(quoted.body.errors).toBeUndefined();
    expect(quoted.body.data.traitProbe[0].value).toBeNull();
  });
});
