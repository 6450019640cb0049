import type { EventField } from '../service/event.service';
import type { Change, ChangeKind, DeadLetter, DeliveryStatus, EventSelection } from './delivery.types';

/** A change as the transport carries it: a position and a reference, loaded into a {@link Change} on delivery. */
export interface TransportRow {
  /** The change's id (`seq` of the change a plugin sees). */
  id: string;
  /** The position's second part (PostgreSQL: the writing transaction); opaque to delivery. */
  tx: string;
  kind: ChangeKind;
  ref: string;
  profile_id: string | null;
}

/** A consumer's claim on its next changes: held by one process until it advances, releases or the lease ends. */
export interface Claim {
  /** Failed tries of the change at the head. */
  attempts: number;
  /** Up to the asked number of changes after the consumer's position, in order. */
  rows: TransportRow[];
}

/**
 * Where changes come from and where each consumer's position, retries and dead letters are kept.
 * {@link EventDelivery} decides what to deliver, retry, split and dead-letter; a transport only
 * stores and reads. PostgreSQL (the outbox written by triggers in the storing transaction) is the
 * default; a broker can implement this without any plugin changing.
 */
export interface DeliveryTransport {
  /** Creates the consumer's position if it has none: at the start of history, or now. Read once. */
  open(consumer: string, from: 'history' | 'now'): Promise<void>;
  /**
   * Leases the consumer to `owner` for `leaseMs` and reads up to `limit` changes after its
   * position. Null when another owner holds it, or its head is waiting for a retry.
   */
  claim(consumer: string, owner: string, leaseMs: number, limit: number): Promise<Claim | null>;
  /** Extends `owner`'s lease while its plugin still handles a batch. False when the lease was lost. */
  renew(consumer: string, owner: string, leaseMs: number): Promise<boolean>;
  /**
   * The changes the rows refer to, in the rows' order (a row whose record is gone yields none);
   * events with `eventFields` only (and those every event has) when given; only the events `select` selects, when given.
   */
  load(rows: TransportRow[], eventFields?: readonly EventField[], select?: EventSelection | null): Promise<Change[]>;
  /** Moves the position past `last`, counts `delivered`, clears retries, releases. False when the lease was lost. */
  advance(consumer: string, owner: string, last: TransportRow, delivered: number): Promise<boolean>;
  /** Releases the lease without moving; records `error` when given. */
  release(consumer: string, owner: string, error?: string): Promise<void>;
  /** Records a failed try of the head and when to try again, and releases. */
  retryLater(consumer: string, owner: string, attempts: number, error: string, waitMs: number): Promise<void>;
  /** Keeps `row` as a dead letter and moves past it, in one step. */
  deadLetter(consumer: string, owner: string, row: TransportRow, error: string, attempts: number): Promise<void>;
  /** Releases every lease `owner` holds (shutdown). */
  releaseAll(owner: string): Promise<void>;
  /** Where each consumer stands. */
  status(consumers: string[]): Promise<DeliveryStatus[]>;
  /** Dead letters, oldest first. */
  deadLetters(opts: { consumer?: string | null; first?: number; includeReplayed?: boolean }): Promise<DeadLetter[]>;
  /** The dead letters with these ids that were not replayed yet, with their rows. */
  letters(ids: string[]): Promise<Array<{ id: string; consumer: string; row: TransportRow }>>;
  /** Marks a dead letter replayed, or records that its replay failed again. */
  replayed(id: string, error: string | null): Promise<void>;
}
