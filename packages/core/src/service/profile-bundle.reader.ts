import type { Queryable } from '../database/database';
import { NEWEST_EVENT_COLUMNS } from '../database/migrations/1763800000024-event-newest-function';
import { DatabaseUnavailableError } from '../database/database-unavailable.error';
import { ReadCoalescer } from '../database/read-coalescer';
import { AUDITED_COLUMN, auditParams, auditWith, deliverAudited, type ReadAuditIntent } from '../consent/read-audit.intent';
import type { Page } from '../pagination/cursor';
import { checkFirst } from '../pagination/cursor';
import { eventColumnNames, eventFromJson, eventJsonObject, MAX_EVENTS_PAGE, pageOf, type EventField, type EventRecord } from './event.service';
import {
  ASKED_AND_LIVE, CONSENTS_JSON, consentsFromJson, profileColumns, toProfile,
  type ConsentJson, type IdentityRecord, type ProfileWithConsents,
} from './profile.service';

/** The child reads a profile query asks for, brought in the profile's own statement. */
export interface ProfileReadPlan {
  /** The profile's identities. */
  identities: boolean;
  /** The newest page of its events (no cursor, no filter), with the fields the query selects (null: all). */
  events: { first: number; fields: readonly EventField[] | null } | null;
}

/** No child reads: a profile with its consents only (the profile loader's read). */
export const PROFILE_ONLY: ProfileReadPlan = Object.freeze({ identities: false, events: null });

/** A profile with its consents and the child reads of its {@link ProfileReadPlan}. */
export interface ProfileBundle extends ProfileWithConsents {
  identities?: IdentityRecord[];
  events?: Page<EventRecord>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads profiles (following merges) with their consents (read in the same statement so that a
 * guarded field or `ctx.consentOf` costs no second round trip) and, as the query asks, their identities
 * and first events page, in one statement: the JSON of each child read is built by PostgreSQL next
 * to the profile row, as PostGraphile and Hasura compile a selection. The events page is the
 * profile's newest events in the order of {@link EventService.pagesOf}, read by `rapport_event_newest`
 * (migration 1763800000024: planned once per connection, without `context` and `traits`) or, when the
 * query selects those, by the page function; `flat-reads.spec.ts` checks both plans under skewed
 * statistics. The statement is prepared (parsed and planned once per connection). Concurrent requests
 * with the same plan share it ({@link ReadCoalescer}).
 *
 * A read may carry a request's {@link ReadAuditIntent}: the statement then also writes the audit rows
 * it predicts (`auditWith`), so a guarded read of personal data needs no audit statement of its
 * own. Should that statement fail for any reason but the database being unavailable, the batch is
 * read again without the audit, and the requests audit their reads as they would have without an
 * intent (a network fault after the statement committed would then log those reads twice: the log
 * may over-report a read, never miss one).
 */
export class ProfileBundleReader {
  private readonly byPlan = new Map<string, ReadCoalescer<ProfileBundle, ReadAuditIntent>>();
  /** Statements issued with and without an audit part, and audited statements that failed (then read again without it). */
  readonly stats = { audited: 0, plain: 0, auditFailures: 0 };

  constructor(private readonly db: Queryable) {}

  /**
   * Bundles by asked id, in order; unknown ids give null. With an `intent`, the read also writes the
   * audit rows it predicts and lists them in `intent.written`.
   */
  async read(ids: readonly string[], plan: ProfileReadPlan, intent?: ReadAuditIntent): Promise<Array<ProfileBundle | null>> {
    if (plan.events) checkFirst(plan.events.first, MAX_EVENTS_PAGE);
    const valid = ids.filter((id) => UUID.test(id));
    if (!valid.length) return ids.map(() => null);
    const found = await this.coalescer(plan).get(valid, intent?.candidates.length ? intent : undefined);
    return ids.map((id) => found.get(id) ?? null);
  }

  private coalescer(plan: ProfileReadPlan): ReadCoalescer<ProfileBundle, ReadAuditIntent> {
    const key = JSON.stringify([plan.identities, plan.events?.first ?? null, plan.events?.fields ? [...plan.events.fields].sort() : null, !!plan.events]);
    let c = this.byPlan.get(key);
    if (!c) {
      if (this.byPlan.size > 256) this.byPlan.clear();
      const sql = bundleStatement(plan);
      const audited = bundleStatement(plan, true);
      c = new ReadCoalescer<ProfileBundle, ReadAuditIntent>((ids, calls) => this.load(ids, plan, calls.length ? audited : sql, calls));
      this.byPlan.set(key, c);
    }
    return c;
  }

  private async load(ids: string[], plan: ProfileReadPlan, sql: string, audit: Array<{ extra: ReadAuditIntent; keys: readonly string[] }>): Promise<Map<string, ProfileBundle>> {
    const params: unknown[] = plan.events ? [ids, plan.events.first + 1] : [ids];
    const calls = audit.map((a) => ({ intent: a.extra, ids: a.keys }));
    let rows: BundleRow[];
    if (!calls.length) {
      this.stats.plain++;
      // The read of nearly every profile query: parsed and planned once per connection.
      rows = await this.db.query<BundleRow>(sql, params, { prepare: true });
    } else {
      this.stats.audited++;
      try {
        rows = await this.db.query<BundleRow>(sql, [...params, ...auditParams(calls)], { prepare: true });
      } catch (err) {
        // The database cannot serve now: the read without its audit would fail as well.
        if (err instanceof DatabaseUnavailableError) throw err;
        // The read without its audit part: the requests then audit what the guard decides themselves.
        this.stats.auditFailures++;
        rows = await this.db.query<BundleRow>(bundleStatement(plan), params, { prepare: true });
      }
      const seen = new Set<string>();
      for (const r of rows) deliverAudited(calls, r.audited ?? null, r.id as string, seen);
    }
    return new Map(
      rows.map((r) => {
        const profile = toProfile(r);
        const bundle: ProfileBundle = { profile, consents: consentsFromJson(profile.id, r.consents) };
        if (r.identities) {
          bundle.identities = r.identities.map((i) => ({ ...(i as unknown as IdentityRecord), firstSeenAt: new Date(i.firstSeenAt as string) }));
        }
        if (r.events && plan.events) bundle.events = pageOf(r.events.map(eventFromJson), plan.events.first);
        return [r.asked, bundle];
      }),
    );
  }
}

/** A row of a bundle statement (`audited` only from the statement with an audit part). */
type BundleRow = Record<string, unknown> & {
  asked: string;
  consents: ConsentJson[];
  identities?: Array<Record<string, unknown>>;
  events?: Array<Record<string, unknown>>;
  audited?: Array<{ id: string; ix: number; fields: string[] }> | null;
};

/**
 * The bundle statement of a plan (`$1` the asked ids, `$2` the page size plus one), with the audit
 * part (`auditWith`, its parameters next) when `audited`: built once per plan.
 */
function bundleStatement(plan: ProfileReadPlan, audited = false): string {
  const parts = [`q.asked, ${profileColumns('p')}, ${CONSENTS_JSON} AS consents`];
  if (audited) parts.push(AUDITED_COLUMN);
  if (plan.identities) {
    parts.push(`(SELECT COALESCE(json_agg(json_build_object('type', i.type, 'value', i.value, 'profileId', i.profile_id,
                       'originProfileId', i.origin_profile_id, 'firstSeenAt', i.first_seen_at) ORDER BY i.type, i.first_seen_at, i.value), '[]'::json)
                   FROM rapport_identity i WHERE i.profile_id = p.id) AS identities`);
  }
  if (plan.events) {
    // Both read the profile's events in the index's order, whatever the statistics (a function with bitmap scans and
    // sorts off): the columns-returning one (planned once per connection) when it has every column asked for.
    const light = eventColumnNames(plan.events.fields).every((c) => (NEWEST_EVENT_COLUMNS as readonly string[]).includes(c));
    parts.push(light
      ? `(SELECT COALESCE(json_agg(${eventJsonObject('e', plan.events.fields)} ORDER BY e.timestamp DESC, e.id DESC), '[]'::json)
            FROM rapport_event_newest(p.id, $2::int) e) AS events`
      : `(SELECT COALESCE(json_agg(${eventJsonObject('(f.ev)', plan.events.fields)} ORDER BY (f.ev).timestamp DESC, (f.ev).id DESC), '[]'::json)
            FROM rapport_event_page(ARRAY[p.id], ARRAY['infinity'::timestamptz], ARRAY[9223372036854775807::bigint], $2::int) f) AS events`);
  }
  return `${audited ? auditWith(plan.events ? 3 : 2) : ''}SELECT ${parts.join(', ')} ${ASKED_AND_LIVE}`;
}
