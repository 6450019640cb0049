import type { Database, Queryable } from '../database/database';
import { IdentityGraph, type ProfileState } from '../identity/identity-graph';
import { writeMerges } from '../identity/merge.repository';
import type { Survivorship } from '../identity/survivorship';
import type { ConsentService } from '../consent/consent.service';
import { consentDecisionsOf } from '../consent/consent-extractor';
import type { ConsentDecision } from '../consent/consent.types';
import type { DataSubjectService } from '../consent/data-subject.service';
import type { MergeProtection } from '../identity/merge-protection';
import type { Logger } from '../logger/logger';
import type { IdentityRef, IngestResult, NormalizedMessage } from './segment-message.types';
import { readBatchState, type NamedIdentity } from './batch-state.reader';
import { jsonLines, plainArray, textArray } from '../database/sql-array.encoder';

/**
 * The statement that stores a batch's events into `table` (`rapport_event`; another table of its shape in
 * `bench/ingest-statements.bench.mjs`, which prices it): 18 parameters, the columns as array text
 * (`sql-array.encoder`), the JSON ones a document a line; answers the new ids as one JSON document.
 */
export function eventsInsertStatement(table: string): string {
  return `WITH ins AS (
       INSERT INTO ${table} (message_id, profile_id, origin_profile_id, type, name, user_id, anonymous_id, properties, traits,
                             context, integrations, timestamp, original_timestamp, sent_at, received_at, source_key_id, group_id, category)
       SELECT mid, p, COALESCE(o, p), ty, n, u, a, pr::jsonb, NULLIF(tr, '')::jsonb, c::jsonb, NULLIF(ig, '')::jsonb, ts, ots, sa, ra, $16::uuid, g, cat
         FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], string_to_array($8, E'\\n'),
                     string_to_array($9, E'\\n'), string_to_array($10, E'\\n'), string_to_array($11, E'\\n'),
                     $12::timestamptz[], $13::timestamptz[], $14::timestamptz[], $15::timestamptz[], $17::text[], $18::text[])
           AS x(mid, p, o, ty, n, u, a, pr, tr, c, ig, ts, ots, sa, ra, g, cat)
       RETURNING id, message_id)
     SELECT json_agg(json_build_array(message_id, id::text)) AS ids FROM ins`;
}

const EVENTS_INSERT = eventsInsertStatement('rapport_event');

/** What a committed batch changed; handed to plugin hooks after commit. */
export interface IngestOutcome {
  results: IngestResult[];
  /** Messages stored (duplicates excluded), with the profile each landed on. */
  stored: Array<{ message: NormalizedMessage; profileId: string; originProfileId: string; eventId: string }>;
  merges: Array<{ survivorId: string; mergedId: string; rule: string; messageId: string }>;
  /** Consent decisions stored (for onConsentChanged). */
  consents: Array<{ profileId: string; decision: ConsentDecision }>;
}

/** Another writer changed a profile between our read and our lock: the transaction is retried. */
class StaleProfileError extends Error {
  readonly code = '40001';
  constructor(id: string) {
    super(`profile ${id} changed while this batch was being resolved`);
  }
}

/** The batch was resolved without the traits it turned out to need: the transaction is retried with them. */
class RereadError extends Error {
  readonly code = '40001';
  constructor() {
    super('a profile read without its traits was changed; the batch is read again with them');
  }
}

/**
 * Writes validated messages: one transaction per batch. Inside it, advisory locks on every
 * message id and identity (taken in one sorted order, so concurrent batches that share identities
 * queue instead of deadlocking), then a constant number of statements: dedupe, identity lookup,
 * lock and load the profiles involved, resolve in memory, write profiles, merges, identities and
 * events. Either the whole batch of valid messages is stored, or (on error) none of it.
 */
export class IngestionService {
  constructor(
    private readonly db: Database,
    private readonly protection: MergeProtection,
    private readonly survivorship: Survivorship,
    private readonly consent: ConsentService,
    private readonly consentMapping: Record<string, string>,
    private readonly subjects: DataSubjectService,
    private readonly logger?: Logger,
  ) {}

  /** Stores messages (already validated) and returns one result per message, in order. */
  async ingest(messages: NormalizedMessage[], source: { keyId: string | null; name?: string }): Promise<IngestOutcome> {
    if (messages.length === 0) return { results: [], stored: [], merges: [], consents: [] };
    const attempt = { withTraits: false };
    return this.db.transaction((tx) => this.ingestInTx(tx, messages, source, attempt));
  }

  private async ingestInTx(
    tx: Queryable, messages: NormalizedMessage[], source: { keyId: string | null; name?: string }, attempt: { withTraits: boolean },
  ): Promise<IngestOutcome> {
    const sourceKeyId = source.keyId;
    // 1. Every message id and identity the batch mentions is locked, in one global order (by the
    //    read below, in PostgreSQL, before it reads anything).
    const named = (m: NormalizedMessage): IdentityRef[] =>
      m.previousId ? [...m.identities, { type: 'user_id', value: m.previousId }, { type: 'anonymous_id', value: m.previousId }] : m.identities;
    const mentioned: NamedIdentity[] = [];
    messages.forEach((m, message) => {
      for (const id of named(m)) mentioned.push({ type: id.type, value: id.value, message });
    });

    // Traits (and their provenance) are only needed when a message may change an existing
    // profile: an identify sets traits, and a message naming two identities or more may merge
    // profiles or attach a new identity to one. A message naming one identity lands on its owner
    // unchanged, or on a new profile.
    const withTraits = attempt.withTraits || messages.some((m) => m.type === 'identify' || named(m).length > 1);

    // 1-4. In one statement: the locks (taken first, in ascending key order), then, read after
    //    them, duplicates already stored, suppressed identities (messages naming a deleted
    //    person's identity are dropped), the profiles owning the other messages' identities and
    //    all their identities (for the limits). A KEY SHARE lock (what a foreign key check takes)
    //    keeps a concurrent merge from moving a profile away while this batch adds events to it;
    //    profiles the batch changes are locked harder in step 6.
    const state = await readBatchState(tx, messages.map((m) => m.messageId), mentioned, withTraits);
    const existing = state.existing;
    const suppressed = state.suppressed;
    // Positions are looked up only when a message was suppressed (rarely).
    const position = suppressed.size > 0 ? new Map(messages.map((m, i) => [m, i])) : null;
    const isSuppressed = (m: NormalizedMessage) => position !== null && suppressed.has(position.get(m)!);
    const graph = new IdentityGraph(this.protection, this.survivorship, source.name);
    // Changed since the statement's snapshot, or merged between our identity lookup and our lock: look again from the start.
    const moved = state.profiles.find((r) => r.stale || r.merged_into);
    if (moved) throw new StaleProfileError(moved.id);
    for (const r of state.profiles.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
      graph.addProfile({
        id: r.id, createdAt: r.created_at, mergedInto: r.merged_into, traits: r.traits, traitSources: r.trait_sources,
        identities: r.identities, version: r.version, isNew: false, changed: false,
      });
    }

    // 5. Resolve every message in order, in memory.
    const landed: Array<{ message: NormalizedMessage; profile: ProfileState; origin: string; warnings: string[] } | null> = [];
    const seen = new Set<string>();
    for (const m of messages) {
      if (existing.has(m.messageId) || seen.has(m.messageId) || isSuppressed(m)) {
        landed.push(null);
        continue;
      }
      seen.add(m.messageId);
      const { profile, warnings } = graph.resolve(m);
      // A fresh array each time: consent warnings are added to it below, and the transaction may run again.
      landed.push({ message: m, profile, origin: profile.id, warnings: m.warnings.length || warnings.length ? [...m.warnings, ...warnings] : [] });
    }

    // Read without traits, an existing profile was changed after all: read again, with them.
    if (!withTraits && graph.all().some((p) => !p.isNew && p.changed)) {
      attempt.withTraits = true;
      throw new RereadError();
    }

    // 6. Lock the existing profiles this batch changes, in id order, and check nobody changed
    //    them since step 4 (else retry the whole transaction), then write.
    await this.lockChanged(tx, graph);
    await this.writeProfiles(tx, graph);
    await this.writeMerges(tx, graph);
    if (graph.newIdentities.length) {
      const ni = graph.newIdentities;
      await tx.query(
        `INSERT INTO rapport_identity (type, value, profile_id, origin_profile_id, first_seen_at)
         SELECT t, v, p, p, f FROM unnest($1::text[], $2::text[], $3::uuid[], $4::timestamptz[]) AS x(t, v, p, f)`,
        [textArray(ni.map((i) => i.type)), textArray(ni.map((i) => i.value)), plainArray(ni.map((i) => graph.find(i.profileId).id)), plainArray(ni.map((i) => i.firstSeenAt))],
      );
      // Identities attached to a profile that a later message of the batch merged away keep that
      // profile as their origin, so an unmerge gives them back.
      const moved = ni.filter((i) => graph.find(i.profileId).id !== i.profileId);
      if (moved.length) {
        await tx.query(
          `UPDATE rapport_identity i SET origin_profile_id = x.o FROM unnest($1::text[], $2::text[], $3::uuid[]) AS x(t, v, o)
            WHERE i.type = x.t AND i.value = x.v`,
          [moved.map((i) => i.type), moved.map((i) => i.value), moved.map((i) => i.profileId)],
        );
      }
    }
    const stored = landed.filter((l): l is NonNullable<typeof l> => l !== null);
    const eventIds = stored.length ? await this.writeEvents(tx, stored, graph, sourceKeyId) : new Map<string, string>();

    // Consent decisions the messages carry land with them, on their final profiles.
    // A decision is the decision of the member of the (possibly merged) profile whose identity the
    // message names (user_id first, then anonymous_id, then the others): the merged profile's
    // consents are the fold of its members' decisions, whether they arrive before or after the merge.
    const withConsent = stored.map((s) => ({ s, decisions: consentDecisionsOf(s.message, this.consentMapping) })).filter((x) => x.decisions.length);
    const memberOf = await this.consentMembers(tx, withConsent.map(({ s }) => ({ identities: s.message.identities, live: graph.find(s.profile.id).id })));
    const decisions = withConsent.flatMap(({ s, decisions: ds }, k) => ds.map((decision) => ({ profileId: memberOf[k], decision, s })));
    const unknown = new Set(await this.consent.apply(tx, decisions, source.name ?? 'ingestion'));
    for (const d of decisions) {
      if (unknown.has(d)) d.s.warnings.push(`consent for "${d.decision.purpose}" was ignored: it is not a purpose (define it first)`);
    }

    const results: IngestResult[] = messages.map((m, i) => {
      const l = landed[i];
      if (!l && isSuppressed(m)) {
        return { messageId: m.messageId, profileId: '', duplicate: false, warnings: ['dropped: it names an identity of a deleted person (suppression list)'], suppressed: true };
      }
      if (!l) return { messageId: m.messageId, profileId: '', duplicate: true, warnings: [] };
      return { messageId: m.messageId, profileId: graph.find(l.profile.id).id, duplicate: false, warnings: l.warnings };
    });
    // Duplicates report the profile their first copy landed on.
    const dupes = results.filter((r) => r.duplicate && !r.suppressed);
    if (dupes.length) {
      const rows = await tx.query<{ message_id: string; profile_id: string }>(
        'SELECT message_id, profile_id FROM rapport_event WHERE message_id = ANY($1::text[])',
        [dupes.map((d) => d.messageId)],
      );
      const byId = new Map(rows.map((r) => [r.message_id, r.profile_id]));
      for (const d of dupes) d.profileId = byId.get(d.messageId) ?? '';
    }
    if (graph.merges.length) this.logger?.info({ merges: graph.merges.length }, 'profiles merged');
    return {
      results,
      stored: stored.map((s) => ({
        message: s.message, profileId: graph.find(s.profile.id).id, originProfileId: s.origin, eventId: eventIds.get(s.message.messageId) ?? '',
      })),
      merges: graph.merges.map((m) => ({ survivorId: m.survivorId, mergedId: m.mergedId, rule: m.rule, messageId: m.messageId })),
      consents: decisions.filter((d) => !unknown.has(d)).map(({ profileId, decision }) => ({ profileId, decision })),
    };
  }

  private async lockChanged(tx: Queryable, graph: IdentityGraph): Promise<void> {
    const changed = graph.all().filter((p) => !p.isNew && p.changed);
    if (!changed.length) return;
    const rows = await tx.query<{ id: string; version: number }>(
      'SELECT id, version FROM rapport_profile WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
      [changed.map((p) => p.id)],
    );
    const now = new Map(rows.map((r) => [r.id, r.version]));
    for (const p of changed) if (now.get(p.id) !== p.version) throw new StaleProfileError(p.id);
  }

  private async writeProfiles(tx: Queryable, graph: IdentityGraph): Promise<void> {
    const all = graph.all().filter((p) => p.changed);
    const fresh = all.filter((p) => p.isNew);
    const old = all.filter((p) => !p.isNew);
    if (fresh.length) {
      await tx.query(
        `INSERT INTO rapport_profile (id, merged_into, traits, trait_sources, created_at, updated_at)
         SELECT id, m, t::jsonb, s::jsonb, c, now()
           FROM unnest($1::uuid[], $2::uuid[], string_to_array($3, E'\\n'), string_to_array($4, E'\\n'), $5::timestamptz[]) AS x(id, m, t, s, c)`,
        [
          plainArray(fresh.map((p) => p.id)), plainArray(fresh.map((p) => p.mergedInto)), jsonLines(fresh.map((p) => p.traits)),
          jsonLines(fresh.map((p) => p.traitSources)), plainArray(fresh.map((p) => p.createdAt)),
        ],
      );
    }
    if (old.length) {
      await tx.query(
        `UPDATE rapport_profile p SET merged_into = x.m, traits = x.t::jsonb, trait_sources = x.s::jsonb, updated_at = now(), version = p.version + 1
           FROM unnest($1::uuid[], $2::uuid[], string_to_array($3, E'\\n'), string_to_array($4, E'\\n')) AS x(id, m, t, s)
          WHERE p.id = x.id`,
        [plainArray(old.map((p) => p.id)), plainArray(old.map((p) => p.mergedInto)), jsonLines(old.map((p) => p.traits)), jsonLines(old.map((p) => p.traitSources))],
      );
    }
  }

  /**
   * For each message (its identities and the live profile it ended on), the member of that profile
   * its consent decisions belong to: the profile an identity it names was first attached to
   * (`origin_profile_id`) when that profile is the live one or merged into it, else the live one.
   */
  private async consentMembers(tx: Queryable, msgs: Array<{ identities: ReadonlyArray<{ type: string; value: string }>; live: string }>): Promise<string[]> {
    const rank = (type: string) => (type === 'user_id' ? 0 : type === 'anonymous_id' ? 1 : 2);
    const ids = msgs.flatMap((m) => m.identities);
    if (!ids.length) return msgs.map((m) => m.live);
    const rows = await tx.query<{ type: string; value: string; origin: string; live: string }>(
      `SELECT i.type, i.value, i.origin_profile_id AS origin, COALESCE(p.merged_into, p.id) AS live
         FROM rapport_identity i JOIN unnest($1::text[], $2::text[]) AS x(t, v) ON i.type = x.t AND i.value = x.v
         JOIN rapport_profile p ON p.id = i.origin_profile_id`,
      [ids.map((i) => i.type), ids.map((i) => i.value)],
    );
    const by = new Map(rows.map((r) => [`${r.type}\u0000${r.value}`, r]));
    return msgs.map((m) => {
      const hit = [...m.identities].sort((a, b) => rank(a.type) - rank(b.type)).map((i) => by.get(`${i.type}\u0000${i.value}`)).find((r) => r && r.live === m.live);
      return hit?.origin ?? m.live;
    });
  }

  private async writeMerges(tx: Queryable, graph: IdentityGraph): Promise<void> {
    await writeMerges(
      tx,
      graph.merges.map((m) => ({
        survivorId: graph.find(m.survivorId).id, mergedId: m.mergedId, rule: m.rule, reason: m.reason, messageId: m.messageId, actor: 'ingestion',
      })),
    );
  }

  private async writeEvents(
    tx: Queryable,
    stored: Array<{ message: NormalizedMessage; profile: ProfileState; origin: string }>,
    graph: IdentityGraph,
    sourceKeyId: string | null,
  ): Promise<Map<string, string>> {
    // Arrays, not one JSON document (jsonb_to_recordset): measured, the document cost more on both
    // sides (Node 10 ms against 5, PostgreSQL 20 ms against 15, for 500 rows). The arrays' text is
    // built here (sql-array.encoder): ids and dates need no quoting, and the JSON columns travel
    // as one line per document, split by PostgreSQL, so they are never escaped. An origin that is
    // the profile itself (most) travels as NULL.
    // The new ids come back as one JSON document (one row to parse, not one a message).
    const col = <T>(f: (s: (typeof stored)[number]) => T) => stored.map(f);
    const live = col((s) => graph.find(s.profile.id).id);
    const [{ ids }] = await tx.query<{ ids: Array<[string, string]> }>(
      EVENTS_INSERT,
      [
        textArray(col((s) => s.message.messageId)), plainArray(live), plainArray(stored.map((s, i) => (s.origin === live[i] ? null : s.origin))),
        textArray(col((s) => s.message.type)), textArray(col((s) => s.message.name)), textArray(col((s) => s.message.userId)),
        textArray(col((s) => s.message.anonymousId)),
        jsonLines(col((s) => (s.message.previousId ? { ...s.message.properties, previousId: s.message.previousId } : s.message.properties))),
        jsonLines(col((s) => s.message.traits)), jsonLines(col((s) => s.message.context)), jsonLines(col((s) => s.message.integrations)),
        plainArray(col((s) => s.message.timestamp)), plainArray(col((s) => s.message.originalTimestamp)), plainArray(col((s) => s.message.sentAt)),
        plainArray(col((s) => s.message.receivedAt)), sourceKeyId, textArray(col((s) => s.message.groupId)), textArray(col((s) => s.message.category)),
      ],
    );
    return new Map(ids ?? []);
  }
}
