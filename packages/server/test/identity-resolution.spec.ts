import path from 'node:path';
import { definePlugin, matching } from '@rapport/core/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

const DATA = path.resolve(__dirname, '../../../data/febrl/dataset1.csv');
let env: TestEnvironment;
let crmKey: string;
const hookCalls: string[] = [];
const recorder = definePlugin(() => ({
  name: 'merge-recorder',
  onProfileMerged: (m) => void hookCalls.push(`merged:${m.rule}:${m.mergedId}`),
  onProfileUnmerged: (u) => void hookCalls.push(`unmerged:${u.restoredId}:${u.actor}`),
}));
let webKey: string;

/** FEBRL dataset1 (1,000 records, 500 true pairs) sent as anonymous identifies, one profile per record. */
async function ingestFebrl() {
  const { records } = matching.loadFebrlCsv(DATA);
  for (let i = 0; i < records.length; i += 250) {
    const batch = records.slice(i, i + 250).map((r) => ({ type: 'identify', anonymousId: r.id, traits: r.traits }));
    const res = await env.post('/v1/batch', { batch }, { key: env.keys.admin });
    expect(res.status).toBe(200);
  }
  return records;
}
const byAnon = async (id: string) =>
  (await env.graphql(`query($v: String!) { profileByIdentity(type: "anonymous_id", value: $v) { id traits identities { value }
    mergeHistory { rule score actor mergedId survivorId undoneAt undoneBy reason } } }`, { v: id })).body.data.profileByIdentity;

beforeAll(async () => {
  env = await createTestEnvironment({
    identity: { survivorship: { traits: { plan: { sourcePriority: ['crm'] }, signupChannel: 'first_seen' } } },
    plugins: [recorder()],
  });
  const mk = async (name: string) => (await env.graphql(`mutation($n: String!) { createApiKey(input: { name: $n, roles: ["ingest"] }) { key } }`, { n: name })).body.data.createApiKey.key;
  crmKey = await mk('crm');
  webKey = await mk('web');
});
afterAll(async () => env?.close());

describe('probabilistic identity resolution', () => {
  it('merges true duplicates of FEBRL dataset1 and explains every merge', async () => {
    await ingestFebrl();
    const run = await env.graphql(`mutation { runIdentityResolution { profiles candidatePairs merged queued resumed } }`);
    expect(run.body.errors).toBeUndefined();
    const s = run.body.data.runIdentityResolution;
    expect(s.profiles).toBe(1000);
    expect(s.candidatePairs).toBeLessThan(1000 * 999 / 2 / 20); // blocking keeps pairs far below n^2
    expect(s.merged).toBeGreaterThanOrEqual(480);
    expect(s.merged).toBeLessThanOrEqual(510);
    const p = await byAnon('rec-0-org');
    expect(p.identities.map((i: { value: string }) => i.value).sort()).toEqual(['rec-0-dup-0', 'rec-0-org']);
    const m = p.mergeHistory[0];
    expect(m).toMatchObject({ rule: 'probabilistic', actor: 'test-admin', survivorId: p.id });
    expect(m.score).toBeGreaterThanOrEqual(0.999);
    expect(m.reason.explanation.length).toBeGreaterThan(5);
    expect(m.reason.explanation[0]).toEqual(expect.objectContaining({ comparison: expect.any(String), label: expect.any(String), weight: expect.any(Number) }));
    expect(hookCalls.filter((c) => c.startsWith('merged:probabilistic:'))).toHaveLength(s.merged); // plugins hear every merge
    const again = await env.graphql(`mutation { runIdentityResolution { merged } }`);
    expect(again.body.data.runIdentityResolution.merged).toBe(0); // nothing left to do
  });

  it('queues likely pairs for review with an explanation; two operators deciding at once: one wins, one gets CONFLICT', async () => {
    const send = (anon: string, traits: object) => env.post('/v1/identify', { anonymousId: anon, traits }, { key: env.keys.admin });
    // Same name, but another birthday, city and postcode: likely, not sure.
    await send('rv-1', { firstName: 'margaret', lastName: 'thornbury', birthday: '19610304', address: { city: 'canberra', postalCode: '2600', street: 'ainslie avenue', streetNumber: '12' } });
    await send('rv-2', { firstName: 'margaret', lastName: 'thornbury', birthday: '19750101', address: { city: 'perth', postalCode: '6000' } });
    await env.server.core.services.resolution.drain();
    const a = await byAnon('rv-1');
    const cands = (await env.graphql(`query($id: ID!) { matchCandidates(profileId: $id) { id status probability explanation { comparison label valueA valueB weight } profileA { id } profileB { id } } }`, { id: a.id })).body.data.matchCandidates;
    expect(cands.length).toBe(1);
    const c = cands[0];
    expect(c.status).toBe('pending');
    expect(c.probability).toBeGreaterThanOrEqual(0.8);
    expect(c.probability).toBeLessThan(0.999);
    const last = c.explanation.find((e: { comparison: string }) => e.comparison === 'lastName');
    expect(last).toMatchObject({ label: 'exact match', valueA: 'thornbury', valueB: 'thornbury' });
    expect(last.weight).toBeGreaterThan(0);
    const queue = (await env.graphql(`{ reviewQueue(first: 50) { nodes { id } } }`)).body.data.reviewQueue.nodes.map((n: { id: string }) => n.id);
    expect(queue).toContain(c.id);
    const decide = (d: string) => env.graphql(`mutation($id: ID!) { resolveCandidate(id: $id, decision: ${d}) { id status } }`, { id: c.id });
    const [r1, r2] = await Promise.all([decide('REJECT'), decide('REJECT')]);
    const errors = [r1, r2].filter((r) => r.body.errors);
    expect(errors).toHaveLength(1);
    expect(errors[0].body.errors[0].extensions.code).toBe('CONFLICT');
    expect(errors[0].body.errors[0].message).toMatch(/was already decided: rejected by test-admin/);
    // A rejected pair is not proposed again.
    await send('rv-2', { nickname: 'maggie' });
    await env.server.core.services.resolution.drain();
    const after = (await env.graphql(`query($id: ID!) { matchCandidates(profileId: $id) { status } }`, { id: a.id })).body.data.matchCandidates;
    expect(after).toEqual([{ status: 'rejected' }]);
    expect((await byAnon('rv-2')).id).not.toBe(a.id);
  });

  it('compared values in candidates, the review queue and merge reasons follow the policy on the datum', async () => {
    const send = (anon: string, traits: object) => env.post('/v1/identify', { anonymousId: anon, traits }, { key: env.keys.admin });
    await send('pv-1', { firstName: 'eleanor', lastName: 'quillfeather', birthday: '19610304', address: { city: 'hobart', postalCode: '7000' } });
    await send('pv-2', { firstName: 'eleanor', lastName: 'quillfeather', birthday: '19880101', address: { city: 'darwin', postalCode: '0800' } });
    await env.server.core.services.resolution.drain();
    const a = await byAnon('pv-1');
    const Q = `query($id: ID!) { matchCandidates(profileId: $id) { explanation { comparison valueA valueB } } reviewQueue(first: 200) { nodes { explanation { comparison valueA valueB } } } }`;
    const policy = await env.graphql(`mutation { setFieldPolicy(input: { type: "Profile", field: "traits.lastName", purposes: [], roles: ["admin"] }) { id } }`);
    expect(policy.body.errors).toBeUndefined();
    try {
      const asApp = await env.graphql(Q, { id: a.id }, { key: env.keys.app });
      const asAdmin = await env.graphql(Q, { id: a.id });
      const seen = (body: unknown) => JSON.stringify(body).includes('quillfeather');
      expect(seen(asAdmin.body.data)).toBe(true); // admins compare the names
      expect(seen(asApp.body)).toBe(false); // the app key may not read last names: not in candidates, the queue, or errors
      // firstName's comparison also reads lastName (swapped names), so it is hidden too; birthday is still shown.
      const byName = (name: string) => asApp.body.data.matchCandidates[0].explanation.find((e: { comparison: string }) => e.comparison === name);
      expect(byName('firstName')).toMatchObject({ valueA: null, valueB: null });
      expect([byName('birthday').valueA, byName('birthday').valueB].sort()).toEqual(['19610304', '19880101']);
      // A probabilistic merge's reason compares the same values.
      const merged = await byAnon('rec-0-org');
      const lastNames = (merged.mergeHistory[0].reason.explanation as Array<{ comparison: string; valueA?: unknown }>).filter((e) => e.comparison === 'lastName');
      expect(lastNames.length).toBeGreaterThan(0);
      const appHistory = await env.graphql(`query($v: String!) { profileByIdentity(type: "anonymous_id", value: $v) { mergeHistory { reason } } }`, { v: 'rec-0-org' }, { key: env.keys.app });
      const appLast = (appHistory.body.data.profileByIdentity.mergeHistory[0].reason.explanation as Array<{ comparison: string; valueA?: unknown; valueB?: unknown }>).filter((e) => e.comparison === 'lastName');
      for (const e of appLast) expect([e.valueA ?? null, e.valueB ?? null]).toEqual([null, null]);
    } finally {
      await env.graphql(`mutation($id: ID!) { deleteFieldPolicy(id: $id) { id } }`, { id: policy.body.data.setFieldPolicy.id });
    }
  });

  it('merges a new near-duplicate as it arrives (incremental, against its block)', async () => {
    const r = await env.post('/v1/identify', {
      anonymousId: 'late-dup', traits: { firstName: 'thomas', lastName: 'quirke', birthday: '19310805', nationalId: '8836573', address: { streetNumber: '6', street: 'bindu place', city: 'bowral', postalCode: '2010', state: 'nsw' } },
    }, { key: env.keys.admin });
    const r2 = await env.post('/v1/identify', {
      anonymousId: 'late-dup-2', traits: { firstName: 'thomas', lastName: 'quirke', birthday: '19310805', nationalId: '8836573', address: { streetNumber: '6', street: 'bindu pl', city: 'bowral', postalCode: '2010', state: 'nsw' } },
    }, { key: env.keys.admin });
    expect(r.status).toBe(200);
    expect(r2.status).toBe(200);
    await env.server.core.services.resolution.drain();
    expect((await byAnon('late-dup')).id).toBe((await byAnon('late-dup-2')).id);
  });

  it('never auto-merges two people whose first and last names both differ: the pair waits for review', async () => {
    const same = { birthday: '19880312', address: { city: 'braddon', postalCode: '2612', street: 'mort street', streetNumber: '14' } };
    await env.post('/v1/identify', { anonymousId: 'veto-a', traits: { firstName: 'ines', lastName: 'albrecht', ...same } }, { key: env.keys.admin });
    await env.post('/v1/identify', { anonymousId: 'veto-b', traits: { firstName: 'zelda', lastName: 'marchetti', ...same } }, { key: env.keys.admin });
    await env.server.core.services.resolution.drain();
    const a = await byAnon('veto-a');
    expect((await byAnon('veto-b')).id).not.toBe(a.id);
    const c = (await env.graphql(`query($id: ID!) { matchCandidates(profileId: $id) { status probability } }`, { id: a.id })).body.data.matchCandidates;
    expect(c).toEqual([expect.objectContaining({ status: 'pending' })]);
    expect(c[0].probability).toBeGreaterThanOrEqual(0.999); // sure by the numbers, held back by the veto
  });

  it('unmerges: identities, events and traits go back, who did it is recorded, and the pair is not proposed again', async () => {
    const p = await byAnon('rec-1-org');
    const mergedId = p.mergeHistory[0].mergedId;
    const before = (await env.graphql(`query($id: ID!) { profile(id: $id) { events { nodes { id } } } }`, { id: p.id })).body.data.profile.events.nodes.length;
    const u = await env.graphql(`mutation($id: ID!) { unmergeProfile(id: $id) { id traits identities { value } events { nodes { id } } } }`, { id: mergedId });
    expect(u.body.errors).toBeUndefined();
    const restored = u.body.data.unmergeProfile;
    expect(restored.id).toBe(mergedId);
    expect(restored.identities).toHaveLength(1);
    expect(restored.events.nodes).toHaveLength(1);
    const survivor = (await env.graphql(`query($id: ID!) { profile(id: $id) { id identities { value } events { nodes { id } } mergeHistory { undoneAt undoneBy } } }`, { id: p.id })).body.data.profile;
    expect(survivor.id).toBe(p.id);
    expect(survivor.identities).toHaveLength(1);
    expect(survivor.events.nodes).toHaveLength(before - 1);
    expect(survivor.mergeHistory[0].undoneBy).toBe('test-admin');
    expect(hookCalls).toContain(`unmerged:${mergedId}:test-admin`);
    const restoredValue = restored.identities[0].value;
    expect((await byAnon(restoredValue)).traits.firstName).toBeDefined();
    const rerun = await env.graphql(`mutation { runIdentityResolution { profiles } }`);
    expect(rerun.body.errors).toBeUndefined();
    expect((await byAnon(restoredValue)).id).toBe(mergedId); // the undone pair stays apart
    expect((await byAnon('rec-1-org')).id).toBe(p.id);
    const never = await env.graphql(`mutation($id: ID!) { unmergeProfile(id: $id) { id } }`, { id: p.id });
    expect(never.body.errors[0]).toMatchObject({ extensions: { code: 'VALIDATION_FAILED', field: 'id', rule: 'merged' } });
    expect(never.body.errors[0].message).toContain('was never merged into another profile');
  });

  it('unmerge also gives back what arrived after the merge under the restored side\'s ids', async () => {
    const older = (await env.post('/v1/identify', { userId: 'um-user', traits: { name: 'U' } }, { key: env.keys.admin })).body.profileId;
    await env.post('/v1/identify', { anonymousId: 'um-anon', traits: { device: 'tablet' } }, { key: env.keys.admin });
    await env.post('/v1/alias', { userId: 'um-user', previousId: 'um-anon' }, { key: env.keys.admin });
    // After the merge: one event names only the anonymous id, one only the user id.
    await env.post('/v1/identify', { anonymousId: 'um-anon', traits: { device: 'phone' } }, { key: env.keys.admin });
    await env.post('/v1/track', { userId: 'um-user', event: 'Mine' }, { key: env.keys.admin });
    const merged = (await byAnon('um-anon')).mergeHistory.find((m: { rule: string }) => m.rule === 'alias').mergedId;
    await env.graphql(`mutation($id: ID!) { unmergeProfile(id: $id) { id } }`, { id: merged });
    const restored = (await env.graphql(`query($id: ID!) { profile(id: $id) { traits events { nodes { type name } } } }`, { id: merged })).body.data.profile;
    expect(restored.traits).toEqual({ device: 'phone' });
    expect(restored.events.nodes.map((e: { type: string }) => e.type).sort()).toEqual(['identify', 'identify']);
    const survivor = (await env.graphql(`query($id: ID!) { profile(id: $id) { traits events { nodes { type name } } } }`, { id: older })).body.data.profile;
    expect(survivor.traits).toEqual({ name: 'U' });
    expect(survivor.events.nodes.map((e: { name: string | null; type: string }) => e.name ?? e.type).sort()).toEqual(['Mine', 'alias', 'identify']);
  });

  it('merges by hand with a reason, and refuses a merge that breaks a limit', async () => {
    const a = (await env.post('/v1/identify', { anonymousId: 'hand-1', traits: { name: 'A' } }, { key: env.keys.admin })).body.profileId;
    const b = (await env.post('/v1/identify', { anonymousId: 'hand-2', traits: { name: 'B' } }, { key: env.keys.admin })).body.profileId;
    const m = await env.graphql(`mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "same person, confirmed by phone") { id mergeHistory { rule reason actor } } }`, { ids: [a, b] });
    expect(m.body.data.mergeProfiles).toMatchObject({ id: a, mergeHistory: [{ rule: 'manual', reason: { note: 'same person, confirmed by phone' }, actor: 'test-admin' }] });
    const u1 = (await env.post('/v1/identify', { userId: 'limit-1' }, { key: env.keys.admin })).body.profileId;
    const u2 = (await env.post('/v1/identify', { userId: 'limit-2' }, { key: env.keys.admin })).body.profileId;
    const refused = await env.graphql(`mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "x") { id } }`, { ids: [u1, u2] });
    expect(refused.body.errors[0].extensions.code).toBe('CONFLICT');
    expect(refused.body.errors[0].message).toContain('2 user_id values (limit 1)');
    const app = await env.graphql(`mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "x") { id } }`, { ids: [u1, a] }, { key: env.keys.app });
    expect(app.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });

  it('applies survivorship per trait: source priority and first seen', async () => {
    await env.post('/v1/identify', { userId: 'surv', traits: { plan: 'gold', signupChannel: 'store' }, timestamp: '2026-01-01T00:00:00Z' }, { key: crmKey });
    await env.post('/v1/identify', { userId: 'surv', traits: { plan: 'free', signupChannel: 'web', city: 'Oslo' }, timestamp: '2026-02-01T00:00:00Z' }, { key: webKey });
    const p = (await env.graphql(`{ profileByIdentity(type: "user_id", value: "surv") { traits } }`)).body.data.profileByIdentity;
    expect(p.traits).toEqual({ plan: 'gold', signupChannel: 'store', city: 'Oslo' });
  });

  it('resumes an unfinished run with its model instead of training again', async () => {
    const rows = await env.sql(`INSERT INTO rapport_resolve_run (model_id, status) SELECT max(id), 'running' FROM rapport_match_model RETURNING model_id`);
    const models = (await env.sql('SELECT count(*)::int AS n FROM rapport_match_model'))[0].n;
    const r = await env.graphql(`mutation { runIdentityResolution { resumed } }`);
    expect(r.body.data.runIdentityResolution.resumed).toBe(true);
    expect((await env.sql('SELECT count(*)::int AS n FROM rapport_match_model'))[0].n).toBe(models); // no new training
    expect((await env.sql(`SELECT status FROM rapport_resolve_run WHERE model_id = $1 ORDER BY started_at DESC LIMIT 1`, [rows[0].model_id]))[0].status).toBe('done');
  });

  it('survives bad input: accents, non-Latin scripts, empty strings, absurd dates, wrong types', async () => {
    const batch = [
      { firstName: 'José', lastName: 'Müller', birthday: '99999999' },
      { firstName: 'jose', lastName: 'muller', birthday: 'not a date' },
      { firstName: '山田', lastName: '太郎', birthday: '' },
      { firstName: '', lastName: '', address: { postalCode: 2600 } },
      { firstName: 42, lastName: { nested: true }, birthday: 19700101, nationalId: [1, 2] },
    ].map((traits, i) => ({ type: 'identify', anonymousId: `bad-${i}`, traits }));
    expect((await env.post('/v1/batch', { batch }, { key: env.keys.admin })).status).toBe(200);
    const run = await env.graphql(`mutation { runIdentityResolution(retrain: true) { profiles } }`);
    expect(run.body.errors).toBeUndefined();
    expect(run.body.data.runIdentityResolution.profiles).toBeGreaterThan(500);
  });
});
