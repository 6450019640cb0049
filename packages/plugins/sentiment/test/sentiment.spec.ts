import type { Change, PluginContext } from '@rapport/core';
import { createPluginTestkit, type PluginTestkit, type TestkitCaller } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sentimentPlugin } from '../src';
import { resolveOptions } from '../src/plugin/options';
import { analysePending } from '../src/plugin/sentiment.store';

// Keep what delivery handed the plugin, to hand it over again (at-least-once delivery).
const plugin = sentimentPlugin({ handoff: { negativeStreak: 3, cooldownSeconds: 3600 } });
const delivered: Change[] = [];
let pluginCtx: PluginContext;
const handle = plugin.delivery!.handle;
plugin.delivery!.handle = async (changes, ctx) => {
  await handle(changes, ctx);
  delivered.push(...changes);
  pluginCtx = ctx;
};

let kit: PluginTestkit;
beforeAll(async () => {
  kit = await createPluginTestkit([plugin]);
});
afterAll(async () => kit?.close());

const support: TestkitCaller = { roles: ['support'], purposes: ['support'] };
const analyst: TestkitCaller = { roles: ['app'], purposes: ['analytics'] };
const track = (userId: string, event: string, properties: Record<string, unknown>, context: Record<string, unknown> = {}) => ({
  type: 'track', userId, event, properties, context,
});

async function idOf(userId: string): Promise<string> {
  const r = await kit.graphql(`query($v: String!) { profileByIdentity(type: "user_id", value: $v) { id } }`, { v: userId });
  return r.data.profileByIdentity.id;
}

const FEEDBACK = `query($v: String!, $first: Int, $after: String) { profileByIdentity(type: "user_id", value: $v) {
  feedback(first: $first, after: $after) { nodes { id text status label polarity channel topic model truncated explanation { phrase weight negated } } pageInfo { hasNextPage endCursor } } } }`;
const SENTIMENT = `query($v: String!) { profileByIdentity(type: "user_id", value: $v) {
  sentiment { score trend negativeStreak texts byTopic { key score count } byChannel { key score count } last(n: 2) { label topic } } } }`;

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('texts from events', () => {
  it('analyses each configured event text once, off the request path, with its explanation', async () => {
    const r = await kit.ingest([
      track('ann', 'Review Submitted', { text: 'Absolutely love it, works great!', topic: 'product' }),
      track('ann', 'Support Message Sent', { body: 'The app is not working and nobody answers.', topic: 'billing' }),
      track('ann', 'Survey Answered', { comment: 'The food was not good.' }),
      track('ann', 'Order Completed', { text: 'not a text source' }),
    ]);
    expect(r.rejected).toEqual([]);
    await kit.settle();
    const res = await kit.graphql(FEEDBACK, { v: 'ann' }, support);
    expect(res.errors).toBeUndefined();
    const nodes = res.data.profileByIdentity.feedback.nodes;
    expect(nodes.map((n: { channel: string }) => n.channel)).toEqual(['survey', 'support', 'review']);
    expect(nodes.map((n: { label: string }) => n.label)).toEqual(['negative', 'negative', 'positive']);
    expect(nodes.every((n: { status: string; model: string }) => n.status === 'scored' && n.model === 'rapport-lr-blend-v1')).toBe(true);
    expect(nodes[0].explanation).toContainEqual(expect.objectContaining({ phrase: 'not good', negated: true }));
    expect(nodes[2].topic).toBe('product');
    expect(nodes[0].topic).toBe('general');
  });

  it('analyses nothing twice when the same changes are delivered again', async () => {
    await handle(delivered, pluginCtx);
    const res = await kit.graphql(FEEDBACK, { v: 'ann' }, support);
    expect(res.data.profileByIdentity.feedback.nodes).toHaveLength(3);
  });

  it('skips an event of a configured name without the text, and counts the reason', async () => {
    await kit.ingest([
      track('bob', 'Review Submitted', { rating: 5 }),
      track('bob', 'Review Submitted', { text: 42 }),
      track('bob', 'Survey Answered', { comment: '   ' }),
    ]);
    await kit.settle();
    const res = await kit.graphql('{ sentimentSkipped { reason count } }');
    expect(res.errors).toBeUndefined();
    expect(res.data.sentimentSkipped).toEqual(
      expect.arrayContaining([{ reason: 'missing-property', count: 1 }, { reason: 'not-a-string', count: 1 }, { reason: 'blank', count: 1 }]),
    );
    const fb = await kit.graphql(FEEDBACK, { v: 'bob' }, support);
    expect(fb.data.profileByIdentity.feedback.nodes).toEqual([]);
  });
});

describe('the rollup', () => {
  it('Profile.sentiment: score, trend, streak, by topic and channel, last(n)', async () => {
    const res = await kit.graphql(SENTIMENT, { v: 'ann' }, analyst);
    expect(res.errors).toBeUndefined();
    const s = res.data.profileByIdentity.sentiment;
    expect(s.texts).toBe(3);
    expect(s.negativeStreak).toBe(2);
    expect(s.trend).toBeLessThan(0); // the latest text is more negative than the others
    expect(s.byChannel.map((b: { key: string }) => b.key).sort()).toEqual(['review', 'support', 'survey']);
    expect(s.byTopic).toContainEqual(expect.objectContaining({ key: 'billing', count: 1 }));
    expect(s.last).toEqual([{ label: 'negative', topic: 'general' }, { label: 'negative', topic: 'billing' }]);
    expect(s.score).toBeGreaterThan(-1);
    expect(s.score).toBeLessThan(0);
  });

  it('submitFeedback stores the text and the rollup includes it once analysed', async () => {
    const id = await idOf('ann');
    const r = await kit.graphql(
      `mutation($id: ID!) { submitFeedback(profileId: $id, text: "Thanks, the new version is fantastic!", channel: "chat", topic: "product") { id status } }`,
      { id },
      support,
    );
    expect(r.errors).toBeUndefined();
    expect(['pending', 'scored']).toContain(r.data.submitFeedback.status);
    const s = await until(
      () => kit.graphql(SENTIMENT, { v: 'ann' }, analyst),
      (x) => x.data?.profileByIdentity.sentiment.texts === 4,
    );
    expect(s.data.profileByIdentity.sentiment.negativeStreak).toBe(0);
    expect(s.data.profileByIdentity.sentiment.byChannel).toContainEqual({ key: 'chat', score: expect.any(Number), count: 1 });
  });

  it('submitFeedback by identity, and its errors name the field', async () => {
    const ok = await kit.graphql(`mutation { submitFeedback(identity: { type: "user_id", value: "ann" }, text: "meh") { profileId } }`);
    expect(ok.errors).toBeUndefined();
    expect(ok.data.submitFeedback.profileId).toBe(await idOf('ann'));
    const empty = await kit.graphql(`mutation { submitFeedback(identity: { type: "user_id", value: "ann" }, text: "  ") { id } }`);
    expect(empty.errors?.[0].message).toMatch(/text/);
    const both = await kit.graphql(`mutation { submitFeedback(text: "hi") { id } }`);
    expect(both.errors?.[0].message).toMatch(/profileId/);
    const huge = await kit.graphql(`mutation($t: String!) { submitFeedback(identity: { type: "user_id", value: "ann" }, text: $t) { id } }`, { t: 'x'.repeat(1_000_001) });
    expect(huge.errors?.[0].message).toMatch(/at most 1000000 characters/);
  });

  it('analyzeText answers without storing, and says what it did with odd input', async () => {
    const q = `query($t: String!) { analyzeText(text: $t) { polarity label confidence model language truncated reason explanation { phrase weight negated intensified } } }`;
    const v = await kit.graphql(`query { analyzeText(text: "The food was not good.", model: "vader") { model label explanation { phrase negated } } }`, {}, analyst);
    expect(v.data.analyzeText).toEqual({ model: 'vader-sentiment-1.1.3', label: 'negative', explanation: [{ phrase: 'not good', negated: true }] });
    const bad = await kit.graphql(`query { analyzeText(text: "x", model: "bert") { label } }`, {}, analyst);
    expect(bad.errors?.[0].message).toMatch(/model/);
    const a = await kit.graphql(q, { t: 'The staff was extremely rude.' }, analyst);
    expect(a.errors).toBeUndefined();
    expect(a.data.analyzeText.label).toBe('negative');
    expect(a.data.analyzeText.explanation[0]).toMatchObject({ phrase: 'extremely rude', intensified: true });
    const fr = await kit.graphql(q, { t: 'Je veux parler à quelqu’un, le produit est arrivé cassé.' }, analyst);
    expect(fr.data.analyzeText).toMatchObject({ label: 'unsupported', reason: 'not-english', language: 'fr' });
    const empty = await kit.graphql(q, { t: '' }, analyst);
    expect(empty.data.analyzeText).toMatchObject({ label: 'neutral', reason: 'empty' });
    const big = await kit.graphql(q, { t: 'Awful. '.repeat(100_000) }, analyst);
    expect(big.data.analyzeText).toMatchObject({ label: 'negative', truncated: true });
    const before = await kit.graphql(FEEDBACK, { v: 'ann' }, support);
    expect(before.data.profileByIdentity.feedback.nodes).toHaveLength(5);
  });
});

describe('the sweep', () => {
  it('analyses a text left pending (as a crash between storing and analysing leaves it), once', async () => {
    const id = await idOf('ann');
    await pluginCtx.db.query(
      "INSERT INTO sentiment_text (source_key, profile_id, channel, topic, body) VALUES ('event:crashed-1', $1, 'review', 'general', 'Awful, broke in a day.')",
      [id],
    );
    // What the 'sweep' job runs every 30 s.
    expect(await analysePending(pluginCtx, resolveOptions({}))).toBe(1);
    expect(await analysePending(pluginCtx, resolveOptions({}))).toBe(0);
    const [row] = await pluginCtx.db.query<{ status: string; label: string }>("SELECT status, label FROM sentiment_text WHERE source_key = 'event:crashed-1'");
    expect(row).toEqual({ status: 'scored', label: 'negative' });
    await pluginCtx.db.query("DELETE FROM sentiment_text WHERE source_key = 'event:crashed-1'");
  });
});

describe('merges', () => {
  it('moves texts to the survivor of a merge', async () => {
    await kit.ingest([{ type: 'track', anonymousId: 'guest-9', event: 'Review Submitted', properties: { text: 'Lovely staff, great food.' } }]);
    await kit.settle(); // stored on the guest's profile before the merge
    await kit.ingest([track('fay', 'Review Submitted', { text: 'Terrible wait times.' })]);
    await kit.settle(); // two people, one text each
    await kit.ingest([{ type: 'alias', userId: 'fay', previousId: 'guest-9' }]);
    await kit.settle();
    const res = await kit.graphql(FEEDBACK, { v: 'fay' }, support);
    expect(res.errors).toBeUndefined();
    expect(res.data.profileByIdentity.feedback.nodes.map((n: { text: string }) => n.text).sort()).toEqual(['Lovely staff, great food.', 'Terrible wait times.']);
  });
});

describe('human hand-off', () => {
  const QUEUE = `query($s: String!) { handoffQueue(status: $s) { nodes { id profileId topic status reasons assignee note texts { text label explanation { phrase } } } } }`;

  it('opens one case after three negative texts in a row on a topic (none below the threshold), with texts and explanations', async () => {
    const mild = ['The delivery is late again.', 'It arrived late.', 'Still waiting for the parcel.', 'Nothing arrived yet.'];
    await kit.ingest(mild.slice(0, 2).map((body) => track('cat', 'Support Message Sent', { body, topic: 'delivery' })));
    await kit.settle();
    const none = await kit.graphql(QUEUE, { s: 'open' }, support);
    expect(none.data.handoffQueue.nodes.filter((c: { topic: string }) => c.topic === 'delivery')).toEqual([]);
    await kit.ingest(mild.slice(2).map((body) => track('cat', 'Support Message Sent', { body, topic: 'delivery' })));
    await kit.settle();
    const res = await kit.graphql(QUEUE, { s: 'open' }, support);
    expect(res.errors).toBeUndefined();
    const cases = res.data.handoffQueue.nodes.filter((c: { topic: string }) => c.topic === 'delivery');
    expect(cases).toHaveLength(1); // dedupe: the fourth negative joins the open case
    expect(cases[0].reasons).toEqual(['streak']);
    expect(cases[0].texts.map((t: { text: string }) => t.text)).toEqual(mild.slice(2));
    expect(cases[0].texts[0].explanation.length).toBeGreaterThan(0);
  });

  it('opens a case for one text at or below the threshold', async () => {
    await kit.ingest([track('eve', 'Support Message Sent', { body: 'This is terrible, awful service.', topic: 'billing' })]);
    await kit.settle();
    const res = await kit.graphql(QUEUE, { s: 'open' }, support);
    const c = res.data.handoffQueue.nodes.find((x: { topic: string; profileId: string }) => x.topic === 'billing' && x.texts[0].text.startsWith('This is terrible'));
    expect(c.reasons).toEqual(['threshold']);
  });

  it('opens a case when someone asks for a person', async () => {
    const id = await idOf('ann');
    await kit.graphql(`mutation($id: ID!) { submitFeedback(profileId: $id, text: "Can I please talk to a human about my order?", topic: "orders") { id } }`, { id });
    const res = await until(
      () => kit.graphql(QUEUE, { s: 'open' }, support),
      (r) => r.data?.handoffQueue.nodes.some((c: { topic: string }) => c.topic === 'orders'),
    );
    const c = res.data.handoffQueue.nodes.find((x: { topic: string }) => x.topic === 'orders');
    expect(c.reasons).toContain('request');
    expect(c.profileId).toBe(id);
  });

  it('assign, resolve with a note, then the cooldown keeps the next negative from reopening', async () => {
    const open = await kit.graphql(QUEUE, { s: 'open' }, support);
    const c = open.data.handoffQueue.nodes.find((x: { topic: string }) => x.topic === 'delivery');
    const a = await kit.graphql(`mutation($id: ID!) { assignHandoff(id: $id, assignee: "dana") { status assignee } }`, { id: c.id }, support);
    expect(a.data.assignHandoff).toEqual({ status: 'assigned', assignee: 'dana' });
    const r = await kit.graphql(`mutation($id: ID!) { resolveHandoff(id: $id, note: "Refunded the delivery.") { status note } }`, { id: c.id }, support);
    expect(r.data.resolveHandoff).toEqual({ status: 'resolved', note: 'Refunded the delivery.' });
    const again = await kit.graphql(`mutation($id: ID!) { resolveHandoff(id: $id, note: "x") { status } }`, { id: c.id }, support);
    expect(again.errors?.[0].message).toMatch(/already resolved/);
    await kit.ingest([track('cat', 'Support Message Sent', { body: 'This is terrible, awful service.', topic: 'delivery' })]);
    await kit.settle();
    const after = await kit.graphql(QUEUE, { s: 'active' }, support);
    expect(after.data.handoffQueue.nodes.filter((x: { topic: string; profileId: string }) => x.topic === 'delivery')).toEqual([]);
    const skipped = await kit.graphql('{ sentimentSkipped { reason count } }');
    expect(skipped.data.sentimentSkipped).toContainEqual({ reason: 'handoff-cooldown', count: 1 });
  });

  it('the queue is for the support role: an app key is refused', async () => {
    const res = await kit.graphql(QUEUE, { s: 'open' }, analyst);
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });
});

describe('consent and governance', () => {
  it('a person who refused support has texts stored but not analysed, and no rollup', async () => {
    await kit.ingest([
      track('dan', 'Review Submitted', { text: 'Horrible, I hate this.' }, { consent: { categoryPreferences: { support: false } } }),
    ]);
    await kit.settle();
    // Read for analytics (the person refused support, so a request acting for support is denied the field).
    const fb = await kit.graphql(FEEDBACK, { v: 'dan' }, { roles: ['admin'], purposes: ['analytics'] });
    expect(fb.errors).toBeUndefined();
    const nodes = fb.data.profileByIdentity.feedback.nodes;
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({ status: 'not-consented', label: null, polarity: null });
    const s = await kit.graphql(SENTIMENT, { v: 'dan' }, analyst);
    expect(s.errors).toBeUndefined();
    expect(s.data.profileByIdentity.sentiment).toBeNull();
    const denied = await kit.graphql(FEEDBACK, { v: 'dan' }, support);
    expect(denied.errors?.[0].extensions?.code).toBe('CONSENT_REQUIRED');
  });

  it('a person who refuses support later loses the analysis of their stored texts, and their rollup', async () => {
    await kit.ingest([track('gil', 'Review Submitted', { text: 'Great value, love it.' })]);
    await kit.settle();
    const before = await kit.graphql(SENTIMENT, { v: 'gil' }, analyst);
    expect(before.data.profileByIdentity.sentiment.texts).toBe(1);
    const id = await idOf('gil');
    const c = await kit.graphql(`mutation($id: ID!) { setConsent(input: { profileId: $id, purpose: "support", granted: false }) { granted } }`, { id });
    expect(c.errors).toBeUndefined();
    await kit.settle();
    const after = await kit.graphql(SENTIMENT, { v: 'gil' }, analyst);
    expect(after.data.profileByIdentity.sentiment).toBeNull();
    const fb = await kit.graphql(FEEDBACK, { v: 'gil' }, { roles: ['admin'], purposes: ['analytics'] });
    expect(fb.data.profileByIdentity.feedback.nodes).toMatchObject([{ text: 'Great value, love it.', status: 'not-consented', label: null, explanation: null }]);
  });

  it('a role that may read the score may not read the text', async () => {
    const res = await kit.graphql(FEEDBACK, { v: 'ann' }, analyst);
    const nodes = res.data.profileByIdentity.feedback.nodes;
    expect(nodes[0].label).toEqual(expect.any(String));
    expect(nodes[0].text).toBeNull();
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN_FIELD');
    const sup = await kit.graphql(FEEDBACK, { v: 'ann' }, support);
    expect(sup.errors).toBeUndefined();
    expect(sup.data.profileByIdentity.feedback.nodes[0].text).toEqual(expect.any(String));
  });

  it('exportProfile includes texts and scores; deleteProfile removes them', async () => {
    const id = await idOf('cat');
    const ex = await kit.graphql(`mutation($id: ID!) { exportProfile(id: $id) }`, { id });
    expect(ex.errors).toBeUndefined();
    const mine = ex.data.exportProfile.plugins.sentiment;
    expect(mine.texts.length).toBe(5);
    expect(mine.texts[0]).toMatchObject({ text: 'The delivery is late again.', status: 'scored', model: 'rapport-lr-blend-v1' });
    expect(mine.handoffs.length).toBe(1);
    const count = async () =>
      Number((await pluginCtx.db.query<{ n: string }>('SELECT count(*) AS n FROM sentiment_text WHERE profile_id = $1', [id]))[0]!.n);
    expect(await count()).toBe(5);
    const del = await kit.graphql(`mutation($id: ID!) { deleteProfile(id: $id) { profileIds } }`, { id });
    expect(del.errors).toBeUndefined();
    expect(await count()).toBe(0);
    const queue = await kit.graphql(`{ handoffQueue(status: "resolved") { nodes { profileId } } }`);
    expect(queue.data.handoffQueue.nodes.map((n: { profileId: string }) => n.profileId)).not.toContain(id);
    const ex2 = await kit.graphql(`mutation { submitFeedback(identity: { type: "user_id", value: "cat" }, text: "hello") { id } }`);
    expect(ex2.errors?.[0].message).toMatch(/not found|profile/i);
  });
});
