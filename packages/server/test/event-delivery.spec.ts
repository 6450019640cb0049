import { definePlugin, PostgresDeliveryTransport, type Change } from '@rapport/core/internal';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './support/until';

/** A gate the test opens: a handler awaiting it is held mid-delivery. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

const seen: Change[] = [];
const batches: number[] = [];
const held = gate();
let holdNext = false;
let handling = false;
const recorder = definePlugin(() => ({
  name: 'recorder',
  delivery: {
    batchSize: 50,
    async handle(changes: Change[]) {
      handling = true;
      if (holdNext) await held.opened;
      batches.push(changes.length);
      seen.push(...changes);
      handling = false;
    },
  },
}));

const poisonTries: string[] = [];
const fine: string[] = [];
let healed = false;
const picky = definePlugin(() => ({
  name: 'picky',
  delivery: {
    kinds: ['event'],
    maxAttempts: 3,
    async handle(changes: Change[]) {
      for (const c of changes) {
        if (c.kind !== 'event') throw new Error('only events were asked for');
        if (c.event.properties.poison && !healed) {
          poisonTries.push(c.event.messageId);
          throw new Error(`cannot handle ${c.event.messageId}`);
        }
      }
      for (const c of changes) if (c.kind === 'event') fine.push(c.event.messageId);
    },
  },
}));

// A plugin that reads only the events' properties: the other fields are not loaded for it.
const narrowSeen: Change[] = [];
const narrow = definePlugin(() => ({
  name: 'narrow',
  delivery: {
    kinds: ['event'],
    eventFields: ['properties'],
    async handle(changes: Change[]) {
      narrowSeen.push(...changes);
    },
  },
}));

// A plugin that loads only the events it selects, asked before each batch (the answer can change between batches).
const selectedSeen: Change[] = [];
let selection: { types?: string[]; names?: string[] } | null | 'bad' = { types: ['identify'], names: ['Wanted'] };
const selective = definePlugin(() => ({
  name: 'selective',
  delivery: {
    kinds: ['event'],
    maxAttempts: 2,
    selectEvents: () => (selection === 'bad' ? ({ names: 'Wanted' } as unknown as { names: string[] }) : selection),
    async handle(changes: Change[]) {
      selectedSeen.push(...changes);
    },
  },
}));

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [recorder(), picky(), narrow(), selective()], delivery: { pollMs: 100, baseBackoffMs: 50, maxBackoffMs: 200 } });
});
afterAll(async () => env?.close());

const eventsSeen = (messageIds: string[]) => seen.filter((c) => c.kind === 'event' && messageIds.includes(c.event.messageId));

describe('durable event delivery to plugins', () => {
  it('loads only the event fields a plugin declares (and those every event has) for it, and all for the others', async () => {
    const msg = { type: 'track', userId: 'narrow-1', event: 'Narrowed', messageId: 'narrow-1', properties: { sku: 'A-1' }, context: { ip: '203.0.113.9' } };
    expect((await env.post('/v1/batch', { batch: [msg] })).status).toBe(200);
    const mine = await until(() => narrowSeen.find((c) => c.kind === 'event' && c.event.properties?.sku === 'A-1'), (v) => v !== undefined);
    const event = mine!.kind === 'event' ? mine!.event : null;
    expect(Object.keys(event!).sort()).toEqual(['id', 'name', 'profileId', 'properties', 'timestamp', 'type']);
    expect(event).toMatchObject({ type: 'track', name: 'Narrowed', properties: { sku: 'A-1' } });
    expect(event!.timestamp).toBeInstanceOf(Date);
    // The recorder, which declares no fields, gets the whole event.
    const full = await until(() => eventsSeen(['narrow-1'])[0], (v) => v !== undefined);
    expect(full!.kind === 'event' && full!.event.context).toMatchObject({ ip: '203.0.113.9' });
  });

  it('loads only the events a plugin selects (by type or by name), and moves past the others', async () => {
    const batch = [
      { type: 'identify', userId: 'sel-1', messageId: 'sel-identify', traits: { plan: 'pro' } },
      { type: 'track', userId: 'sel-1', messageId: 'sel-wanted', event: 'Wanted' },
      { type: 'track', userId: 'sel-1', messageId: 'sel-unwanted', event: 'Unwanted' },
      { type: 'page', userId: 'sel-1', messageId: 'sel-page', name: 'Wanted' },
      { type: 'page', userId: 'sel-1', messageId: 'sel-page-other', name: 'Home' },
    ];
    expect((await env.post('/v1/batch', { batch })).status).toBe(200);
    const ids = () => selectedSeen.flatMap((c) => (c.kind === 'event' && c.event.messageId.startsWith('sel-') ? [c.event.messageId] : []));
    await until(() => env.server.core.services.delivery.status(), (s) => s.find((x) => x.consumer === 'selective')?.lag === 0);
    expect(ids()).toEqual(['sel-identify', 'sel-wanted', 'sel-page']);
    // A selection answered for the next batch applies from then on; null loads every event.
    selection = null;
    expect((await env.post('/v1/batch', { batch: [{ type: 'track', userId: 'sel-1', messageId: 'sel-all', event: 'Unwanted' }] })).status).toBe(200);
    await until(() => ids(), (v) => v.includes('sel-all'));
    // An answer that is not a selection fails the batch as a handler's error would: retried, then dead-lettered.
    selection = 'bad';
    expect((await env.post('/v1/batch', { batch: [{ type: 'track', userId: 'sel-1', messageId: 'sel-bad', event: 'Wanted' }] })).status).toBe(200);
    const status = await until(() => env.server.core.services.delivery.status(), (s) => (s.find((x) => x.consumer === 'selective')?.deadLetters ?? 0) > 0);
    expect(status.find((x) => x.consumer === 'selective')!.lag).toBe(0);
    const letters = await env.graphql(`{ deadLetters(consumer: "selective") { error } }`);
    expect(letters.body.data.deadLetters.map((l: { error: string }) => l.error)).toEqual([expect.stringMatching(/delivery.selectEvents: names must be a list of strings/)]);
    expect(ids()).not.toContain('sel-bad');
    selection = { types: ['identify'], names: ['Wanted'] };
  });

  it('refuses a delivery that names a field events do not have, at start', async () => {
    const bad = definePlugin(() => ({ name: 'bad-fields', delivery: { eventFields: ['properties', 'nope' as 'properties'], async handle() {} } }));
    await expect(createTestEnvironment({ plugins: [bad()] })).rejects.toThrow(/delivery\.eventFields: "nope" is not an event field/);
  });

  it('delivers each stored event once, in order per profile, in batches, and skips duplicates', async () => {
    const batch = Array.from({ length: 120 }, (_, k) => ({ type: 'track', userId: `order-${k % 3}`, event: 'Step', messageId: `ord-${k}`, properties: { k } }));
    expect((await env.post('/v1/batch', { batch })).status).toBe(200);
    expect((await env.post('/v1/batch', { batch: batch.slice(0, 10) })).status).toBe(200); // re-sent: duplicates
    const ids = batch.map((m) => m.messageId);
    const got = await until(() => eventsSeen(ids), (v) => v.length >= 120);
    expect(got).toHaveLength(120);
    expect(new Set(got.map((c) => (c.kind === 'event' ? c.event.messageId : ''))).size).toBe(120);
    for (const user of ['order-0', 'order-1', 'order-2']) {
      const ks = got.filter((c) => c.kind === 'event' && c.event.userId === user).map((c) => (c.kind === 'event' ? (c.event.properties.k as number) : -1));
      expect(ks).toEqual([...ks].sort((a, b) => a - b));
    }
    expect(Math.max(...batches)).toBeLessThanOrEqual(50);
    expect(Math.max(...batches)).toBeGreaterThan(1);
  });

  it('answers the request without waiting for a plugin: ingestion is off the delivery path', async () => {
    holdNext = true;
    const first = await env.post('/v1/track', { userId: 'held', event: 'Held 1', messageId: 'held-1' });
    expect(first.status).toBe(200);
    await until(() => handling, (v) => v); // the plugin now holds a batch and does not return
    const second = await env.post('/v1/track', { userId: 'held', event: 'Held 2', messageId: 'held-2' });
    expect(second.status).toBe(200); // answered while the plugin is still busy
    expect(eventsSeen(['held-2'])).toHaveLength(0);
    // The lag shows in the health query any key may run.
    const health = await env.graphql(`{ health { plugins { name deliveryLag deliveryLagSeconds } } }`, {}, { key: env.keys.app });
    const recorderHealth = health.body.data.health.plugins.find((p: { name: string }) => p.name === 'recorder');
    expect(recorderHealth.deliveryLag).toBeGreaterThanOrEqual(1);
    expect(recorderHealth.deliveryLagSeconds).toBeGreaterThanOrEqual(0);
    holdNext = false;
    held.open();
    await until(() => eventsSeen(['held-1', 'held-2']).length, (n) => n === 2);
  });

  it('also delivers merges and consent decisions', async () => {
    await env.post('/v1/identify', { anonymousId: 'dev-m', traits: { plan: 'free' } });
    await env.post('/v1/identify', { userId: 'user-m', traits: { plan: 'pro' } });
    await env.post('/v1/alias', { previousId: 'dev-m', userId: 'user-m' });
    const merge = await until(() => seen.filter((c) => c.kind === 'merge'), (v) => v.length > 0);
    expect(merge[0]).toMatchObject({ kind: 'merge', merge: { rule: 'alias' } });
    const who = await env.graphql(`{ profileByIdentity(type: "user_id", value: "user-m") { id } }`);
    const r = await env.graphql(`mutation($id: ID!) { setConsent(input: { profileId: $id, purpose: "personalization", granted: true }) { purpose granted } }`, { id: who.body.data.profileByIdentity.id });
    expect(r.body.errors).toBeUndefined();
    const consent = await until(() => seen.filter((c) => c.kind === 'consent'), (v) => v.length > 0);
    expect(consent[0]).toMatchObject({ kind: 'consent', consent: { purpose: 'personalization', granted: true } });
  });

  it('retries a failing change, dead-letters it, delivers the rest, and replays it once the plugin is fixed', async () => {
    const batch = [
      { type: 'track', userId: 'p', event: 'Ok', messageId: 'ok-1' },
      { type: 'track', userId: 'p', event: 'Bad', messageId: 'poison-1', properties: { poison: true } },
      { type: 'track', userId: 'p', event: 'Ok', messageId: 'ok-2' },
    ];
    expect((await env.post('/v1/batch', { batch })).status).toBe(200);
    await until(() => fine, (v) => v.includes('ok-1') && v.includes('ok-2'));
    // Tried in failing batches while it was isolated, then 3 times alone (maxAttempts).
    expect(poisonTries.filter((m) => m === 'poison-1').length).toBeGreaterThanOrEqual(3);
    expect(fine).not.toContain('poison-1');

    const status = await env.graphql(`{ deliveryStatus { consumer delivered lag deadLetters lastError } }`);
    expect(status.body.errors).toBeUndefined();
    const picky = status.body.data.deliveryStatus.find((s: { consumer: string }) => s.consumer === 'picky');
    expect(picky).toMatchObject({ deadLetters: 1, lastError: null }); // it moved on and recovered
    const letters = await env.graphql(`{ deadLetters(consumer: "picky") { id kind error attempts } }`);
    expect(letters.body.data.deadLetters).toEqual([{ id: expect.any(String), kind: 'event', error: 'Error: cannot handle poison-1', attempts: 3 }]);
    // The other plugin was not held up by this one.
    expect(eventsSeen(['poison-1'])).toHaveLength(1);

    // Only an admin (plugins:manage) sees or replays them.
    const app = await env.graphql(`{ deadLetters { id } }`, {}, { key: env.keys.app });
    expect(app.body.errors[0].extensions.code).toBe('FORBIDDEN');

    healed = true;
    const replay = await env.graphql(`mutation($ids: [ID!]!) { replayDeadLetters(ids: $ids) { id replayed error } }`, { ids: [letters.body.data.deadLetters[0].id] });
    expect(replay.body.data.replayDeadLetters).toEqual([{ id: letters.body.data.deadLetters[0].id, replayed: true, error: null }]);
    expect(fine).toContain('poison-1');
    expect((await env.graphql(`{ deadLetters(consumer: "picky") { id } }`)).body.data.deadLetters).toEqual([]);
  });

  it('lists dead letters oldest first by id as a number, past id 9 (a page of them skips none)', async () => {
    // Twelve letters of a consumer no plugin serves (written as delivery writes them), so ids reach two digits.
    await env.server.core.db.query(
      `INSERT INTO rapport_dead_letter (consumer, outbox_id, kind, ref, profile_id, error, attempts)
       SELECT 'ordering', g, 'event', g::text, NULL, 'Error: test ' || g, 3 FROM generate_series(1, 12) g`,
    );
    const all = await env.graphql(`{ deadLetters(consumer: "ordering", first: 100) { id error } }`);
    const ids = all.body.data.deadLetters.map((l: { id: string }) => BigInt(l.id));
    expect(ids).toHaveLength(12);
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const firstFive = await env.graphql(`{ deadLetters(consumer: "ordering", first: 5) { id } }`);
    expect(firstFive.body.data.deadLetters.map((l: { id: string }) => l.id)).toEqual(all.body.data.deadLetters.slice(0, 5).map((l: { id: string }) => l.id));
    await env.server.core.db.query(`DELETE FROM rapport_dead_letter WHERE consumer = 'ordering'`);
  });

  it('a plugin installed later can backfill every event stored before it', async () => {
    const late: string[] = [];
    const backfill = definePlugin(() => ({
      name: 'late-backfill',
      delivery: {
        from: 'history' as const,
        kinds: ['event' as const],
        async handle(changes: Change[]) {
          for (const c of changes) if (c.kind === 'event') late.push(c.event.messageId);
        },
      },
    }));
    const onlyNew: string[] = [];
    const fresh = definePlugin(() => ({
      name: 'late-fresh',
      delivery: {
        kinds: ['event' as const],
        async handle(changes: Change[]) {
          for (const c of changes) if (c.kind === 'event') onlyNew.push(c.event.messageId);
        },
      },
    }));
    const other = await env.addServer({ plugins: [backfill(), fresh()], delivery: { pollMs: 100 } });
    const [{ n }] = await env.server.core.db.query<{ n: number }>('SELECT count(*)::int AS n FROM rapport_event');
    await until(() => late.length, (v) => v >= n);
    expect(late).toContain('ord-0');
    expect(late).toContain('held-1');
    expect(new Set(late).size).toBe(late.length);
    await other.post('/v1/track', { userId: 'after', event: 'New', messageId: 'after-install' });
    await until(() => onlyNew, (v) => v.includes('after-install'));
    expect(onlyNew).not.toContain('ord-0');
  });
});

describe('declarations that act', () => {
  it("a plugin's declared purposes exist once it starts; an admin's later edit wins over the declaration", async () => {
    const declaring = definePlugin(() => ({
      name: 'declaring',
      purposes: [{ name: 'loyalty-rewards', description: 'Points and rewards for purchases.', legalBasis: 'contract' }],
    }));
    const list = async (e: TestEnvironment) => (await e.graphql(`{ purposes { name description legalBasis } }`)).body.data.purposes as Array<{ name: string; description: string }>;
    expect((await list(env)).find((p) => p.name === 'loyalty-rewards')).toBeUndefined();
    const first = await env.addServer({ plugins: [declaring()] });
    expect((await list(first)).find((p) => p.name === 'loyalty-rewards')).toEqual({ name: 'loyalty-rewards', description: 'Points and rewards for purchases.', legalBasis: 'contract' });
    const edit = await env.graphql(`mutation { definePurpose(input: { name: "loyalty-rewards", description: "Our loyalty programme.", legalBasis: "consent" }) { name } }`);
    expect(edit.body.errors).toBeUndefined();
    const again = await env.addServer({ plugins: [declaring()] });
    expect((await list(again)).find((p) => p.name === 'loyalty-rewards')).toMatchObject({ description: 'Our loyalty programme.', legalBasis: 'consent' });
  });

  it('a declared purpose that is not valid stops the start with an error naming the plugin', async () => {
    const bad = definePlugin(() => ({ name: 'bad-purpose', purposes: [{ name: 'Bad Name', description: 'x', legalBasis: 'consent' }] }));
    await expect(env.addServer({ plugins: [bad()] })).rejects.toThrow('plugin bad-purpose declares purpose "Bad Name": name: "Bad Name" is not a purpose name');
  });

  it('runs on the transport the config names (the seam a broker would use); plugins do not change', async () => {
    const claims: string[] = [];
    const seenHere: string[] = [];
    const watcher = definePlugin(() => ({
      name: 'watcher',
      delivery: { kinds: ['event'], handle: async (changes: Change[]) => void seenHere.push(...changes.flatMap((c) => (c.kind === 'event' ? [c.event.messageId] : []))) },
    }));
    const other = await createTestEnvironment({
      plugins: [watcher()],
      delivery: {
        pollMs: 100,
        // A transport that records what delivery asks of it, over the PostgreSQL one.
        transport: (db) => {
          const pg = new PostgresDeliveryTransport(db);
          return Object.assign(Object.create(pg), {
            claim: (consumer: string, owner: string, leaseMs: number, limit: number) => {
              claims.push(consumer);
              return pg.claim(consumer, owner, leaseMs, limit);
            },
          });
        },
      },
    });
    try {
      await other.post('/v1/track', { userId: 'seam', event: 'Through the seam', messageId: 'seam-1' });
      await other.settle();
      expect(seenHere).toEqual(['seam-1']);
      expect(claims).toContain('watcher');
    } finally {
      await other.close();
    }
  });

  it('a batch that outlasts the lease is not taken by another server meanwhile: the lease is renewed', async () => {
    let active = 0;
    let maxActive = 0;
    const got: string[] = [];
    const slowOnce = definePlugin(() => ({
      name: 'slow-once',
      delivery: {
        kinds: ['event'],
        handle: async (changes: Change[]) => {
          active++;
          maxActive = Math.max(maxActive, active);
          if (!got.length) await new Promise((r) => setTimeout(r, 4000)); // over three leases long
          for (const c of changes) if (c.kind === 'event') got.push(c.event.messageId);
          active--;
        },
      },
    }));
    const config = { plugins: [slowOnce()], delivery: { pollMs: 50, leaseMs: 1200 } }; // renewed every 400 ms
    const a = await createTestEnvironment(config);
    try {
      await a.addServer(config); // a second server polling the same consumer every 50 ms
      await a.post('/v1/track', { userId: 'long', event: 'Long batch', messageId: 'long-1' });
      await a.settle(15_000);
      expect(got).toEqual(['long-1']);
      expect(maxActive).toBe(1);
    } finally {
      await a.close();
    }
  });
});
