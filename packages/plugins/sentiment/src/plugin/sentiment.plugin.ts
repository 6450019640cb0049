import { definePlugin, Permission, type PluginContext } from '@rapport/core';
import DataLoader from 'dataloader';
import { CreateSentiment1764300000000 } from './1764300000000-create-sentiment';
import { HANDOFF_PERMISSION, SUBMIT_PERMISSION, resolveOptions, type SentimentOptions } from './options';
import { createDeliveryHandler } from './sentiment.delivery';
import { ROLLUP_WINDOW, sentimentLoaders } from './sentiment.loaders';
import { HandoffTextsResolver, ProfileSentimentResolver, SentimentResolver, SentimentRollupResolver } from './sentiment.resolver';
import { analysePending, TEXT_COLUMNS, toTextRow, type TextRow } from './sentiment.store';

/** How often pending texts are swept up (texts whose fast path was lost: a crash after they were stored). */
const SWEEP_EVERY_MS = 30_000;

/**
 * Sentiment of what customers write: texts from configured events (once per event id, by durable delivery) and
 * from `submitFeedback`, scored with an explanation by the shipped model, rolled up per profile
 * (`Profile.sentiment`), listed (`Profile.feedback`), and handed to a person when a rule fires (`handoffQueue`).
 * Analysis serves the configured purposes (default `support`): a person who does not allow them has their texts
 * stored, not analysed. See docs/sentiment.md.
 */
export const sentimentPlugin = definePlugin((options: SentimentOptions) => {
  const opts = resolveOptions(options);
  const readPurposes = [...new Set([...opts.purposes, 'analytics'])];
  let pluginCtx: PluginContext | undefined;
  const inFlight = new Set<Promise<unknown>>();
  const analyseSoon = (ids: string[]) => {
    const ctx = pluginCtx;
    if (!ctx || ids.length === 0) return;
    // After the response is on its way; the sweep catches what a crash loses.
    const p = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => analysePending(ctx, opts, ids))
      .catch((err: unknown) => ctx.logger.warn({ err: (err as Error).message, texts: ids.length }, 'sentiment: analysis deferred to the sweep'))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  return {
    name: 'sentiment',
    version: '0.1.0',
    compatibility: '^0.1.0',
    migrations: [CreateSentiment1764300000000],
    resolvers: [SentimentResolver, ProfileSentimentResolver, SentimentRollupResolver, HandoffTextsResolver],
    purposes: [
      { name: 'support', description: 'Help the person: read what they write and hand them to a person when needed.', legalBasis: 'legitimate_interest' },
      { name: 'analytics', description: 'Measure and improve the product from aggregate behaviour.', legalBasis: 'legitimate_interest' },
    ],
    fields: [
      { type: 'Profile', field: 'sentiment', purposes: readPurposes },
      { type: 'Profile', field: 'feedback', purposes: readPurposes },
      // The text itself is personal data: a role that may read scores may not read texts.
      { type: 'SentimentText', field: 'text', purposes: [], roles: opts.textRoles, pii: true },
    ],
    permissions: {
      admin: [SUBMIT_PERMISSION, HANDOFF_PERMISSION],
      support: [Permission.ProfilesRead, HANDOFF_PERMISSION, SUBMIT_PERMISSION],
      app: [SUBMIT_PERMISSION],
      ingest: [SUBMIT_PERMISSION],
    },

    delivery: { kinds: ['event', 'merge', 'consent'], handle: createDeliveryHandler(opts) },

    async onInit(ctx) {
      pluginCtx = ctx;
      await ctx.jobs.work('sweep', async () => void (await analysePending(ctx, opts)));
      await ctx.jobs.schedule('sweep', { every: SWEEP_EVERY_MS });
    },
    async onShutdown() {
      await Promise.allSettled([...inFlight]);
    },

    loaders: (ctx: PluginContext) =>
      sentimentLoaders.provide({
        opts,
        plugin: ctx,
        analyseSoon,
        scored: new DataLoader<string, TextRow[]>(async (ids) => {
          const rows = await ctx.db.query<Parameters<typeof toTextRow>[0]>(
            `SELECT ${TEXT_COLUMNS} FROM (
               SELECT t.*, row_number() OVER (PARTITION BY profile_id ORDER BY id DESC) AS rn
                 FROM sentiment_text t WHERE profile_id = ANY($1::uuid[]) AND status = 'scored') x
              WHERE rn <= $2 ORDER BY profile_id, id DESC`,
            [ids, ROLLUP_WINDOW],
          );
          const by = new Map<string, TextRow[]>();
          for (const r of rows.map(toTextRow)) by.set(r.profileId, [...(by.get(r.profileId) ?? []), r]);
          return ids.map((id) => by.get(id) ?? []);
        }),
        texts: new DataLoader<string, TextRow | null>(async (ids) => {
          const rows = await ctx.db.query<Parameters<typeof toTextRow>[0]>(`SELECT ${TEXT_COLUMNS} FROM sentiment_text WHERE id = ANY($1::bigint[])`, [ids]);
          const by = new Map(rows.map((r) => [String(r.id), toTextRow(r)]));
          return ids.map((id) => by.get(id) ?? null);
        }),
      }),

    // Data subject requests: the texts and their scores, and the cases.
    async onExport(profileIds, ctx) {
      const texts = await ctx.db.query(
        `SELECT id, channel, topic, body AS text, truncated, status, polarity, label, confidence, model, language, explanation, created_at, analysed_at
           FROM sentiment_text WHERE profile_id = ANY($1::uuid[]) ORDER BY id`,
        [profileIds],
      );
      const handoffs = await ctx.db.query(
        'SELECT id, topic, status, reasons, text_ids, assignee, note, opened_at, resolved_at FROM sentiment_handoff WHERE profile_id = ANY($1::uuid[]) ORDER BY id',
        [profileIds],
      );
      return { texts, handoffs };
    },
    async onProfileDeleted(profileIds, ctx) {
      await ctx.tx.query('DELETE FROM sentiment_handoff WHERE profile_id = ANY($1::uuid[])', [profileIds]);
      await ctx.tx.query('DELETE FROM sentiment_text WHERE profile_id = ANY($1::uuid[])', [profileIds]);
    },
  };
});
