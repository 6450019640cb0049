import type { EventField, EventRecord } from '../service/event.service';

/** The kinds of change the outbox carries. */
export type ChangeKind = 'event' | 'merge' | 'unmerge' | 'consent';

/** Every kind, in the order they are documented. */
export const CHANGE_KINDS: readonly ChangeKind[] = ['event', 'merge', 'unmerge', 'consent'];

/** What every change carries. */
export interface ChangeBase {
  /**
   * The change's position in the outbox: unique and stable across retries and redeliveries, so a
   * plugin that records effects keyed by it (or by `event.id`) has each effect once.
   */
  seq: string;
  /** The profile the change is about (for an event: the profile it is on now). */
  profileId: string | null;
}

/** A stored event. */
export interface EventChange extends ChangeBase { kind: 'event'; event: EventRecord }
/** A profile merged into another. */
export interface MergeChange extends ChangeBase { kind: 'merge'; merge: { mergeId: string; survivorId: string; mergedId: string; rule: string; messageId: string | null } }
/** A merge undone: `restoredId` lives again, split from `survivorId`. */
export interface UnmergeChange extends ChangeBase { kind: 'unmerge'; unmerge: { mergeId: string; survivorId: string; restoredId: string; actor: string } }
/** A person's consent decision for a purpose. */
export interface ConsentChange extends ChangeBase { kind: 'consent'; consent: { profileId: string; purpose: string; granted: boolean; expiresAt: Date | null } }

/** The events a delivery loads ({@link DeliverySubscription.selectEvents}): those of these types, or with these names. */
export interface EventSelection {
  /** Event types (`track`, `identify`, `page`, `screen`, `group`, `alias`) loaded whatever their name. */
  types?: readonly string[];
  /** Event names (of any type: a track event's name, a page's or a screen's) loaded whatever their type. */
  names?: readonly string[];
}

/** One change delivered to a plugin. */
export type Change = EventChange | MergeChange | UnmergeChange | ConsentChange;

/**
 * A plugin's durable subscription to what core stores: batched, at-least-once, off the request
 * path, in commit order (so in order per profile), retried with backoff, dead-lettered after
 * `maxAttempts`, and resumable after any crash. Declare it as the plugin's `delivery`.
 */
export interface DeliverySubscription<C = unknown> {
  /** The kinds to receive (default: all). Others are skipped, not delivered. */
  kinds?: ChangeKind[];
  /** Most changes per call (default 100, at most 1,000). */
  batchSize?: number;
  /**
   * The event fields the plugin reads: only these are loaded (with `id`, `profileId`, `type`,
   * `name` and `timestamp`, always), and the others are absent from each delivered event. Default:
   * every field. Loading the JSON columns and timestamps a plugin never reads (`context`, `traits`
   * of tracks, `sentAt`, ...) is most of what delivering an event costs the server.
   */
  eventFields?: EventField[];
  /**
   * Where a plugin installed on a database that already holds data starts: `history` delivers
   * every event stored before it (a backfill), `now` (the default) only what is stored from now on.
   * Read once, when the plugin's cursor is created.
   */
  from?: 'history' | 'now';
  /**
   * Tries of a failing change alone before it is dead-lettered (default 8; backoff doubles from
   * 0.5 s to 1 min). Before that it was part of the failing batches that isolated it (at most
   * log2(batchSize) of them, retried at once).
   */
  maxAttempts?: number;
  /**
   * Which events to load, asked again before each batch: events whose `type` is in `types` or whose `name` is in
   * `names`. The others are left out in the database, as an erased event is: the handler never sees them, and the
   * plugin's position moves past them. Null (or no `selectEvents`): every event. Merges, unmerges and consent changes
   * are not filtered (see `kinds`). For a plugin that acts on a few events it can name (journeys re-evaluates stages on
   * identify events and the event names its rules read): loading the rest costs the server for nothing.
   * A selection that changes (an admin defines a new rule) applies from the next batch: events already passed over are
   * not delivered again, so a plugin that widens its selection catches up from `ctx.events.all()` itself.
   */
  selectEvents?: (ctx: C) => EventSelection | null | Promise<EventSelection | null>;
  /**
   * Handles a batch. A throw retries it; a batch that keeps failing is split until the failing
   * change is alone, which is then retried with backoff and finally dead-lettered with the error.
   * The same change can arrive again after a crash or a retry: make effects idempotent (key them by
   * `seq` or `event.id`).
   */
  handle(changes: Change[], ctx: C): Promise<void>;
}

/** Where a plugin's delivery stands (health query, `deliveryStatus`). */
export interface DeliveryStatus {
  consumer: string;
  /** Changes delivered since the cursor was created. */
  delivered: number;
  /** Changes committed and not yet delivered (counted up to 100,000). */
  lag: number;
  /** Seconds since the oldest undelivered change was stored (0 when none waits). */
  lagSeconds: number;
  /** Failed tries of the change at the head, and the last error. */
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date | null;
  /** Dead letters not replayed yet. */
  deadLetters: number;
}

/** A change a plugin failed on `attempts` times, kept for an admin to inspect and replay. */
export interface DeadLetter {
  id: string;
  consumer: string;
  kind: ChangeKind;
  /** The change's `seq`. */
  seq: string;
  profileId: string | null;
  error: string;
  attempts: number;
  createdAt: Date;
  replayedAt: Date | null;
}
