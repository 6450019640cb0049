import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { CONSENT_STATES as STATES, definePurposes, recordConsent, type ConsentStateName as State } from './support/consent-states';

/**
 * The audit log's `read` rows hold exactly the personal data the guard let each request read: over every
 * consent state, two legal bases, the datum held or not, five selections of a profile, with and without
 * policies on the collections, and for concurrent requests sharing the audit's write.
 */
let env: TestEnvironment;
const BASES = { p_consent: 'consent', p_contract: 'contract' } as const;
/** docs/consent.md, "Legal bases": the consent states that allow a read. */
const ALLOWS: Record<keyof typeof BASES, State[]> = { p_consent: ['granted'], p_contract: ['none', 'granted'] };
const pids = new Map<string, string>(); // `${state}/${withEmail}` -> profile id
let app: string;

const AUDIT = `query($id: ID!) { auditLog(profileId: $id, first: 100) { action fields purpose requestId actor } }`;
type AuditRow = { action: string; fields: string[]; purpose: string | null; requestId: string; actor: string };
const auditOf = async (id: string): Promise<AuditRow[]> => {
  const r = await env.graphql(AUDIT, { id });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.auditLog;
};
const setPolicy = async (input: Record<string, unknown>) => {
  const r = await env.graphql(`mutation($i: FieldPolicyInput!) { setFieldPolicy(input: $i) { id } }`, { i: input });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.setFieldPolicy.id as string;
};
const deletePolicy = async (id: string) => {
  const r = await env.graphql(`mutation($id: ID!) { deleteFieldPolicy(id: $id) { id } }`, { id });
  expect(r.body.errors).toBeUndefined();
};
/** A read as the app, and the audit rows it added for the profile. */
const readAudited = async (query: string, id: string, purpose: string) => {
  const before = (await auditOf(id)).length;
  const r = await env.graphql(query, { id }, { key: app, headers: { 'x-rapport-purpose': purpose } });
  const rows = await auditOf(id);
  return { body: r.body, added: rows.slice(0, rows.length - before) };
};

beforeAll(async () => {
  env = await createTestEnvironment({ consent: { piiTraits: ['email'], policies: [] } });
  await definePurposes(env, BASES);
  for (const s of STATES) {
    for (const withEmail of [true, false]) {
      const userId = `ra-${s}-${withEmail}`;
      const traits = { plan: `plan-${s}`, ...(withEmail ? { email: `${s}@example.com` } : {}), address: { city: 'Leeds', street: '1 Road' } };
      const r = await env.post('/v1/identify', { userId, traits }, { key: env.keys.admin });
      pids.set(`${s}/${withEmail}`, r.body.profileId);
      await recordConsent(env, userId, Object.keys(BASES), s);
    }
  }
  await setPolicy({ type: 'Profile', field: 'traits.email', purposes: Object.keys(BASES), roles: ['app'], pii: true });
  await setPolicy({ type: 'Profile', field: 'traits.plan', purposes: Object.keys(BASES), roles: ['app'] });
  await setPolicy({ type: 'Profile', field: 'traits.address', purposes: Object.keys(BASES), roles: ['app'] });
  await setPolicy({ type: 'element', field: 'identity:user_id', purposes: Object.keys(BASES), roles: ['app'] });
  const k = await env.graphql(`mutation($p: [String!]) { createApiKey(input: { name: "ra-app", roles: ["app"], purposes: $p }) { key } }`, { p: Object.keys(BASES) });
  app = k.body.data.createApiKey.key;
});
afterAll(async () => env?.close());

const SELECTIONS = {
  traits: `query($id: ID!) { profile(id: $id) { traits } }`,
  bundle: `query($id: ID!) { profile(id: $id) { id traits identities { type value } events(first: 5) { nodes { type name } } } }`,
  identities: `query($id: ID!) { profile(id: $id) { id identities { type value } } }`,
  oneTrait: `query($id: ID!) { profile(id: $id) { t: trait(key: "email") } }`,
  nothingPersonal: `query($id: ID!) { profile(id: $id) { id events(first: 2) { nodes { type } } } }`,
};
/** What each selection reads of the person's email: the trait, the identity (an email trait is also an identity). */
const READS: Record<keyof typeof SELECTIONS, string[]> = {
  traits: ['Profile.traits.email'],
  bundle: ['Profile.traits.email', 'identity:email'],
  identities: ['identity:email'],
  oneTrait: ['Profile.traits.email'],
  nothingPersonal: [],
};

/**
 * Runs `work` with policies on the collections as well (as the read benchmark has them): the guard
 * then decides `traits`, `identities` and `events` as wholes before their data.
 */
const withCollectionPolicies = async (on: boolean, work: () => Promise<void>) => {
  const ids = on ? await Promise.all(['traits', 'identities', 'events'].map((c) => setPolicy({ type: 'element', field: c, purposes: Object.keys(BASES), roles: ['app'] }))) : [];
  try {
    await work();
  } finally {
    for (const id of ids) await deletePolicy(id);
  }
};

describe.each([false, true])('the audit of personal data reads (policies on the collections too: %s)', (collections) => {
  it('holds exactly what the guard decided, for every consent state, legal basis, presence of the trait and selection', () => withCollectionPolicies(collections, async () => {
    for (const purpose of Object.keys(BASES) as Array<keyof typeof BASES>) {
      for (const s of STATES) {
        for (const withEmail of [true, false]) {
          const id = pids.get(`${s}/${withEmail}`)!;
          for (const [shape, query] of Object.entries(SELECTIONS) as Array<[keyof typeof SELECTIONS, string]>) {
            const where = `${purpose}, ${s}, email ${withEmail ? 'held' : 'absent'}, ${shape}`;
            const { body, added } = await readAudited(query, id, purpose);
            const p = body.data.profile;
            expect(p, where).not.toBeNull();
            // `trait(key:)` is audited as asked, whether the person holds the key or not.
            const read = ALLOWS[purpose].includes(s) && (withEmail || shape === 'oneTrait') ? READS[shape] : [];
            const shows = ALLOWS[purpose].includes(s) && withEmail;
            // What the response shows and what the log says agree.
            const email = `${s}@example.com`;
            if (shape === 'oneTrait') expect(p.t ?? null, where).toBe(shows ? email : null);
            if ('traits' in p) expect(p.traits?.email ?? null, where).toBe(shows ? email : null);
            if ('identities' in p) expect((p.identities ?? []).some((i: { value: string }) => i.value === email), where).toBe(shows);
            expect(added.map((a) => a.fields), where).toEqual(read.length ? [read] : []);
            if (read.length) expect(added[0], where).toMatchObject({ action: 'read', purpose, actor: 'ra-app' });
          }
        }
      }
    }
  }));

  it('concurrent reads each get their own row, under their own request and purpose', async () => {
    const ids = [pids.get('granted/true')!, pids.get('none/true')!, pids.get('granted/false')!];
    const before = await Promise.all(ids.map(async (id) => (await auditOf(id)).length));
    const reads = await Promise.all(
      Array.from({ length: 24 }, (_, n) => env.graphql(SELECTIONS.bundle, { id: ids[n % 3] }, { key: app, headers: { 'x-rapport-purpose': n % 2 ? 'p_consent' : 'p_contract' } })),
    );
    for (const r of reads) expect(r.body.data.profile.id).toBeTruthy();
    const added = await Promise.all(ids.map(async (id, i) => {
      const rows = await auditOf(id);
      return rows.slice(0, rows.length - before[i]!);
    }));
    // granted: every read; none: only the contract reads; no email: none.
    expect(added[0]!.map((a) => a.purpose).sort()).toEqual([...Array(4).fill('p_consent'), ...Array(4).fill('p_contract')]);
    expect(added[1]!.map((a) => a.purpose)).toEqual(Array(4).fill('p_contract'));
    expect(added[2]).toEqual([]);
    expect(new Set([...added[0]!, ...added[1]!].map((a) => a.requestId)).size).toBe(12);
  });
});
