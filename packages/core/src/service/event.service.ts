import type { Queryable } from '../database/database';
import { ValidationError } from '../errors/rapport-error';
import { MESSAGE_TYPES } from '../ingestion/segment-message.types';
import { checkFirst, decodeCursor, encodeCursor, type Page } from '../pagination/cursor';
import { group } from './profile.service';

/** A stored event. */
export interface EventRecord {
  id: string;
  messageId: string;
  profileId: string;
  originProfileId: string;
  type: string;
  name: string | null;
  /** `group` only. */
  groupId: string | null;
  /** `page` only. */
  category: string | null;
  userId: string | null;
  anonymousId: string | null;
  properties: Record<string, unknown>;
  traits: Record<string, unknown> | null;
  context: Record<string, unknown>;
  timestamp: Date;
  originalTimestamp: Date | null;
  sentAt: Date | null;
  receivedAt: Date;
}

/** Arguments of an events page. */
export interface EventPageArgs {
  first: number;
  after?: string | null;
  /** Message type: identify, track, page, screen, group or alias. */
  type?: string | null;
  /** Event name (`track`) or page/screen name. */
  name?: string | null;
}

/** The page-size ceiling for events. */
export const MAX_EVENTS_PAGE = 200;

/** Maps a `rapport_event` row to an {@link EventRecord}. */
export function toEvent(r: Record<string, unknown>): EventRecord {
  return {
    id: String(r.id), messageId: r.message_id as string, profileId: r.profile_id as string, originProfileId: r.origin_profile_id as string,
    type: r.type as string, name: r.name as string | null, groupId: r.group_id as string | null, category: r.category as string | null, userId: r.user_id as string | null, anonymousId: r.anonymous_id as string | null,
    properties: r.properties as Record<string, unknown>, traits: r.traits as Record<string, unknown> | null, context: r.context as Record<string, unknown>,
    timestamp: r.timestamp as Date, originalTimestamp: r.original_timestamp as Date | null, sentAt: r.sent_at as Date | null, receivedAt: r.received_at as Date,
  };
}

/** Reads of events, newest first. */
export class EventService {
  constructor(private readonly db: Queryable) {}

  /**
   * One page of events for each of many profiles, in one statement (a LATERAL join, so each
   * profile gets its own LIMIT). Each profile may have its own `after` cursor.
   */
  async pagesOf(requests: ReadonlyArray<{ profileId: string; args: EventPageArgs }>): Promise<Array<Page<EventRecord>>> {
    if (!requests.length) return [];
    const { type, name } = requests[0].args;
    const first = checkFirst(requests[0].args.first, MAX_EVENTS_PAGE);
    if (type && !(MESSAGE_TYPES as readonly string[]).includes(type)) {
      throw new ValidationError('type', 'enum', `"${type}" is not one of ${MESSAGE_TYPES.join(', ')}`);
    }
    const cursors = requests.map((r) => (r.args.after ? decodeCursor(r.args.after) : null));
    const rows = await this.db.query(
      `SELECT q.n, e.* FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[]) WITH ORDINALITY AS q(pid, at, eid, n)
         CROSS JOIN LATERAL (
           SELECT * FROM rapport_event e
            WHERE e.profile_id = q.pid
              AND ($4::text IS NULL OR e.type = $4) AND ($5::text IS NULL OR e.name = $5)
              AND (q.at IS NULL OR (e.timestamp, e.id) < (q.at, q.eid))
            ORDER BY e.timestamp DESC, e.id DESC LIMIT $6) e`,
      [
        requests.map((r) => r.profileId), cursors.map((c) => (c ? c[0] : null)), cursors.map((c) => (c ? c[1] : null)),
        type ?? null, name ?? null, first + 1,
      ],
    );
    const by = group(rows, (r) => String(r.n));
    return requests.map((_, i) => {
      const list = (by.get(String(i + 1)) ?? []).map(toEvent);
      const nodes = list.slice(0, first);
      return { nodes, hasNextPage: list.length > first, cursors: nodes.map((e) => encodeCursor([e.timestamp.toISOString(), e.id])) };
    });
  }
}
