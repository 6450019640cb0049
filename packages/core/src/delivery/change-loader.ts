import type { Queryable } from '../database/database';
import { eventRecordColumns, type EventField, type EventRecord } from '../service/event.service';
import type { TransportRow } from './delivery-transport';
import type { Change, ChangeKind, EventSelection } from './delivery.types';

/** An outbox row: what changed, by reference (the PostgreSQL transport's rows). */
export type OutboxRow = TransportRow;

/**
 * Reads what outbox rows refer to, one statement per kind present, and returns the changes in
 * the rows' order. A row whose record is gone (an erased event) yields nothing. With
 * `eventFields`, events hold those fields and the ones every event has, and nothing else. With `select`, only the
 * events it selects are read (the others yield nothing, like an erased one).
 */
export async function loadChanges(db: Queryable, rows: OutboxRow[], eventFields?: readonly EventField[], select?: EventSelection | null): Promise<Change[]> {
  const refs: Record<ChangeKind, string[]> = { event: [], merge: [], unmerge: [], consent: [] };
  for (const r of rows) refs[r.kind].push(r.ref);
  const [events, merges, consents] = await Promise.all([
    // Rows are the records themselves (columns named as fields): nothing to map per event.
    refs.event.length
      ? db.query<EventRecord>(
          `SELECT ${eventRecordColumns('e', eventFields)} FROM rapport_event e WHERE e.id = ANY($1::bigint[])${select ? ' AND (e.type = ANY($2::text[]) OR e.name = ANY($3::text[]))' : ''}`,
          select ? [refs.event, select.types ?? [], select.names ?? []] : [refs.event],
        )
      : [],
    refs.merge.length + refs.unmerge.length
      ? db.query<Record<string, unknown>>(
          'SELECT id, survivor_id, merged_id, rule, message_id, undone_by FROM rapport_merge WHERE id = ANY($1::uuid[])',
          [[...refs.merge, ...refs.unmerge]],
        )
      : [],
    refs.consent.length
      ? db.query<Record<string, unknown>>('SELECT id, profile_id, purpose, granted, expires_at FROM rapport_consent_history WHERE id = ANY($1::bigint[])', [refs.consent])
      : [],
  ]);
  const e = new Map<string, EventRecord>();
  for (const r of events) e.set(r.id, r);
  const byId = (list: Array<Record<string, unknown>>) => new Map(list.map((r) => [String(r.id), r]));
  const m = byId(merges);
  const c = byId(consents);
  const out: Change[] = [];
  for (const row of rows) {
    if (row.kind === 'event') {
      const r = e.get(row.ref);
      if (r) out.push({ seq: row.id, profileId: r.profileId, kind: 'event', event: r });
      continue;
    }
    const base = { seq: row.id, profileId: row.profile_id };
    if (row.kind === 'merge' || row.kind === 'unmerge') {
      const r = m.get(row.ref);
      if (!r) continue;
      if (row.kind === 'merge') {
        out.push({ ...base, kind: 'merge', merge: { mergeId: row.ref, survivorId: String(r.survivor_id), mergedId: String(r.merged_id), rule: String(r.rule), messageId: (r.message_id as string | null) ?? null } });
      } else {
        out.push({ ...base, kind: 'unmerge', unmerge: { mergeId: row.ref, survivorId: String(r.survivor_id), restoredId: String(r.merged_id), actor: String(r.undone_by ?? '') } });
      }
    } else if (row.kind === 'consent') {
      const r = c.get(row.ref);
      if (r) out.push({ ...base, kind: 'consent', consent: { profileId: String(r.profile_id), purpose: String(r.purpose), granted: Boolean(r.granted), expiresAt: (r.expires_at as Date | null) ?? null } });
    }
  }
  return out;
}
