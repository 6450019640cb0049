import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFunnel, type FunnelArgs } from '../src';
import { ANALYTICS, shopFixture, T, type ShopFixture } from './funnel-profiles.fixture';
import { referenceReached } from './reference';

// funnelProfiles on a real server: the seeded shop in through /v1/batch, delivery settled, the people out through
// GraphQL over HTTP, compared with the reference funnel's per-person outcome.
let f: ShopFixture;
beforeAll(async () => {
  f = await shopFixture();
}, 120_000);
afterAll(async () => f?.env.close());

const STEPS = [{ event: 'Viewed' }, { event: 'Carted' }, { event: 'Paid' }];
const PEOPLE = `query($steps: [FunnelStepInput!]!, $step: Int!, $dropped: Boolean, $w: Int, $mode: FunnelMode, $x: [FunnelExclusionInput!],
  $from: DateTimeISO, $to: DateTimeISO, $first: Int, $after: String) {
  funnelProfiles(steps: $steps, step: $step, dropped: $dropped, windowSeconds: $w, mode: $mode, exclusions: $x, from: $from, to: $to,
                 first: $first, after: $after) {
    edges { cursor node { id } } nodes { id } pageInfo { hasNextPage endCursor } } }`;

type Vars = { steps?: unknown[]; step: number; dropped?: boolean; w?: number; mode?: string; x?: unknown[]; from?: string; to?: string; first?: number; after?: string };
const run = (vars: Vars, key?: string, headers: Record<string, string> = ANALYTICS) =>
  f.env.graphql(PEOPLE, { steps: STEPS, w: 600, ...vars }, { key, headers });

/** Every page of a selection, `first` at a time: the ids in order, checking each page's shape. */
async function everyone(vars: Vars, first = 100): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (let page = 0; page < 50; page++) {
    const r = await run({ ...vars, first, after });
    expect(r.body.errors).toBeUndefined();
    const c = r.body.data.funnelProfiles;
    expect(c.nodes.length).toBeLessThanOrEqual(first);
    expect(c.edges.map((e: any) => e.node.id)).toEqual(c.nodes.map((n: any) => n.id));
    ids.push(...c.nodes.map((n: any) => n.id));
    if (!c.pageInfo.hasNextPage) return ids;
    expect(c.pageInfo.endCursor).toBe(c.edges[c.edges.length - 1].cursor);
    after = c.pageInfo.endCursor;
  }
  throw new Error('more than 50 pages');
}

/** The reference's people for a selection, in profile id order. */
function expected(args: Omit<FunnelArgs, 'bins'>, step: number, dropped: boolean): string[] {
  const reached = referenceReached(f.events, f.allowed, checkFunnel({ ...args, bins: 1 }));
  return [...reached].filter(([, n]) => (dropped ? n === step - 1 : n >= step)).map(([id]) => id).sort();
}

const iso = (ms: number) => new Date(ms).toISOString();
const CASES: Array<[string, Vars, Omit<FunnelArgs, 'bins' | 'steps'>]> = [
  ['ordered, 10-minute window', {}, { windowSeconds: 600, mode: 'ordered' }],
  ['ordered, 2-minute window', { w: 120 }, { windowSeconds: 120, mode: 'ordered' }],
  ['strict', { mode: 'STRICT', w: 1200 }, { windowSeconds: 1200, mode: 'strict' }],
  ['unordered', { mode: 'UNORDERED' }, { windowSeconds: 600, mode: 'unordered' }],
  ['an exclusion', { x: [{ event: 'Browsed', fromStep: 1, toStep: 3 }] }, { windowSeconds: 600, mode: 'ordered', exclusions: [{ event: 'Browsed', fromStep: 1, toStep: 3 }] }],
  ['a date range', { from: iso(T + 5 * 60_000), to: iso(T + 15 * 60_000) }, { windowSeconds: 600, mode: 'ordered', from: new Date(T + 5 * 60_000), to: new Date(T + 15 * 60_000) }],
];

describe('lists exactly the people of the reference funnel', () => {
  it.each(CASES)('%s: every step, reached and dropped', async (_name, vars, args) => {
    let listed = 0;
    for (let step = 1; step <= 3; step++) {
      for (const dropped of step === 1 ? [false] : [false, true]) {
        const want = expected({ ...args, steps: STEPS }, step, dropped);
        const got = await everyone({ ...vars, step, dropped });
        expect(got, `step ${step}, dropped ${dropped}`).toEqual(want);
        listed += got.length;
      }
    }
    expect(listed).toBeGreaterThan(0);
  });
});

it('dropped at step k is reached k-1 and not k: the two lists split the people who reached k-1', async () => {
  for (const step of [2, 3]) {
    const before = await everyone({ step: step - 1 });
    const reached = await everyone({ step });
    const dropped = await everyone({ step, dropped: true });
    expect(reached.filter((id) => dropped.includes(id))).toEqual([]);
    expect([...reached, ...dropped].sort()).toEqual(before);
    expect(dropped.length).toBeGreaterThan(0);
    expect(reached.length).toBeGreaterThan(0);
  }
});

it('pages with cursors: three at a time gives the same people, in order, once each', async () => {
  const whole = await everyone({ step: 1 });
  expect(whole.length).toBeGreaterThan(10);
  const paged = await everyone({ step: 1 }, 3);
  expect(paged).toEqual(whole);
  expect(new Set(paged).size).toBe(paged.length);
});

it('never lists a person who refused analytics, though they walked the funnel', async () => {
  const refusers = f.people.filter((p) => p.refusesAnalytics).map((p) => f.profileOf.get(p.userId)!);
  const everybody = new Set(f.profileOf.values());
  // Without the consent filter, the refusers would be listed: the case is not vacuous.
  const unfiltered = referenceReached(f.events, everybody, checkFunnel({ steps: STEPS, windowSeconds: 600, mode: 'ordered', bins: 1 }));
  expect(refusers.filter((id) => unfiltered.has(id)).length).toBeGreaterThan(0);
  for (const mode of ['ORDERED', 'STRICT', 'UNORDERED']) {
    const listed = await everyone({ step: 1, mode, w: 1200 });
    expect(listed.filter((id) => refusers.includes(id))).toEqual([]);
  }
});

describe('the profiles are guarded exactly as profile(id)', () => {
  const FIELDS = `id secret: trait(key: "secretNote") plan: trait(key: "plan") email: trait(key: "email") phone: trait(key: "phone") traits`;
  const LIST = `query($steps: [FunnelStepInput!]!) { funnelProfiles(steps: $steps, step: 3, windowSeconds: 1200, first: 100) { nodes { ${FIELDS} } } }`;
  const ONE = `query($id: ID!) { profile(id: $id) { ${FIELDS} } }`;
  const denials = (errors: any[] | undefined) =>
    (errors ?? []).map((e) => `${e.extensions.code} ${e.extensions.field}`).sort();

  it('an app key acting for analytics: the same values, the same redactions and the same denials', async () => {
    const list = await f.env.graphql(LIST, { steps: STEPS }, { key: f.keys.app });
    const nodes = list.body.data.funnelProfiles.nodes;
    expect(nodes.length).toBeGreaterThan(2);
    for (const node of nodes) {
      const one = await f.env.graphql(ONE, { id: node.id }, { key: f.keys.app });
      expect(node).toEqual(one.body.data.profile);
    }
    // The policies of the fixture: secretNote is for admins, phone is personal data without a policy (denied by
    // default), favoriteColor serves personalization only; email and plan are readable.
    const sample = nodes[0];
    expect(sample.secret).toBeNull();
    expect(sample.phone).toBeNull();
    expect(sample.email).toMatch(/@example\.com$/);
    expect(Object.keys(sample.traits).sort()).toEqual(expect.arrayContaining(['email', 'tier']));
    expect(sample.traits).not.toHaveProperty('secretNote');
    expect(sample.traits).not.toHaveProperty('phone');
    expect(sample.traits).not.toHaveProperty('favoriteColor');
    const one = await f.env.graphql(ONE, { id: sample.id }, { key: f.keys.app });
    expect(denials(list.body.errors)).toEqual(denials(one.body.errors));
    expect(denials(list.body.errors)).toEqual(expect.arrayContaining(['FORBIDDEN_FIELD Profile.traits.secretNote', 'FORBIDDEN_FIELD Profile.traits.phone']));
  });

  it('an admin acting for analytics sees what profile(id) shows an admin', async () => {
    const list = await f.env.graphql(LIST, { steps: STEPS }, { headers: ANALYTICS });
    for (const node of list.body.data.funnelProfiles.nodes.slice(0, 5)) {
      const one = await f.env.graphql(ONE, { id: node.id }, { headers: ANALYTICS });
      expect(node).toEqual(one.body.data.profile);
      expect(node.secret).toMatch(/^note /);
    }
  });

  it('reads of personal data through funnelProfiles are audited, per person', async () => {
    const list = await f.env.graphql(LIST, { steps: STEPS }, { key: f.keys.app, headers: { 'x-request-id': 'funnel-people-audit' } });
    const someone = list.body.data.funnelProfiles.nodes[0].id;
    const log = await f.env.graphql(`query($id: ID!) { auditLog(profileId: $id, first: 20) { action fields purpose requestId } }`, { id: someone });
    expect(log.body.data.auditLog).toContainEqual({ action: 'read', fields: ['Profile.traits.email'], purpose: 'analytics', requestId: 'funnel-people-audit' });
  });
});

describe('permissions and bad input', () => {
  it('needs profiles:read as well as journeys:read, and a request acting for analytics', async () => {
    const analyst = await run({ step: 1 }, f.keys.analyst);
    expect(analyst.body.errors[0].extensions).toEqual({ code: 'FORBIDDEN', rule: 'profiles:read' });
    const noPurpose = await run({ step: 1 }, undefined, {});
    expect(noPurpose.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field: 'purpose', rule: 'actsFor' });
  });

  const cases: Array<[string, Vars, string, string]> = [
    ['step 0', { step: 0 }, 'step', 'range'],
    ['a step past the last', { step: 4 }, 'step', 'range'],
    ['dropped at step 1', { step: 1, dropped: true }, 'step', 'dropped'],
    ['a page of 101', { step: 1, first: 101 }, 'first', 'range'],
    ['a cursor it did not issue', { step: 1, after: 'bm90LWEtY3Vyc29y' }, 'after', 'cursor'],
    ['one step', { step: 1, steps: [STEPS[0]] }, 'steps', 'count'],
  ];
  it.each(cases)('%s', async (_name, vars, field, rule) => {
    const r = await run(vars);
    expect(r.body.data).toBeNull();
    expect(r.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field, rule });
    expect(r.body.errors[0].message).toMatch(new RegExp(`^${field}: `));
  });
});
