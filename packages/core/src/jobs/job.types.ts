/** One job as a handler receives it. `data` is what was sent, through JSON (a Date arrives as a string). */
export interface Job<T = unknown> {
  /** The job's id (the same across its retries). */
  id: string;
  /** The queue's name as the plugin gave it (without the plugin prefix). */
  name: string;
  data: T;
}

/** Handles one job. A throw (or a rejection) fails this attempt; see {@link JobOptions} for retries. */
export type JobHandler<T = unknown> = (job: Job<T>) => Promise<void>;

/**
 * How the jobs of a queue are run. They belong to the queue: {@link JobsService.work} sets them, and
 * they apply to the jobs sent from then on, by any server.
 */
export interface JobOptions {
  /** Retries after a failed attempt before the job is failed for good (default 5). */
  retryLimit?: number;
  /** Delay before a retry, in whole seconds (default 5); with `retryBackoff`, the base of an exponential backoff. */
  retryDelaySeconds?: number;
  /** Doubles the delay at each retry, with jitter (default true). */
  retryBackoff?: boolean;
  /**
   * Longest an attempt may run, in seconds (default 900, below 86,400). An attempt still active then
   * (its server crashed, or the handler hangs) is failed by the next maintenance pass and retried,
   * possibly on another server: a handler must finish well within it.
   */
  expireInSeconds?: number;
  /** Jobs of this queue this server runs at once (default 1). */
  concurrency?: number;
}

/** Options of {@link JobsService.send}. */
export interface SendOptions {
  /** While a job of this queue with this key waits (or waits for a retry), another send with the key is dropped (`send` returns null). */
  singletonKey?: string;
  /** Runs the job no sooner than this many seconds from now. */
  startAfterSeconds?: number;
}

/** When a schedule runs: every `every` ms (at least 1000), or on a 5-field cron expression (`tz` default UTC). */
export type ScheduleWhen = { every: number } | { cron: string; tz?: string };

/**
 * What a plugin sees (`ctx.jobs`): durable jobs and cluster-wide schedules in PostgreSQL. Queue names
 * are namespaced by plugin (`<plugin>.<name>`), so two plugins may use the same name. Names are
 * 1-100 letters, digits, `_` or `-`. Delivery is at least once: a handler may see a job again after
 * a crash, so make its effects idempotent.
 */
export interface JobsService {
  /**
   * Registers the handler of a queue on this server (once per name). A throw retries the job with
   * backoff (`retryLimit`, default 5), then it fails: it is kept, and counted as failed in the
   * runner's status. The options become the queue's (see {@link JobOptions}).
   */
  work<T = unknown>(name: string, handler: JobHandler<T>, options?: JobOptions): Promise<void>;
  /** Enqueues a job; returns its id, or null when a job with the same `singletonKey` is already queued. */
  send<T = unknown>(name: string, data?: T, options?: SendOptions): Promise<string | null>;
  /**
   * A cluster-wide schedule of the queue `name`: with any number of servers, one run per period,
   * handled by the queue's handler. Idempotent: calling it again (each server does at start) neither
   * duplicates it nor restarts its period; a changed `when` or `data` updates it.
   *
   * - `{ every }` (ms, at least 1000): the first run is due at once, then one per period, on a fixed
   *   grid (periods missed while no server ran are skipped, not caught up). Runs never overlap, also
   *   across servers; a run longer than the period delays the next one. Runs happen on the servers
   *   that called both `schedule` and `work` for the name. A server that crashes mid-run delays the
   *   schedule by at most the queue's `expireInSeconds` plus a maintenance interval; then the run is
   *   retried and the schedule goes on.
   * - `{ cron, tz }`: pg-boss's cron, at most one run per minute, evaluated every 30 s by one server.
   */
  schedule(name: string, when: ScheduleWhen, data?: unknown): Promise<void>;
  /** Removes the schedule of `name` (either kind; jobs already sent stay queued). */
  unschedule(name: string): Promise<void>;
}

/** The jobs of one queue now (for health checks). */
export interface QueueStatus {
  /** The queue's full name, `<plugin>.<name>`; the runs of an `every` schedule are in `<plugin>.<name>:every`. */
  queue: string;
  /** Waiting to run, including waiting for a retry. */
  queued: number;
  /** Running now (or abandoned by a crashed server, until they expire). */
  active: number;
  /** Failed for good, kept until archived (after 12 hours). */
  failed: number;
  /** Completed, until archived (after 12 hours). */
  completed?: number;
}

/**
 * Settings of the {@link JobRunner}. The defaults suit a server; tests shorten the intervals.
 */
export interface JobRunnerOptions {
  /** PostgreSQL schema of pg-boss's tables (default `rapport_jobs`). */
  schema?: string;
  /** How often this server asks the database for due jobs of each queue it works, in ms (default 2000). */
  pollIntervalMs?: number;
  /** How often expired attempts are failed (then retried) and finished jobs archived, in seconds (default 120; one server does it per interval). */
  maintenanceIntervalSeconds?: number;
  /** How often cron schedules are evaluated, in seconds (default 30, from 1 to 45; one server does it per interval). */
  cronMonitorIntervalSeconds?: number;
  /** How often due cron runs are moved into their queues, in seconds (default 5, from 1 to 45). */
  cronWorkerIntervalSeconds?: number;
}
