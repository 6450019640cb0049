/**
 * The plugin's SQL: storing texts once per source key, analysing pending ones, the hand-off rules.
 */
import type { PluginContext, SqlRunner } from '@rapport/core';
import { analyzeText, type ExplanationTerm } from '../models/analyzer';
import { MAX_STORED_CHARS, type ResolvedSentimentOptions } from './options';

/** A row of `sentiment_text` as the resolvers use it. */
export interface TextRow {
  id: string;
  profileId: string;
  channel: string;
  topic: string;
  body: string;
  truncated: boolean;
  status: TextStatus;
  polarity: number | null;
  label: string | null;
  confidence: number | null;
  model: string | null;
  language: string | null;
  explanation: ExplanationTerm[] | null;
  createdAt: Date;
  analysedAt: Date | null;
}

/**
 * `pending` (stored, not analysed yet), `scored`, `unsupported` (not English, or binary), `empty` (no words to
 * score), `not-consented` (the person does not allow the analysis purposes: stored, never analysed).
 */
export type TextStatus = 'pending' | 'scored' | 'unsupported' | 'empty' | 'not-consented';

interface RawTextRow {
  id: string;
  profile_id: string;
  channel: string;
  topic: string;
  body: string;
  truncated: boolean;
  status: TextStatus;
  polarity: number | null;
  label: string | null;
  confidence: number | null;
  model: string | null;
  language: string | null;
  explanation: ExplanationTerm[] | null;
  created_at: Date;
  analysed_at: Date | null;
}

export const TEXT_COLUMNS =
  'id, profile_id, channel, topic, body, truncated, status, polarity, label, confidence, model, language, explanation, created_at, analysed_at';

/** Maps a database row. */
export function toTextRow(r: RawTextRow): TextRow {
  return {
    id: String(r.id), profileId: r.profile_id, channel: r.channel, topic: r.topic, body: r.body, truncated: r.truncated,
    status: r.status, polarity: r.polarity, label: r.label, confidence: r.confidence, model: r.model, language: r.language,
    explanation: r.explanation, createdAt: r.created_at, analysedAt: r.analysed_at,
  };
}

/** Stores a text under its source key (`event:<id>` or `feedback:<uuid>`); returns its id, or null if it was there. */
export async function storeText(
  tx: SqlRunner,
  t: { sourceKey: string; profileId: string; channel: string; topic: string; body: string },
): Promise<string | null> {
  const truncated = t.body.length > MAX_STORED_CHARS;
  const rows = await tx.query<{ id: string }>(
    `INSERT INTO sentiment_text (source_key, profile_id, channel, topic, body, truncated)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source_key) DO NOTHING RETURNING id`,
    [t.sourceKey, t.profileId, t.channel.slice(0, 200), t.topic.slice(0, 200), truncated ? t.body.slice(0, MAX_STORED_CHARS) : t.body, truncated],
  );
  return rows[0] ? String(rows[0].id) : null;
}

/** Adds to the count of skipped event texts for a reason. */
export async function countSkip(tx: SqlRunner, reason: string, n = 1): Promise<void> {
  await tx.query(
    'INSERT INTO sentiment_skip (reason, count) VALUES ($1, $2) ON CONFLICT (reason) DO UPDATE SET count = sentiment_skip.count + EXCLUDED.count',
    [reason, n],
  );
}

/**
 * Analyses pending texts (those of `ids`, or any when `ids` is omitted), each exactly once: rows are locked
 * (`SKIP LOCKED`) and moved out of `pending` in the same transaction. A person who does not allow every
 * analysis purpose gets `not-consented`. Then the hand-off rules run for the analysed texts.
 */
export async function analysePending(ctx: PluginContext, opts: ResolvedSentimentOptions, ids?: readonly string[]): Promise<number> {
  // Consent is read before the transaction: it is one statement for every profile of the batch.
  const pending = await ctx.db.query<{ id: string; profile_id: string }>(
    ids
      ? "SELECT id, profile_id FROM sentiment_text WHERE id = ANY($1::bigint[]) AND status = 'pending'"
      : "SELECT id, profile_id FROM sentiment_text WHERE status = 'pending' ORDER BY id LIMIT 500",
    ids ? [ids] : [],
  );
  if (pending.length === 0) return 0;
  const profileIds = [...new Set(pending.map((p) => p.profile_id))];
  const allowedBy = await Promise.all(opts.purposes.map((p) => ctx.consent.allows(profileIds, p)));
  const allowed = (id: string) => allowedBy.every((m) => m.get(id) === true);
  return ctx.db.transaction(async (tx) => {
    // Held against erasure: an erasure under way has committed (its texts are gone), or waits for this transaction
    // and then removes the cases it opens.
    await ctx.profiles.hold(tx, profileIds);
    const rows = (
      await tx.query<RawTextRow>(
        `SELECT ${TEXT_COLUMNS} FROM sentiment_text WHERE id = ANY($1::bigint[]) AND status = 'pending' ORDER BY id FOR UPDATE SKIP LOCKED`,
        [pending.map((p) => p.id)],
      )
    ).map(toTextRow);
    for (const row of rows) {
      // Moved by a merge since consent was read: leave it pending for the sweep.
      if (!allowedBy.every((m) => m.has(row.profileId))) continue;
      if (!allowed(row.profileId)) {
        await tx.query("UPDATE sentiment_text SET status = 'not-consented', analysed_at = now() WHERE id = $1", [row.id]);
        continue;
      }
      const r = analyzeText(row.body);
      const status: TextStatus = r.label === 'unsupported' ? 'unsupported' : r.reason === 'empty' || r.reason === 'no-words' ? 'empty' : 'scored';
      await tx.query(
        `UPDATE sentiment_text SET status = $2, polarity = $3, label = $4, confidence = $5, model = $6, language = $7,
                explanation = $8::jsonb, truncated = truncated OR $9, analysed_at = now() WHERE id = $1`,
        [row.id, status, r.polarity, r.label, r.confidence, r.model, r.language, JSON.stringify(r.explanation), r.truncated],
      );
      await applyHandoffRules(tx, opts, { ...row, status, polarity: r.polarity, label: r.label });
    }
    return rows.filter((r) => allowedBy.every((m) => m.has(r.profileId))).length;
  });
}

/** Opens (or adds to) a hand-off case when a rule fires for a freshly analysed text. */
async function applyHandoffRules(tx: SqlRunner, opts: ResolvedSentimentOptions, row: TextRow): Promise<void> {
  const h = opts.handoff;
  const reasons: string[] = [];
  if (h.requestPattern.test(row.body.slice(0, 5000))) reasons.push('request');
  if (row.status === 'scored' && row.polarity !== null && row.polarity <= h.threshold) reasons.push('threshold');
  if (row.status === 'scored' && row.label === 'negative') {
    const recent = await tx.query<{ label: string | null }>(
      `SELECT label FROM sentiment_text WHERE profile_id = $1 AND topic = $2 AND status = 'scored' ORDER BY id DESC LIMIT $3`,
      [row.profileId, row.topic, h.negativeStreak],
    );
    if (recent.length === h.negativeStreak && recent.every((r) => r.label === 'negative')) reasons.push('streak');
  }
  if (reasons.length === 0) return;
  const updated = await tx.query(
    `UPDATE sentiment_handoff SET text_ids = array_append(text_ids, $3::bigint),
            reasons = ARRAY(SELECT DISTINCT unnest(reasons || $4::text[]) ORDER BY 1)
      WHERE profile_id = $1 AND topic = $2 AND status <> 'resolved' RETURNING id`,
    [row.profileId, row.topic, row.id, reasons],
  );
  if (updated.length > 0) return;
  const cooling = await tx.query(
    `SELECT 1 FROM sentiment_handoff WHERE profile_id = $1 AND topic = $2 AND status = 'resolved'
        AND resolved_at > now() - make_interval(secs => $3) LIMIT 1`,
    [row.profileId, row.topic, h.cooldownSeconds],
  );
  if (cooling.length > 0) {
    await countSkip(tx, 'handoff-cooldown');
    return;
  }
  await tx.query(
    `INSERT INTO sentiment_handoff (profile_id, topic, reasons, text_ids) VALUES ($1, $2, $3::text[], ARRAY[$4::bigint])
     ON CONFLICT (profile_id, topic) WHERE status <> 'resolved' DO NOTHING`,
    [row.profileId, row.topic, reasons.sort(), row.id],
  );
}
