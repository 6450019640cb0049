import { createExtensionPoint, definePlugin, provide, type PluginContext } from '@rapport/core';
import { basisAllows, consentStateOf, effectiveBasis, PARTIAL_GRANT_SOURCE } from '@rapport/core/internal';
import { createPluginTestkit, type PluginTestkit } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The plugin host: the narrow services a plugin gets, and extension points between plugins.
let captured: PluginContext;
const probe = definePlugin(() => ({
  name: 'probe',
  onInit(ctx: PluginContext) {
    captured = ctx;
  },
}));

// A plugin that receives events and reads what it keeps of them in SQL (ctx.events.sql), beside what delivery loaded.
const copied: Array<{ loaded: { id: string; name: string | null; profileId: string }; row: Record<string, unknown> | undefined }> = [];
let copierCtx: PluginContext;
const copier = definePlugin(() => ({
  name: 'copier',
  onInit(ctx: PluginContext) {
    copierCtx = ctx;
  },
  delivery: {
    kinds: ['event'], eventFields: [],
    async handle(changes, ctx: PluginContext) {
      const events = changes.flatMap((c) => (c.kind === 'event' ? [c.event] : []));
      const rows = await ctx.db.query<Record<string, unknown>>(`SELECT e.* FROM ${ctx.events.sql('$1')} e`, [events.map((e) => e.id)]);
      for (const e of events) copied.push({ loaded: { id: e.id, name: e.name, profileId: e.profileId }, row: rows.find((r) => String(r.id) === e.id) });
    },
  },
}));
const mergesOnly = definePlugin(() => ({ name: 'merges-only', delivery: { kinds: ['merge'], handle: async () => undefined } }));
let mergesOnlyCtx: PluginContext;
// A plugin whose delivery starts at the start of history: it may read every event in place (ctx.events.all).
const historian = definePlugin(() => ({ name: 'historian', delivery: { kinds: ['event', 'merge'], from: 'history', handle: async () => undefined } }));
let historianCtx: PluginContext;

let kit: PluginTestkit;
beforeAll(async () => {
  kit = await createPluginTestkit([probe(), copier(), mergesOnly(), historian()]);
  mergesOnlyCtx = kit.core.pluginContext(kit.core.plugins.find((p) => p.name === 'merges-only')!);
  historianCtx = kit.core.pluginContext(kit.core.plugins.find((p) => p.name === 'historian')!);
});
afterAll(async () => kit?.close());

const consentMutation = `mutation($id: ID!, $p: String!, $g: Boolean!) { setConsent(input: { profileId: $id, purpose: $p, granted: $g }) { granted } }`;

describe('ctx.consent', () => {
  it('allows(ids, purpose): granted, refused, undecided under each legal basis, merged-away and unknown ids, in one call', async () => {
    const r = await kit.ingest([
      { type: 'identify', userId: 'grants' },
      { type: 'identify', userId: 'refuses' },
      { type: 'identify', userId: 'silent' },
      { type: 'identify', anonymousId: 'guest-of-grants' },
    ]);
    const [grants, refuses, silent, guest] = r.accepted.map((a) => a.profileId);
    for (const [id, g] of [[grants, true], [refuses, false], [guest, true]] as const) {
      for (const p of ['personalization', 'analytics']) expect((await kit.graphql(consentMutation, { id, p, g })).errors).toBeUndefined();
    }
    // The guest (who granted too) merges with the profile that granted: asked by either id, it answers for the survivor.
    const merged = await kit.ingest([{ type: 'alias', userId: 'grants', previousId: 'guest-of-grants' }]);
    expect(merged.rejected).toEqual([]);
    const unknown = '00000000-0000-4000-8000-000000000000';
    const ids = [grants, refuses, silent, guest, unknown, 'not-a-uuid'];
    const personalization = await captured.consent.allows(ids, 'personalization'); // basis: consent
    expect(ids.map((id) => personalization.get(id))).toEqual([true, false, false, true, false, false]);
    const analytics = await captured.consent.allows(ids, 'analytics'); // basis: legitimate interest
    expect(ids.map((id) => analytics.get(id))).toEqual([true, false, true, true, false, false]);
  });

  it('sql(column, purpose) selects the same profiles, and refuses what is not a column or a purpose name', async () => {
    const rows = await captured.db.query<{ id: string; ok: boolean }>(
      `SELECT t.id, ${captured.consent.sql('t.id', 'personalization')} AS ok FROM unnest($1::uuid[]) AS t(id)`,
      [[(await kit.ingest([{ type: 'identify', userId: 'grants' }])).accepted[0].profileId]],
    );
    expect(rows).toEqual([{ id: expect.any(String), ok: true }]);
    expect(() => captured.consent.sql('t.id; DROP TABLE x', 'personalization')).toThrow(/column reference/);
    expect(() => captured.consent.sql('t.id', "x') OR true --")).toThrow(/purpose name/);
  });

  it('the SQL rule (allows and sql) and the TypeScript rule agree on every legal basis and consent state', async () => {
    const db = kit.core.db;
    const bases = ['consent', 'contract', 'legal_obligation', 'legitimate_interest', 'made_up'];
    const states: Array<{ name: string; granted: boolean; source: string; expires: string | null } | null> = [
      null,
      { name: 'granted', granted: true, source: 'api', expires: null },
      { name: 'granted-until-later', granted: true, source: 'api', expires: '1 hour' },
      { name: 'expired', granted: true, source: 'api', expires: '-1 hour' },
      { name: 'denied', granted: false, source: 'api', expires: null },
      { name: 'partial-open', granted: false, source: PARTIAL_GRANT_SOURCE, expires: '1 hour' },
      { name: 'partial-expired', granted: false, source: PARTIAL_GRANT_SOURCE, expires: '-1 hour' },
    ];
    const [profile] = (await kit.ingest([{ type: 'identify', userId: 'rule-check' }])).accepted.map((a) => a.profileId);
    let checked = 0;
    for (const basis of bases) {
      const purpose = `rule_${basis}`;
      // A stored basis that is not a known one is read as consent (fail closed); write it past the API's check.
      await db.query(`INSERT INTO rapport_purpose (name, description, legal_basis) VALUES ($1, 'rule check', $2) ON CONFLICT DO NOTHING`, [purpose, basis]);
      for (const s of states) {
        await db.query('DELETE FROM rapport_consent WHERE profile_id = $1 AND purpose = $2', [profile, purpose]);
        if (s) {
          await db.query(
            `INSERT INTO rapport_consent (profile_id, purpose, granted, source, at, expires_at)
             VALUES ($1, $2, $3, $4, now(), CASE WHEN $5::text IS NULL THEN NULL ELSE now() + $5::interval END)`,
            [profile, purpose, s.granted, s.source, s.expires],
          );
        }
        const [row] = await db.query<{ granted: boolean; source: string; expires_at: Date | null }>(
          'SELECT granted, source, expires_at FROM rapport_consent WHERE profile_id = $1 AND purpose = $2',
          [profile, purpose],
        );
        const expected = basisAllows(effectiveBasis(basis), consentStateOf(row ? { granted: row.granted, source: row.source, expiresAt: row.expires_at } : undefined));
        const viaAllows = (await captured.consent.allows([profile], purpose)).get(profile);
        const [viaSql] = await captured.db.query<{ ok: boolean }>(`SELECT ${captured.consent.sql('t.id', purpose)} AS ok FROM (SELECT $1::uuid AS id) t`, [profile]);
        const state = s?.name ?? 'none';
        expect({ basis, state, allows: viaAllows, sql: viaSql.ok }).toEqual({ basis, state, allows: expected, sql: expected });
        checked++;
      }
    }
    expect(checked).toBe(bases.length * states.length);
  });
});

describe('ctx.events.sql', () => {
  it('is the delivered events as columns, for a plugin whose delivery receives events', async () => {
    const r = await kit.ingest([
      { type: 'track', userId: 'copied', event: 'Copied', properties: { sku: 'a-1', nested: { deep: [1, 2] } }, context: { locale: 'fr' } },
      { type: 'page', userId: 'copied', name: 'Home' },
    ]);
    await kit.settle();
    const mine = copied.filter((c) => r.accepted.some((a) => a.profileId === c.loaded.profileId));
    expect(mine.map((c) => c.loaded.name)).toEqual(['Copied', 'Home']);
    const [track, page] = mine.map((c) => c.row!);
    expect(Object.keys(track!).sort()).toEqual(['anonymous_id', 'category', 'context', 'group_id', 'id', 'message_id', 'name', 'origin_profile_id', 'original_timestamp',
      'profile_id', 'properties', 'received_at', 'sent_at', 'timestamp', 'traits', 'type', 'user_id']);
    expect(track).toMatchObject({ type: 'track', name: 'Copied', user_id: 'copied', profile_id: mine[0]!.loaded.profileId, properties: { sku: 'a-1', nested: { deep: [1, 2] } } });
    expect(track!.context).toMatchObject({ locale: 'fr' });
    expect(track!.timestamp).toBeInstanceOf(Date);
    expect(page).toMatchObject({ type: 'page', name: 'Home' });
  });

  it('refuses a plugin whose delivery does not receive events, and anything but a parameter placeholder', () => {
    expect(() => captured.events.sql('$1')).toThrow(/plugin probe: ctx.events.sql is for a plugin whose delivery receives events/);
    expect(() => mergesOnlyCtx.events.sql('$1')).toThrow(/plugin merges-only: ctx.events.sql/);
    for (const bad of ['1', '$0', '$1) OR true --', "'{1}'", '$1::text', '']) expect(() => copierCtx.events.sql(bad), bad).toThrow(/idsParam must be a parameter placeholder/);
  });
});

describe('ctx.events.all', () => {
  const mine = (user: string) => historianCtx.db.query<{ type: string; name: string | null; profile_id: string; properties: unknown }>(
    `SELECT e.type, e.name, e.profile_id, e.properties FROM ${historianCtx.events.all()} e WHERE e.user_id = $1 OR e.anonymous_id = $1 ORDER BY e.id`, [user],
  );

  it('is every stored event in place, on the profile it is on now, and without the erased', async () => {
    const r = await kit.ingest([
      { type: 'track', anonymousId: 'all-guest', event: 'All Viewed', properties: { sku: 'a-2' } },
      { type: 'track', userId: 'all-member', event: 'All Bought' },
    ]);
    const [guest, member] = r.accepted.map((a) => a.profileId);
    expect((await mine('all-guest')).map((e) => [e.type, e.name, e.profile_id, e.properties])).toEqual([['track', 'All Viewed', guest, { sku: 'a-2' }]]);
    // No delivery needed: the relation is the stored events, so a merge shows at once.
    expect((await kit.ingest([{ type: 'alias', userId: 'all-member', previousId: 'all-guest' }])).rejected).toEqual([]);
    const merged = await mine('all-guest');
    expect(merged.map((e) => e.profile_id)).toEqual([expect.any(String)]);
    expect([guest, member]).toContain(merged[0]!.profile_id);
    // The member's track and the alias event itself.
    expect((await mine('all-member')).map((e) => [e.type, e.profile_id])).toEqual([['track', merged[0]!.profile_id], ['alias', merged[0]!.profile_id]]);
    const d = await kit.graphql(`mutation($id: ID!) { deleteProfile(id: $id) { profileIds } }`, { id: merged[0]!.profile_id });
    expect(d.errors).toBeUndefined();
    expect([...(await mine('all-guest')), ...(await mine('all-member'))]).toEqual([]);
  });

  it('refuses a plugin whose delivery does not receive events from history', () => {
    expect(() => copierCtx.events.all()).toThrow(/plugin copier: ctx.events.all is for a plugin whose delivery receives events from history/);
    expect(() => captured.events.all()).toThrow(/plugin probe: ctx.events.all/);
    expect(() => mergesOnlyCtx.events.all()).toThrow(/plugin merges-only: ctx.events.all/);
  });
});

describe('ctx.profiles and ctx.metrics', () => {
  it('resolve follows merges and gives no personal data', async () => {
    const r = await kit.ingest([
      { type: 'identify', userId: 'resolve-me', traits: { plan: 'pro' } },
      { type: 'identify', anonymousId: 'resolve-guest', traits: { plan: 'trial' } },
    ]);
    const [live, guest] = r.accepted.map((a) => a.profileId);
    await kit.ingest([{ type: 'alias', userId: 'resolve-me', previousId: 'resolve-guest' }]);
    const refs = await captured.profiles.resolve([live, guest, '00000000-0000-4000-8000-000000000000']);
    const survivor = refs[0]!.liveId;
    expect(refs[1]!.liveId).toBe(survivor);
    expect(refs[2]).toBeNull();
    for (const ref of refs.slice(0, 2)) expect(Object.keys(ref!).sort()).toEqual(['createdAt', 'id', 'liveId', 'updatedAt']);
  });

  it('hold returns the people that exist, and an erasure waits for the transaction holding them', async () => {
    const r = await kit.ingest([{ type: 'identify', userId: 'hold-me' }, { type: 'identify', userId: 'hold-gone' }]);
    const [kept, gone] = r.accepted.map((a) => a.profileId);
    expect((await kit.graphql('mutation($id: ID!) { deleteProfile(id: $id) { profileIds } }', { id: gone })).errors).toBeUndefined();
    let release!: () => void;
    const held = new Promise<void>((res) => (release = res));
    let present: Set<string> | null = null;
    let erasedWhileHeld: boolean | null = null;
    let erasure: Promise<{ errors?: unknown }> | null = null;
    await captured.db.transaction(async (tx) => {
      present = await captured.profiles.hold(tx, [kept, gone, '00000000-0000-4000-8000-000000000000']);
      let done = false;
      erasure = kit.graphql('mutation($id: ID!) { deleteProfile(id: $id) { profileIds } }', { id: kept }).then((x) => ((done = true), x));
      // The erasure waits on the erasure lock this transaction holds (other locks and databases not counted).
      for (;;) {
        const [w] = await kit.core.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks l WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = 1380011088
              AND l.objid = 1 AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        if (w!.n > 0 || done) break;
        await new Promise((res) => setTimeout(res, 20));
      }
      erasedWhileHeld = done;
      release();
    });
    await held;
    expect([...present!]).toEqual([kept]);
    expect(erasedWhileHeld).toBe(false);
    expect((await erasure!)!.errors).toBeUndefined();
    expect(await captured.profiles.resolve([kept])).toEqual([null]);
  });

  it('hold matches ids in any form PostgreSQL reads as a uuid, and refuses a transaction that is not READ COMMITTED', async () => {
    const r = await kit.ingest([{ type: 'identify', userId: 'hold-forms' }, { type: 'identify', userId: 'hold-forms-gone' }]);
    const [kept, gone] = r.accepted.map((a) => a.profileId);
    expect((await kit.graphql('mutation($id: ID!) { deleteProfile(id: $id) { profileIds } }', { id: gone })).errors).toBeUndefined();
    const upper = kept!.toUpperCase();
    const bare = gone!.replaceAll('-', '');
    const braced = `{${gone}}`;
    const present = await captured.db.transaction((tx) => captured.profiles.hold(tx, [upper, bare, braced]));
    expect([...present]).toEqual([upper]);
    await expect(
      captured.db.transaction(async (tx) => {
        await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        return captured.profiles.hold(tx, [kept!]);
      }),
    ).rejects.toThrow(/READ COMMITTED/);
  });

  it('a plugin counter is collected under its plugin prefix', () => {
    captured.metrics.counter('pings_total', 'Pings seen.').inc(2);
    expect(kit.core.metrics.collect()).toContainEqual({ name: 'rapport_plugin_probe_pings_total', help: 'Pings seen.', type: 'counter', value: 2 });
    expect(() => captured.metrics.counter('Bad Name', 'x')).toThrow(/metric name/);
  });
});

describe('extension points', () => {
  const stages = createExtensionPoint<{ addStage(name: string): void }>('journeys.stages');

  it('a plugin extends another through its point, in dependency order', async () => {
    const added: string[] = [];
    const journeys = definePlugin(() => ({ name: 'journeys', extensionPoints: [provide(stages, { addStage: (n: string) => void added.push(n) })] }));
    const segments = definePlugin(() => ({
      name: 'segments',
      dependsOn: ['journeys'],
      onInit(ctx: PluginContext) {
        ctx.extensions.get(stages).addStage('churn-risk');
      },
    }));
    const k = await createPluginTestkit([segments(), journeys()]);
    try {
      expect(added).toEqual(['churn-risk']);
    } finally {
      await k.close();
    }
  });

  it('fails the start with a clear error: two providers, no provider, a provider not depended on, a cycle', async () => {
    const offer = (name: string, extra: Record<string, unknown> = {}) => definePlugin(() => ({ name, extensionPoints: [provide(stages, { addStage: () => undefined })], ...extra }))();
    const user = (deps: string[]) => definePlugin(() => ({ name: 'segments', dependsOn: deps, onInit: (ctx: PluginContext) => void ctx.extensions.get(stages) }))();
    await expect(createPluginTestkit([offer('journeys'), offer('funnels')])).rejects.toThrow(/extension point "journeys.stages" is offered by both "journeys" and "funnels"/);
    await expect(createPluginTestkit([user([])])).rejects.toThrow(/uses extension point "journeys.stages", which no installed plugin offers/);
    await expect(createPluginTestkit([offer('journeys'), user([])])).rejects.toThrow(/add "journeys" to its dependsOn/);
    await expect(createPluginTestkit([offer('journeys', { dependsOn: ['segments'] }), user(['journeys'])])).rejects.toThrow(/dependency cycle: .*journeys.*segments|dependency cycle: .*segments.*journeys/);
    await expect(createPluginTestkit([user(['missing'])])).rejects.toThrow(/depends on "missing", which is not installed/);
  });
});
