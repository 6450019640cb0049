import type { Queryable } from '../database/database';
import { NEWEST_EVENT_COLUMNS } from '../database/migrations/1763800000024-event-newest-function';
import { ReadCoalescer } from '../database/read-coalescer';
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
 */
export class ProfileBundleReader {
  private readonly byPlan = new Map<string, ReadCoalescer<ProfileBundle>>();

  constructor(private readonly db: Queryable) {}

  /** Bundles by asked id, in order; unknown ids give null. */
  async read(ids: readonly string[], plan: ProfileReadPlan): Promise<Array<ProfileBundle | null>> {
    if (plan.events) checkFirst(plan.events.first, MAX_EVENTS_PAGE);
    const valid = ids.filter((id) => UUID.test(id));
    if (!valid.length) return ids.map(() => null);
    const found = await this.coalescer(plan).get(valid);
    return ids.map((id) => found.get(id) ?? null);
  }

  private coalescer(plan: ProfileReadPlan): ReadCoalescer<ProfileBundle> {
    const key = JSON.stringify([plan.identities, plan.events?.first ?? null, plan.events?.fields ? [...plan.events.fields].sort() : null, !!plan.events]);
    let c = this.byPlan.get(key);
    if (!c) {
      if (this.byPlan.size > 256) this.byPlan.clear();
      const sql = bundleStatement(plan);
      c = new ReadCoalescer<ProfileBundle>((ids) => this.load(ids, plan, sql));
      this.byPlan.set(key, c);
    }
    return c;
  }

  private async load(ids: string[], plan: ProfileReadPlan, sql: string): Promise<Map<string, ProfileBundle>> {
    const params: unknown[] = plan.events ? [ids, plan.events.first + 1] : [ids];
    const rows = await this.db.query<Record<string, unknown> & { asked: string; consents: ConsentJson[]; identities?: Array<Record<string, unknown>>; events?: Array<Record<string, unknown>> }>(
      sql,
      params,
      // The read of nearly every profile query: parsed and planned once per connection.
      { prepare: true },
    );
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

/** The bundle statement of a plan (`$1` the asked ids, `$2` the page size plus one): built once per plan. */
function bundleStatement(plan: ProfileReadPlan): string {
  const parts = [`q.asked, ${profileColumns('p')}, ${CONSENTS_JSON} AS consents`];
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
  return `SELECT ${parts.join(', ')} ${ASKED_AND_LIVE}`;
}
