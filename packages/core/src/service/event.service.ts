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

/** The fields of an {@link EventRecord} that a page may read selectively. */
export type EventField = keyof EventRecord;

/** The column of each event field. */
const COLUMN: Record<EventField, string> = {
  id: 'id', messageId: 'message_id', profileId: 'profile_id', originProfileId: 'origin_profile_id', type: 'type', name: 'name',
  groupId: 'group_id', category: 'category', userId: 'user_id', anonymousId: 'anonymous_id', properties: 'properties', traits: 'traits',
  context: 'context', timestamp: 'timestamp', originalTimestamp: 'original_timestamp', sentAt: 'sent_at', receivedAt: 'received_at',
};
/** Read whatever is asked: the keyset (`timestamp`, `id`), and what the guard decides payload keys by (`type`, `name`, `profileId`). */
const ALWAYS: EventField[] = ['id', 'profileId', 'type', 'name', 'timestamp'];

/** Whether a name is an {@link EventField}. */
export function isEventField(name: string): name is EventField {
  return Object.prototype.hasOwnProperty.call(COLUMN, name);
}

/**
 * The select list of `rapport_event` rows for {@link toEvent} (an events page, a delivery): every
 * column, or (given `fields`) those and the ones every event read needs (`id`, `profileId`, `type`,
 * `name`, `timestamp`). Not reading the JSON columns nobody asked for (context, traits) is most of a
 * read's cost.
 */
export function eventColumns(alias: string, fields?: readonly EventField[] | null): string {
  return readFields(fields).map((f) => `${alias}.${COLUMN[f]}`).join(', ');
}

/**
 * The select list of rows that are {@link EventRecord}s as the driver returns them, with no mapping: each column under
 * its field's name (`id` as text), every field or (given `fields`) those and the ones every read needs. For reads of
 * many events at once (a delivery batch), where mapping each row was a large part of the reader's CPU.
 */
export function eventRecordColumns(alias: string, fields?: readonly EventField[] | null): string {
  return readFields(fields).map((f) => (f === 'id' ? `${alias}.id::text AS id` : `${alias}.${COLUMN[f]} AS "${f}"`)).join(', ');
}

/** The fields a page reads: those asked and those every page needs, or all. */
function readFields(fields?: readonly EventField[] | null): EventField[] {
  return fields ? [...new Set([...ALWAYS, ...fields])] : (Object.keys(COLUMN) as EventField[]);
}

/** The columns a read of `fields` needs (all of them when not given; see {@link eventColumns}). */
export function eventColumnNames(fields?: readonly EventField[] | null): string[] {
  return readFields(fields).map((f) => COLUMN[f]);
}

/** Timestamp fields, which JSON carries as strings. */
const DATE_FIELDS: EventField[] = ['timestamp', 'originalTimestamp', 'sentAt', 'receivedAt'];

/**
 * A `json_build_object(...)` of an event row `alias` (a `rapport_event` composite or table alias)
 * with the page's fields, keyed by field name, for reads that bring events inside another
 * statement's JSON (see {@link eventFromJson}).
 */
export function eventJsonObject(alias: string, fields?: readonly EventField[] | null): string {
  return `json_build_object(${readFields(fields).map((f) => `'${f}', ${alias}.${COLUMN[f]}${f === 'id' ? '::text' : ''}`).join(', ')})`;
}

/** An event read by {@link eventJsonObject}: its timestamps back to dates. */
export function eventFromJson(o: Record<string, unknown>): EventRecord {
  for (const f of DATE_FIELDS) if (typeof o[f] === 'string') o[f] = new Date(o[f] as string);
  return o as unknown as EventRecord;
}

/** Arguments of an events page. */
export interface EventPageArgs {
  first: number;
  after?: string | null;
  /** Message type: identify, track, page, screen, group or alias. */
  type?: string | null;
  /** Event name (`track`) or page/screen name. */
  name?: string | null;
  /**
   * Only these fields of each event are read (with `id`, `profileId`, `type`, `name` and
   * `timestamp`, always); the others are absent from the records. All when not given.
   */
  fields?: readonly EventField[] | null;
}

/** Where a page without `after` starts: after every event. */
const NO_CURSOR = ['infinity', '9223372036854775807'] as const;

/** The page-size ceiling for events. */
export const MAX_EVENTS_PAGE = 200;

/** Maps a `rapport_event` row to an {@link EventRecord}. */
export function toEvent(r: Record<string, unknown>): EventRecord {
  if (!('message_id' in r && 'context' in r && 'received_at' in r)) return toPartialEvent(r);
  return {
    id: String(r.id), messageId: r.message_id as string, profileId: r.profile_id as string, originProfileId: r.origin_profile_id as string,
    type: r.type as string, name: r.name as string | null, groupId: r.group_id as string | null, category: r.category as string | null, userId: r.user_id as string | null, anonymousId: r.anonymous_id as string | null,
    properties: r.properties as Record<string, unknown>, traits: r.traits as Record<string, unknown> | null, context: r.context as Record<string, unknown>,
    timestamp: r.timestamp as Date, originalTimestamp: r.original_timestamp as Date | null, sentAt: r.sent_at as Date | null, receivedAt: r.received_at as Date,
  };
}

const FIELD_OF_COLUMN = new Map(Object.entries(COLUMN).map(([f, c]) => [c, f]));

/** A row of a page that read only some columns: the record holds those fields only. */
function toPartialEvent(r: Record<string, unknown>): EventRecord {
  const out: Record<string, unknown> = {};
  for (const [c, v] of Object.entries(r)) {
    const f = FIELD_OF_COLUMN.get(c);
    if (f) out[f] = f === 'id' ? String(v) : v;
  }
  return out as unknown as EventRecord;
}

/** A page of `first` events from a read of `first + 1` (the extra one says there is a next page). */
export function pageOf(list: EventRecord[], first: number): Page<EventRecord> {
  const nodes = list.slice(0, first);
  let cursors: string[] | undefined;
  return {
    nodes,
    hasNextPage: list.length > first,
    // Encoded when first asked for (a query that selects no cursor never pays for them).
    get cursors() {
      return (cursors ??= nodes.map((e) => encodeCursor([e.timestamp.toISOString(), e.id])));
    },
    set cursors(value) {
      cursors = value;
    },
  };
}

/** Reads of events, newest first. */
export class EventService {
  constructor(private readonly db: Queryable) {}

  /**
   * One page of events for each of many profiles, in one statement. Each profile gets its own
   * LIMIT and may have its own `after` cursor. The statement calls the database function of the
   * page's shape (no filter, `type`, `type` and `name`, `name`; migration 1763800000013), which
   * reads each profile's page in order from the index made for that shape and cannot fall back
   * to sorting all of a profile's events: the cost is the page, whatever the profile's size or
   * the table's statistics.
   */
  async pagesOf(requests: ReadonlyArray<{ profileId: string; args: EventPageArgs }>): Promise<Array<Page<EventRecord>>> {
    if (!requests.length) return [];
    const { type, name } = requests[0].args;
    const first = checkFirst(requests[0].args.first, MAX_EVENTS_PAGE);
    if (type && !(MESSAGE_TYPES as readonly string[]).includes(type)) {
      throw new ValidationError('type', 'enum', `"${type}" is not one of ${MESSAGE_TYPES.join(', ')}`);
    }
    // No cursor reads from (infinity, max id): one statement text with or without cursors.
    const cursors = requests.map((r) => (r.args.after ? decodeCursor(r.args.after) : NO_CURSOR));
    const filters = [type, name].filter((v): v is string => !!v);
    const fn = `rapport_event_page${type ? '_type' : ''}${name ? '_name' : ''}`;
    const at = filters.map((_, i) => `$${i + 4}, `).join('');
    const rows = await this.db.query(
      `SELECT f.n, ${eventColumns('(f.ev)', requests[0].args.fields)} FROM ${fn}($1::uuid[], $2::timestamptz[], $3::bigint[], ${at}$${filters.length + 4}::int) f`,
      [requests.map((r) => r.profileId), cursors.map((c) => c[0]), cursors.map((c) => c[1]), ...filters, first + 1],
    );
    const by = group(rows, (r) => String(r.n));
    return requests.map((_, i) => {
      return pageOf((by.get(String(i + 1)) ?? []).map(toEvent), first);
    });
  }
}
