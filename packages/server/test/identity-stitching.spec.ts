import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env?.close());

const PROFILE = `query($id: ID!) { profile(id: $id) { id traits identities { type value }
  mergedFrom { survivorId mergedId rule actor reason messageId } events(first: 100) { nodes { name type } } } }`;
const BY = `query($t: String!, $v: String!) { profileByIdentity(type: $t, value: $v) { id identities { type value } traits } }`;

async function profile(id: string) {
  const r = await env.graphql(PROFILE, { id });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.profile;
}
async function by(t: string, v: string) {
  const r = await env.graphql(BY, { t, v });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.profileByIdentity;
}
const ids = (p: { identities: Array<{ type: string; value: string }> }) => p.identities.map((i) => `${i.type}:${i.value}`).sort();
async function send(path: string, body: object) {
  const r = await env.post(path, body, { key: env.keys.admin });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as { profileId: string; warnings: string[] };
}

describe('deterministic stitching', () => {
  it('lands an event on the profile that shares one of its identities', async () => {
    const a = await send('/v1/identify', { anonymousId: 'dev-a', traits: { email: 'Shared@Example.COM' } });
    const b = await send('/v1/track', { anonymousId: 'dev-b', event: 'Viewed', context: { traits: { email: 'shared@example.com' } } });
    expect(b.profileId).toBe(a.profileId);
    expect(ids(await profile(a.profileId))).toEqual(['anonymous_id:dev-a', 'anonymous_id:dev-b', 'email:shared@example.com']);
  });

  it('normalises phones to E.164 and links through them and through context.externalIds', async () => {
    const a = await send('/v1/identify', { anonymousId: 'ph-1', traits: { phone: '+1 (650) 253-0000' } });
    const b = await send('/v1/identify', { anonymousId: 'ph-2', traits: { phone: '+16502530000' } });
    expect(b.profileId).toBe(a.profileId);
    const c = await send('/v1/track', { anonymousId: 'ph-3', event: 'X', context: { externalIds: [{ id: 'crm-9', type: 'CRM Id', collection: 'users' }] } });
    const d = await send('/v1/track', { userId: 'crm-user', event: 'Y', context: { externalIds: [{ id: 'crm-9', type: 'crm_id' }] } });
    expect(d.profileId).toBe(c.profileId);
    expect(ids(await by('phone', '+1 (650) 253-0000'))).toContain('phone:+16502530000');
    expect(ids(await by('crm_id', 'crm-9'))).toEqual(['anonymous_id:ph-3', 'crm_id:crm-9', 'user_id:crm-user']);
  });

  it('links each identity a message names once, however often it names it, in long lists of external ids too', async () => {
    // Two to a dozen external ids, each named twice (once in another spelling of its type or value), plus the same
    // email in traits and in external ids: every identity is linked once, and none is counted twice against a limit.
    for (const n of [2, 6]) {
      const externalIds = Array.from({ length: n }, (_, i) => [{ id: `dup-${n}-${i}`, type: 'crm_id' }, { id: `dup-${n}-${i}`, type: 'CRM Id' }]).flat();
      externalIds.push({ id: `Dup-${n}@Example.com`, type: 'email' });
      const r = await send('/v1/identify', { userId: `dup-user-${n}`, traits: { email: `dup-${n}@example.com` }, context: { externalIds } });
      expect(r.warnings).toEqual(n > 5 ? [expect.stringContaining('crm_id "dup-6-5" was not linked')] : []);
      const linked = ids(await profile(r.profileId));
      expect(linked).toEqual([
        ...Array.from({ length: Math.min(n, 5) }, (_, i) => `crm_id:dup-${n}-${i}`), `email:dup-${n}@example.com`, `user_id:dup-user-${n}`,
      ].sort());
    }
  });

  it('alias merges two profiles: the older survives, the other becomes a tombstone that still finds it', async () => {
    const old = await send('/v1/identify', { userId: 'alias-user', traits: { name: 'Old', plan: 'pro' } });
    const anon = await send('/v1/identify', { anonymousId: 'alias-anon', traits: { name: 'Newer name' } });
    await send('/v1/track', { anonymousId: 'alias-anon', event: 'Browsed' });
    expect(anon.profileId).not.toBe(old.profileId);
    const merged = await send('/v1/alias', { userId: 'alias-user', previousId: 'alias-anon', messageId: 'alias-msg' });
    expect(merged.profileId).toBe(old.profileId);
    const p = await profile(old.profileId);
    expect(ids(p)).toEqual(['anonymous_id:alias-anon', 'user_id:alias-user']);
    expect(p.traits).toEqual({ name: 'Newer name', plan: 'pro' }); // most recent value per trait wins
    expect(p.events.nodes.map((e: { name: string | null; type: string }) => e.name ?? e.type).sort()).toEqual(['Browsed', 'alias', 'identify', 'identify']);
    expect(p.mergedFrom).toEqual([
      expect.objectContaining({ survivorId: old.profileId, mergedId: anon.profileId, rule: 'alias', actor: 'ingestion', messageId: 'alias-msg' }),
    ]);
    expect((await profile(anon.profileId)).id).toBe(old.profileId); // the merged-away id finds its survivor
  });

  it('an event carrying identities of two profiles merges them', async () => {
    const a = await send('/v1/identify', { anonymousId: 'two-a', traits: { email: 'two@example.com' } });
    const b = await send('/v1/identify', { userId: 'two-user' });
    const c = await send('/v1/identify', { userId: 'two-user', traits: { email: 'two@example.com' } });
    expect(c.profileId).toBe(a.profileId); // a is older
    const p = await profile(b.profileId);
    expect(p.id).toBe(a.profileId);
    expect(p.mergedFrom[0]).toMatchObject({ rule: 'shared_identity', mergedId: b.profileId });
  });
});

describe('merge protection', () => {
  it('never merges two profiles with different user ids (limit 1), and says why', async () => {
    const a = await send('/v1/identify', { userId: 'mp-1', traits: { email: 'family@example.com' } });
    const b = await send('/v1/identify', { userId: 'mp-2', traits: { email: 'family@example.com' } });
    expect(b.profileId).not.toBe(a.profileId);
    expect(b.warnings.join(' ')).toContain('email "family@example.com" was not linked');
    expect(b.warnings.join(' ')).toContain('user_id values (limit 1)');
    expect(ids(await by('user_id', 'mp-2'))).toEqual(['user_id:mp-2']); // the lower-priority email was dropped
  });

  it('keeps at most 5 values of the other types per profile', async () => {
    for (let i = 0; i < 7; i++) await send('/v1/track', { userId: 'many-devices', anonymousId: `md-${i}`, event: 'Open' });
    const p = await by('user_id', 'many-devices');
    expect(ids(p).filter((x) => x.startsWith('anonymous_id:'))).toHaveLength(5);
    expect((await profile(p.id)).events.nodes).toHaveLength(7); // every event still landed
  });

  it('blocked values link nothing', async () => {
    const a = await send('/v1/track', { userId: 'blk-1', anonymousId: '00000000-0000-0000-0000-000000000000', event: 'E' });
    const b = await send('/v1/track', { userId: 'blk-2', anonymousId: '00000000-0000-0000-0000-000000000000', event: 'E' });
    const c = await send('/v1/identify', { userId: 'blk-3', traits: { email: 'anonymous' } }).catch(() => null);
    expect(b.profileId).not.toBe(a.profileId);
    expect(a.warnings[0]).toContain('blocked value');
    for (const v of ['null', 'anonymous', '-1', '0000']) {
      const r = await env.post('/v1/track', { userId: v, event: 'E' });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ field: 'userId', rule: 'blocked' });
    }
    expect(c).toBeNull(); // "anonymous" is not an email address: rejected before blocking
  });
});

describe('concurrency', () => {
  it('many parallel requests that link the same identities converge on one profile', async () => {
    const requests = [];
    for (let i = 0; i < 48; i++) {
      const device = `conc-dev-${i % 4}`;
      requests.push(
        i % 3 === 0
          ? env.post('/v1/identify', { userId: 'conc-user', anonymousId: device, traits: { n: i } })
          : env.post('/v1/batch', { batch: [{ type: 'track', anonymousId: device, event: `E${i}` }, { type: 'page', anonymousId: device, name: `P${i}` }] }),
      );
    }
    const results = await Promise.all(requests);
    expect(results.map((r) => r.status).every((s) => s === 200)).toBe(true);
    const p = await by('user_id', 'conc-user');
    expect(ids(p)).toEqual(['anonymous_id:conc-dev-0', 'anonymous_id:conc-dev-1', 'anonymous_id:conc-dev-2', 'anonymous_id:conc-dev-3', 'user_id:conc-user']);
    const all = await env.graphql(`{ profiles(first: 500, filter: { seenSince: "2000-01-01T00:00:00Z" }) { nodes { id identities { value } } } }`);
    const holding = all.body.data.profiles.nodes.filter((n: { identities: Array<{ value: string }> }) =>
      n.identities.some((i) => i.value.startsWith('conc-')),
    );
    expect(holding.map((n: { id: string }) => n.id)).toEqual([p.id]);
    const events = await env.graphql(`query($id: ID!) { profile(id: $id) { events(first: 200) { nodes { id } } } }`, { id: p.id });
    expect(events.body.data.profile.events.nodes).toHaveLength(16 + 32 * 2);
  });
});

describe('events never strand on a merged-away profile', () => {
  it('tracks racing with the alias that merges their profile all end up on the survivor', async () => {
    // The tracks name anonymous id B, the alias names anonymous id A: no identity in common,
    // so nothing but the profile lock orders them.
    for (let round = 0; round < 15; round++) {
      const [a, b, user] = [`race-a-${round}`, `race-b-${round}`, `race-user-${round}`];
      await send('/v1/identify', { userId: user });
      await send('/v1/identify', { anonymousId: a, traits: { email: `race${round}@example.com` } });
      await send('/v1/identify', { anonymousId: b, traits: { email: `race${round}@example.com` } });
      const work = [];
      for (let i = 0; i < 10; i++) {
        if (i === 3) work.push(env.post('/v1/alias', { userId: user, previousId: a }));
        work.push(env.post('/v1/track', { anonymousId: b, event: `t${i}` }));
      }
      const results = await Promise.all(work);
      expect(results.every((r) => r.status === 200)).toBe(true);
    }
    const stranded = await env.sql(`SELECT count(*)::int AS n FROM rapport_event e JOIN rapport_profile p ON p.id = e.profile_id WHERE p.merged_into IS NOT NULL`);
    expect(stranded[0].n).toBe(0);
    const p = await by('user_id', 'race-user-7');
    expect((await profile(p.id)).events.nodes).toHaveLength(1 + 2 + 1 + 10);
  });
});

describe('configuration', () => {
  it('setting one type\'s limit keeps the others (user_id stays at 1)', async () => {
    const other = await createTestEnvironment({ identity: { limits: { anonymous_id: 2 } } });
    try {
      const a = await other.post('/v1/identify', { userId: 'cfg-1', traits: { email: 'cfg@example.com' } });
      const b = await other.post('/v1/identify', { userId: 'cfg-2', traits: { email: 'cfg@example.com' } });
      expect(b.body.profileId).toBeUndefined(); // ingest keys see no profile ids
      const q = await other.graphql(`{ a: profileByIdentity(type: "user_id", value: "cfg-1") { id } b: profileByIdentity(type: "user_id", value: "cfg-2") { id } }`);
      expect(q.body.data.a.id).not.toBe(q.body.data.b.id);
      for (let i = 0; i < 4; i++) await other.post('/v1/track', { userId: 'cfg-1', anonymousId: `cfg-dev-${i}`, event: 'E' });
      const p = await other.graphql(`{ profileByIdentity(type: "user_id", value: "cfg-1") { identities { type } } }`);
      expect(p.body.data.profileByIdentity.identities.filter((i: { type: string }) => i.type === 'anonymous_id')).toHaveLength(2);
      void a;
    } finally {
      await other.close();
    }
  });
});
