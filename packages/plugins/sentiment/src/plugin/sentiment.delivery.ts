/**
 * The delivery handler: texts of the configured events are stored once per event id and analysed; merges move a
 * person's texts and cases to the survivor; a refused analysis purpose removes the analysis of their texts.
 */
import type { Change, PluginContext } from '@rapport/core';
import { analysePending, countSkip, storeText } from './sentiment.store';
import { DEFAULT_TOPIC, readPath, type ResolvedSentimentOptions } from './options';

/** Why an event of a configured name gave no text. */
export type SkipReason = 'missing-property' | 'not-a-string' | 'blank';

/** The text of an event for a source, or why there is none. */
export function textOf(value: unknown): { text: string } | { skip: SkipReason } {
  if (value === undefined || value === null) return { skip: 'missing-property' };
  if (typeof value !== 'string') return { skip: 'not-a-string' };
  if (value.trim().length === 0) return { skip: 'blank' };
  return { text: value };
}

/** Builds the handler for the resolved options. */
export function createDeliveryHandler(opts: ResolvedSentimentOptions) {
  const byEvent = new Map(opts.sources.map((s) => [s.event, s]));
  return async function handle(changes: Change[], ctx: PluginContext): Promise<void> {
    const keys: string[] = [];
    const skipped = new Map<string, number>();
    await ctx.db.transaction(async (tx) => {
      keys.length = 0;
      skipped.clear();
      // Held against erasure: texts of a person erased since the batch was loaded are not stored (an erasure that
      // starts now waits for this transaction, then removes them).
      const present = await ctx.profiles.hold(tx, changes.flatMap((c) => (c.profileId ? [c.profileId] : [])));
      for (const c of changes) {
        if (c.profileId !== null && !present.has(c.profileId)) continue;
        if (c.kind === 'event') {
          const e = c.event;
          const source = e.type === 'track' && e.name ? byEvent.get(e.name) : undefined;
          if (!source) continue;
          const t = textOf(readPath(e, source.path));
          if ('skip' in t) {
            skipped.set(t.skip, (skipped.get(t.skip) ?? 0) + 1);
            continue;
          }
          const topic = readPath(e, opts.topicPath);
          const sourceKey = `event:${e.id}`;
          keys.push(sourceKey);
          await storeText(tx, {
            sourceKey, profileId: e.profileId, channel: source.channel,
            topic: typeof topic === 'string' && topic.trim() ? topic.trim() : DEFAULT_TOPIC, body: t.text,
          });
        } else if (c.kind === 'merge') {
          await tx.query('UPDATE sentiment_text SET profile_id = $1 WHERE profile_id = $2', [c.merge.survivorId, c.merge.mergedId]);
          // The merged person's open cases move unless the survivor has an open case on the same topic (then they close).
          await tx.query(
            `UPDATE sentiment_handoff h SET status = 'resolved', resolved_at = now(), note = coalesce(note, 'closed by merge')
              WHERE h.profile_id = $2 AND h.status <> 'resolved' AND EXISTS (
                SELECT 1 FROM sentiment_handoff s WHERE s.profile_id = $1 AND s.topic = h.topic AND s.status <> 'resolved')`,
            [c.merge.survivorId, c.merge.mergedId],
          );
          await tx.query('UPDATE sentiment_handoff SET profile_id = $1 WHERE profile_id = $2', [c.merge.survivorId, c.merge.mergedId]);
        } else if (c.kind === 'consent' && c.consent.granted === false && opts.purposes.includes(c.consent.purpose)) {
          // Refused: the texts stay stored, their analysis goes.
          await tx.query(
            `UPDATE sentiment_text SET status = 'not-consented', polarity = NULL, label = NULL, confidence = NULL,
                    explanation = NULL, model = NULL WHERE profile_id = $1 AND status <> 'pending'`,
            [c.consent.profileId],
          );
        }
      }
      for (const [reason, n] of skipped) await countSkip(tx, reason, n);
    });
    for (const [reason, n] of skipped) ctx.metrics.counter(`texts_skipped_${reason.replace(/-/g, '_')}_total`, `Event texts skipped: ${reason}.`).inc(n);
    if (keys.length > 0) {
      const ids = await ctx.db.query<{ id: string }>("SELECT id FROM sentiment_text WHERE source_key = ANY($1::text[]) AND status = 'pending'", [keys]);
      if (ids.length > 0) await analysePending(ctx, opts, ids.map((r) => String(r.id)));
    }
  };
}
