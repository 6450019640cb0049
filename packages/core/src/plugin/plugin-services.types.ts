/**
 * The typed, narrow services the plugin host hands each plugin (`ctx.consent`, `ctx.notify`, ...).
 * A plugin reaches core only through these: no pool, no core table, no service class. Each is an
 * interface, so a test can give a plugin a fake, and core can change what is behind it.
 */
import type { Logger } from '../logger/logger';
import type { DeliveryStatus } from '../delivery/delivery.types';
import type { JobsService } from '../jobs/job.types';
import type { ExtensionLookup } from './extension-point';

export type { Job, JobHandler, JobOptions, JobsService, ScheduleWhen, SendOptions } from '../jobs/job.types';

/** Runs one SQL statement with positional parameters (`$1`, `$2`, ...), returning the rows. */
export interface SqlRunner {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/**
 * The plugin's database: its own tables (created by its migrations), on core's pool. Core's tables
 * are not part of the contract: read core data through the other services.
 */
export interface PluginDatabase extends SqlRunner {
  /** Runs `work` in one transaction (retried on serialization failures and deadlocks). */
  transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T>;
  /** True while the database answers; false during an outage (the server answers 503 meanwhile). */
  readonly available: boolean;
}

/**
 * A person's consent, as the single decision rule of core reads it (the purpose's legal basis and
 * the person's decision: granted, refused, expired or none). No plugin writes consent SQL.
 */
export interface PluginConsent {
  /**
   * For each profile id: may its data be used for `purpose` now? Batched (one statement for any
   * number of ids). A merged-away id answers for the profile it was merged into. Unknown ids: false.
   */
  allows(profileIds: readonly string[], purpose: string): Promise<Map<string, boolean>>;
  /**
   * A SQL boolean expression, true when the profile in `profileColumn` (a column reference such as
   * `i.profile_id`) may be used for `purpose`, for set queries:
   * `SELECT ... FROM my_table i WHERE ${ctx.consent.sql('i.profile_id', 'personalization')}`.
   * Generated from the same legal-basis table as {@link PluginConsent.allows}, as one EXISTS the planner runs as a semi-join.
   */
  sql(profileColumn: string, purpose: string): string;
}

/** A trait value as {@link PluginTraits.read} gives it: a string, number or boolean as stored; otherwise null. */
export type PluginTraitValue = string | number | boolean | null;

/** Options of {@link PluginTraits.read}. */
export interface TraitReadOptions {
  /**
   * Stored with each audit entry of the read (the audit log's `requestId`) to tie the entries of one piece of work
   * together, e.g. `copy:<journey>`; 1 to 128 characters. Default: a random id per call.
   */
  ref?: string;
}

/**
 * Trait values of people, for a plugin outside a request (a job, its delivery handler, a hook): read for one of the
 * purposes the plugin declares (`purposes`), decided by the field policies as the field guard decides
 * `Profile.traits.<key>`, and audited. The plugin reads as a service, not as a person:
 *
 * - its only role is `plugin:<name>`, which no policy can list and which is never `admin`: a trait whose policy
 *   restricts roles is refused (rule `role`), and so is a personal-data trait no policy names (`consent.piiTraits`,
 *   denied by default, rule `default`), as for any request below admin;
 * - it acts for `purpose`: a trait governed by a policy that does not list it is refused (rule `purpose`); a trait no
 *   policy governs is open, as for a request;
 * - each person's consent for `purpose` always applies (the legal-basis rule of {@link PluginConsent}): a person it
 *   does not allow gives null for every key, whatever the policy says;
 * - every read is audited: one audit log entry (`read`, actor `plugin:<name>`, no key, the purpose, `ref`) per person
 *   for whom a value was returned, naming the `Profile.traits.<key>` fields read, committed before `read` resolves.
 *
 * There is no SQL expression form (as `RequestContext.traitSql` is for a request): the host could not tell which
 * people a set query read, so it could not audit them.
 */
export interface PluginTraits {
  /**
   * Throws unless this plugin may read each of `keys` for `purpose` (the part of the decision that does not depend on
   * the person); reads and audits nothing. For a check at definition time, before work is queued.
   *
   * @throws RapportError FORBIDDEN: field `purpose`, rule `declared` (the plugin does not declare `purpose`); field
   *   `traits.<key>`, rule `default`, `role` or `purpose` (the policy's denial, with its reason).
   * @throws ValidationError on `keys[i]`: a key that is blank or over 200 characters (`length`), dotted (`topLevel`:
   *   nested paths are not read), or not well-formed text (`text`).
   */
  check(keys: readonly string[], purpose: string): Promise<void>;
  /**
   * The current values of the top-level trait `keys` of each profile id (a merged-away id gives the profile it was
   * merged into; an unknown, deleted or malformed id gives nulls), for `purpose`: every id asked maps to a record of
   * every key. A value is null when the person's consent does not allow `purpose`, when the trait is absent or null,
   * and when it is an object or an array (nested data can have policies of its own). Every key is decided first
   * (as {@link PluginTraits.check}): one refused key reads nothing. One statement for the values, one for the audit.
   *
   * @throws RangeError for more than 10,000 ids or 50 keys in one call.
   */
  read(profileIds: readonly string[], keys: readonly string[], purpose: string, options?: TraitReadOptions): Promise<Map<string, Record<string, PluginTraitValue>>>;
}

/** A profile as a plugin may see it: who it is now, without personal data. */
export interface PluginProfileRef {
  /** The id asked about. */
  id: string;
  /** The live profile that id belongs to now (itself, or the survivor it was merged into). */
  liveId: string;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * Profiles, as plugins see them outside a request: who a profile is now, and no personal data.
 * Personal data is read in resolvers, through the request's field guard (policies, roles, the
 * request's purpose and the person's consent); background code has no caller to check it for.
 */
export interface PluginProfiles {
  /** The live profile behind each id (merges followed), or null for unknown or deleted ids. */
  resolve(ids: readonly string[]): Promise<Array<PluginProfileRef | null>>;
  /**
   * Holds these people against erasure until `tx` (a transaction of `ctx.db.transaction`) ends, and returns the ids
   * among them that still exist. Call it in a transaction that writes what the plugin knows of people (copies of their
   * data, scores, stages), before writing, and write only for the ids returned: an erasure under way has then
   * committed (the person is gone: write nothing), or waits until this transaction commits and its `onProfileDeleted`
   * then removes what it wrote. Without it, a write that read a person before an erasure and committed after it would
   * keep an erased person's data. Shared holders do not wait for each other; an erasure waits for the transactions
   * holding at the time, so keep them short. See docs/plugins.md#data-subject-requests.
   */
  hold(tx: SqlRunner, profileIds: readonly string[]): Promise<Set<string>>;
}

/** The plugin's event delivery, as the plugin itself sees it. */
export interface PluginEvents {
  /** Where this plugin's delivery stands (null when the plugin declares no `delivery`). */
  status(): Promise<DeliveryStatus | null>;
  /** Wakes delivery now instead of at its next poll (after a plugin wrote something it must see). */
  kick(): void;
  /**
   * A SQL relation (a parenthesised `SELECT`) of the stored events whose ids are in the `bigint[]` parameter `idsParam`
   * (a placeholder such as `$1`), for the plugin's own statements: a delivery handler can copy what it keeps of the
   * delivered events with one `INSERT ... SELECT`, so their data never travels to Node and back.
   *
   * ```ts
   * await tx.query(`INSERT INTO my_event (event_id, profile_id, name) SELECT e.id, e.profile_id, e.name
   *   FROM ${ctx.events.sql('$1')} e`, [changes.flatMap((c) => (c.kind === 'event' ? [c.event.id] : []))]);
   * ```
   *
   * Columns: `id` (bigint), `message_id`, `profile_id` (the profile the event is on now), `origin_profile_id`, `type`,
   * `name`, `group_id`, `category`, `user_id`, `anonymous_id`, `properties`, `traits`, `context` (jsonb), `timestamp`,
   * `original_timestamp`, `sent_at`, `received_at` (timestamptz): the fields of a delivered event, as columns. An erased
   * event is not there. Only for a plugin whose `delivery` receives events (it reads no more than its delivery
   * could): throws otherwise. See docs/plugins.md#copying-events-in-sql.
   */
  sql(idsParam: string): string;
  /**
   * A SQL relation (a parenthesised `SELECT`) of every stored event, with the columns of {@link PluginEvents.sql}, for a
   * plugin that answers from the events themselves instead of keeping a copy of them (journeys' funnels and retention).
   * Merges, unmerges and erasure are already applied: `profile_id` is the profile each event is on now, and an erased
   * event is not there. The planner sees through it, so a statement's conditions reach core's indexes: by profile
   * (`profile_id`, then `type`, `name`, `timestamp`) and by name (`type`, `name`, `profile_id`, `timestamp`, `id`).
   *
   * ```ts
   * const rows = await ctx.db.query(`SELECT e.profile_id, min(e.timestamp) AS first FROM ${ctx.events.all()} e
   *   WHERE e.type = 'track' AND e.name = $1 GROUP BY e.profile_id`, ['Order Completed']);
   * ```
   *
   * Only for a plugin whose `delivery` receives events from history (`from: 'history'`): it could copy every event
   * anyway, so reading them in place gives it nothing more. Throws otherwise. Rows are raw stored data, as a delivery's
   * are: what the plugin answers from them is its own to guard (consent, k-anonymity). See
   * docs/plugins.md#reading-every-event-in-place.
   */
  all(): string;
}

/** Handles one message of a topic. */
export type TopicHandler = (payload: string) => void;

/**
 * Messages between the server processes of one deployment (cache invalidation, "a new model is
 * stored"), on PostgreSQL LISTEN/NOTIFY. Topics are the plugin's own (each plugin's topic is its
 * own channel). A process does not receive its own messages: it applied the change already.
 */
export interface PluginNotify {
  /** Largest payload, in bytes; split bigger ones. */
  readonly maxPayload: number;
  /** True while messages from other processes are being received. Caches must not serve from memory while false. */
  readonly listening: boolean;
  /**
   * Sends `payload` to every other process. With `tx` it is sent when that transaction commits
   * (and never if it rolls back), to every process, this one included.
   */
  publish(topic: string, payload: string, tx?: SqlRunner): Promise<void>;
  /**
   * Receives a topic's messages from other processes. `onReset` runs after the connection was
   * lost and came back (messages may have been missed: drop what you cached). Returns the unsubscribe.
   */
  subscribe(topic: string, onMessage: TopicHandler, onReset?: () => void): Promise<() => void>;
}

/**
 * Counters and gauges a plugin reports, named `rapport_plugin_<plugin>_<name>`. They are kept in
 * core's metrics registry and served with the server's at `/metrics` (docs/operations.md).
 */
export interface PluginMetrics {
  /** A monotonically increasing count (`inc`). */
  counter(name: string, help: string): { inc(by?: number): void };
  /** A value that goes up and down (`set`), or is read when metrics are collected (`collect`). */
  gauge(name: string, help: string, collect?: () => number): { set(value: number): void };
  /**
   * A gauge with labels, read when metrics are collected: `collect` returns every series now (for
   * example `[{ labels: { model: 'ease', version: '3' }, value: 1 }]`); a series it stops returning
   * disappears. Keep label values few: each combination is a series of its own (never an id or a key).
   */
  labelledGauge<L extends string>(name: string, help: string, labelNames: readonly L[], collect: () => ReadonlyArray<{ labels: Readonly<Record<L, string>>; value: number }>): void;
}

/**
 * Everything a plugin's hooks, delivery handler, jobs and loaders can reach: its own name, logger,
 * database and the narrow core services. Nothing else of core.
 */
export interface PluginContext {
  /** The plugin's own name. */
  readonly name: string;
  /** A child logger tagged with the plugin name. Never log personal data. */
  readonly logger: Logger;
  /** The plugin's own tables, on core's pool. */
  readonly db: PluginDatabase;
  readonly consent: PluginConsent;
  /** Trait values of people, for the plugin's declared purposes, decided by the field policies and audited. */
  readonly traits: PluginTraits;
  readonly profiles: PluginProfiles;
  readonly events: PluginEvents;
  readonly jobs: JobsService;
  readonly notify: PluginNotify;
  readonly metrics: PluginMetrics;
  /** Extension points other plugins offer (declare the offering plugin in `dependsOn`). */
  readonly extensions: ExtensionLookup;
}
