import PgBoss from 'pg-boss';
import type { Database } from '../database/database';
import type { Logger } from '../logger/logger';
import type { JobHandler, JobOptions, JobRunnerOptions, JobsService, QueueStatus, ScheduleWhen, SendOptions } from './job.types';
import { pgBossDb, pgBossTransactionDb } from './pg-boss-db.adapter';
import { QueueWorker, WorkerStopped, type ClaimedJob } from './queue.worker';

const NAME = /^[A-Za-z0-9_-]{1,100}$/;
const DEFAULTS: Required<JobOptions> = { retryLimit: 5, retryDelaySeconds: 5, retryBackoff: true, expireInSeconds: 900, concurrency: 1 };
/** The singleton key of the runs of an `every` schedule (their queue is stately: one waiting, one active). */
const EVERY_KEY = 'every';
const MAX_ERROR = 2000;

/** What a run of an `every` schedule carries: the schedule's definition travels from run to run. */
interface EveryTick {
  every: number;
  data: unknown;
}

/** The queue holding the runs of the `every` schedule of `queue` (names have no `:`, so no clash). */
const tickQueue = (queue: string) => `${queue}:every`;

/** A value as pg-boss's jsonb parameter: pg passes a string as it is and PostgreSQL parses it, so any JSON value goes (pg-boss types it as an object). */
const asJson = (value: unknown) => JSON.stringify(value ?? null) as unknown as object;

function describe(err: unknown): string {
  const m = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return m.length > MAX_ERROR ? `${m.slice(0, MAX_ERROR)}…` : m;
}

/** The first point of the grid `scheduled + k * every` (k >= 1) after `now`: periods missed are skipped. */
export function nextRun(scheduled: Date, every: number, now: number): Date {
  const k = Math.max(1, Math.floor((now - scheduled.getTime()) / every) + 1);
  return new Date(scheduled.getTime() + k * every);
}

function jobOptions(o: JobOptions): Required<JobOptions> {
  const r = { ...DEFAULTS, ...o };
  const int = (v: number, min: number, max: number, what: string) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`jobs: ${what} must be an integer from ${min} to ${max}, got ${v}`);
  };
  int(r.retryLimit, 0, 1000, 'retryLimit');
  int(r.retryDelaySeconds, 0, 86_400, 'retryDelaySeconds');
  int(r.expireInSeconds, 1, 86_399, 'expireInSeconds');
  int(r.concurrency, 1, 100, 'concurrency');
  if (typeof r.retryBackoff !== 'boolean') throw new RangeError('jobs: retryBackoff must be a boolean');
  return r;
}

const claimed = (j: PgBoss.JobWithMetadata<unknown>): ClaimedJob => ({ id: j.id, data: j.data, startAfter: j.startAfter, retryCount: j.retryCount, retryLimit: j.retryLimit });

/**
 * Jobs and schedules for plugins, on pg-boss 10 in the schema `rapport_jobs`, over core's own
 * connection pool. {@link forPlugin} gives each plugin its {@link JobsService}; core starts the
 * runner, stops it at shutdown, and reads {@link status} for health.
 *
 * Plugin queues are not run by pg-boss's `work()` but by a {@link QueueWorker} per queue: each
 * claim is a transaction (pg-boss `fetch` inside it) that rolls back when the runner is stopping, so
 * no handler starts after {@link stop}, and its completion is awaited.
 */
export class JobRunner {
  private readonly boss: PgBoss;
  private readonly schema: string;
  private readonly pollIntervalMs: number;
  private readonly handlers = new Map<string, { name: string; handler: JobHandler; options: Required<JobOptions> }>();
  /** Queues this server schedules with `every`. */
  private readonly everies = new Set<string>();
  private readonly workers = new Map<string, QueueWorker>();
  /** Workers of schedules removed: halted, still waited for at stop. */
  private readonly retired: QueueWorker[] = [];
  /** Queues known to exist. */
  private readonly queues = new Set<string>();
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    options: JobRunnerOptions = {},
  ) {
    this.schema = options.schema ?? 'rapport_jobs';
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.boss = new PgBoss({
      db: pgBossDb(db, this.schema, logger),
      schema: this.schema,
      // pg-boss creates its schema and tables at start, and migrates them when the library is
      // upgraded: the library's own versioned migrations (under an advisory lock, so servers starting
      // together are safe), not TypeORM's, and never `synchronize`.
      migrate: true,
      maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? 120,
      cronMonitorIntervalSeconds: options.cronMonitorIntervalSeconds ?? 30,
      cronWorkerIntervalSeconds: options.cronWorkerIntervalSeconds ?? 5,
      // No monitorStateIntervalSeconds: states are counted on demand, by status().
      // Defaults of jobs sent to a queue before any server called work() for it.
      retryLimit: DEFAULTS.retryLimit,
      retryDelay: DEFAULTS.retryDelaySeconds,
      retryBackoff: DEFAULTS.retryBackoff,
      expireInSeconds: DEFAULTS.expireInSeconds,
    });
    // Maintenance, cron and clock checks report failures (an outage) as events: logged, never thrown.
    this.boss.on('error', (err: Error & { code?: string; queue?: string }) => {
      this.logger.warn({ queue: err.queue, code: err.code, reason: err.message }, 'jobs: background work failed');
    });
  }

  /** The jobs service of one plugin: its queue names are prefixed with `<plugin>.`. */
  forPlugin(plugin: string): JobsService {
    const q = (name: string) => {
      if (typeof name !== 'string' || !NAME.test(name)) throw new RangeError(`jobs: queue name ${JSON.stringify(name)} is invalid: use 1-100 letters, digits, "_" or "-"`);
      return `${plugin}.${name}`;
    };
    return {
      work: async (name, handler, options) => this.work(q(name), name, handler as JobHandler, options),
      send: async (name, data, options) => this.send(q(name), data, options),
      schedule: async (name, when, data) => this.schedule(q(name), when, data),
      unschedule: async (name) => this.unschedule(q(name)),
    };
  }

  /** Starts pg-boss (creating or migrating its schema). Idempotent; the service's methods call it. */
  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('jobs: the job runner is stopped'));
    this.starting ??= this.boss.start().then(
      () => undefined,
      (err: unknown) => {
        this.starting = null;
        throw err;
      },
    );
    return this.starting;
  }

  /**
   * Stops claiming jobs at once (no handler starts from now on), waits up to `graceMs` for the
   * handlers running, then stops pg-boss. A handler still running then is left to finish (its job is
   * retried after `expireInSeconds` if it never completes). Does not close the database. Idempotent.
   */
  stop(graceMs = 10_000): Promise<void> {
    this.stopping ??= this.shutdown(graceMs);
    return this.stopping;
  }

  private async shutdown(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
    const left = await Promise.all([...this.workers.values(), ...this.retired].map((w) => w.stop(deadline)));
    clearTimeout(timer);
    const running = left.reduce((a, b) => a + b, 0);
    if (running) this.logger.warn({ running, graceMs }, 'jobs: handlers still running at shutdown; not waiting for them');
    await this.starting?.catch(() => undefined);
    await this.boss.stop({ graceful: false, close: false, wait: true }).catch((err: Error) => this.logger.warn({ reason: err.message }, 'jobs: stopping pg-boss failed'));
  }

  /** Counts of the jobs of every queue (pg-boss's internal ones left out), by queue name. */
  async status(): Promise<QueueStatus[]> {
    await this.start();
    const rows = await this.db.query<{ name: string; state: string | null; n: number }>(
      `SELECT q.name, j.state::text AS state, count(j.id)::int AS n
         FROM ${this.schema}.queue q LEFT JOIN ${this.schema}.job j ON j.name = q.name
        WHERE NOT starts_with(q.name, '__pgboss__')
        GROUP BY q.name, j.state
        ORDER BY q.name`,
    );
    const byQueue = new Map<string, Required<QueueStatus>>();
    for (const r of rows) {
      let s = byQueue.get(r.name);
      if (!s) byQueue.set(r.name, (s = { queue: r.name, queued: 0, active: 0, failed: 0, completed: 0 }));
      if (r.state === 'created' || r.state === 'retry') s.queued += r.n;
      else if (r.state === 'active') s.active += r.n;
      else if (r.state === 'failed') s.failed += r.n;
      else if (r.state === 'completed') s.completed += r.n;
    }
    return [...byQueue.values()];
  }

  private async work(queue: string, name: string, handler: JobHandler, options: JobOptions = {}): Promise<void> {
    const opts = jobOptions(options);
    if (typeof handler !== 'function') throw new TypeError('jobs: the handler must be a function');
    if (this.handlers.has(queue)) throw new Error(`jobs: queue "${name}" already has a handler`);
    this.handlers.set(queue, { name, handler, options: opts });
    try {
      await this.start();
      await this.applyQueue(queue, 'standard', opts);
      if (this.everies.has(queue)) await this.applyTickOptions(queue, opts);
    } catch (err) {
      this.handlers.delete(queue);
      throw err;
    }
    this.startWorker(queue, opts.concurrency, (limit, stopped) => this.claim(queue, limit, stopped), (job) => this.runJob(queue, queue, job, job.data));
    if (this.everies.has(queue)) this.startTicks(queue);
  }

  private async send(queue: string, data: unknown, options: SendOptions = {}): Promise<string | null> {
    const { singletonKey: key, startAfterSeconds: after = 0 } = options;
    if (!(Number.isFinite(after) && after >= 0)) throw new RangeError(`jobs: startAfterSeconds must be a number >= 0, got ${after}`);
    if (key !== undefined && (typeof key !== 'string' || !key)) throw new RangeError('jobs: singletonKey must be a non-empty string');
    await this.start();
    await this.ensureQueue(queue);
    const payload = asJson(data);
    const opts = after > 0 ? { startAfter: after } : {};
    const id =
      key === undefined
        ? await this.boss.send(queue, payload, opts)
        : await this.db.transaction(async (tx) => {
            // pg-boss 10 honours a singletonKey only on queues of other policies: here a lock on
            // (queue, key) and a look at what waits make it "one waiting job per key".
            await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${this.schema}:${queue}:${key}`]);
            const waiting = await tx.query(`SELECT 1 FROM ${this.schema}.job WHERE name = $1 AND singleton_key = $2 AND state IN ('created', 'retry') LIMIT 1`, [queue, key]);
            return waiting.length ? null : this.boss.send(queue, payload, { ...opts, singletonKey: key, db: pgBossTransactionDb(tx) });
          });
    const worker = this.workers.get(queue);
    if (id && worker && after > 0) worker.wakeAt(new Date(Date.now() + after * 1000));
    else if (id && worker) worker.wake();
    return id;
  }

  private async schedule(queue: string, when: ScheduleWhen, data: unknown): Promise<void> {
    if ('every' in when) {
      const every = when.every;
      if (!Number.isInteger(every) || every < 1000) throw new RangeError(`jobs: every must be an integer number of ms, at least 1000, got ${every}`);
      await this.start();
      await this.boss.unschedule(queue); // a cron schedule of the name, if any
      const ticks = tickQueue(queue);
      const handler = this.handlers.get(queue);
      if (handler) await this.applyTickOptions(queue, handler.options);
      else await this.boss.createQueue(ticks, { name: ticks, policy: 'stately' }); // options: work() sets them
      const tick = asJson({ every, data: data ?? null } satisfies EveryTick);
      // One run waits at most (stately queue, one key): the first server to schedule creates it, the
      // others find it and update it if the definition changed, keeping its due time (unless the new
      // period is shorter than what is left).
      const id = await this.boss.send(ticks, tick, { singletonKey: EVERY_KEY });
      if (!id) {
        await this.db.query(
          `UPDATE ${this.schema}.job SET data = $2::jsonb, start_after = LEAST(start_after, now() + $3 * interval '1 millisecond')
            WHERE name = $1 AND state IN ('created', 'retry') AND data IS DISTINCT FROM $2::jsonb`,
          [ticks, tick, every],
        );
      }
      this.everies.add(queue);
      if (this.handlers.has(queue)) this.startTicks(queue);
      this.workers.get(ticks)?.wake();
      return;
    }
    if (typeof when.cron !== 'string' || when.cron.trim().split(/\s+/).length !== 5) throw new RangeError(`jobs: cron must have 5 fields (minute hour day month weekday), got ${JSON.stringify(when.cron)}`);
    await this.start();
    await this.dropEvery(queue);
    await this.ensureQueue(queue);
    await this.boss.schedule(queue, when.cron, asJson(data), { tz: when.tz ?? 'UTC' });
  }

  private async unschedule(queue: string): Promise<void> {
    await this.start();
    await this.boss.unschedule(queue);
    await this.dropEvery(queue);
  }

  private async dropEvery(queue: string): Promise<void> {
    this.everies.delete(queue);
    const ticks = tickQueue(queue);
    const worker = this.workers.get(ticks);
    if (worker) {
      worker.halt();
      this.workers.delete(ticks);
      this.retired.push(worker);
    }
    await this.deleteQueue(ticks); // its waiting run with it
    this.queues.delete(ticks);
  }

  /**
   * pg-boss 10's deleteQueue() fails on a queue that still has jobs (its foreign key is ON DELETE
   * RESTRICT, checked at once: timgit/pg-boss#514). So the queue's partition goes first, with its
   * jobs (DROP waits for claims under way, so a run one of them enqueues goes too), then pg-boss's
   * own delete_queue.
   */
  private async deleteQueue(queue: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [q] = await tx.query<{ partition_name: string }>(`SELECT partition_name FROM ${this.schema}.queue WHERE name = $1 FOR UPDATE`, [queue]);
      if (!q) return;
      await tx.query(`DROP TABLE IF EXISTS ${this.schema}."${q.partition_name.replaceAll('"', '""')}"`);
      await tx.query(`SELECT ${this.schema}.delete_queue($1)`, [queue]);
    });
  }

  /** Creates the queue if needed and sets its job options (they apply to jobs sent from now on). */
  private async applyQueue(queue: string, policy: 'standard' | 'stately', o: Required<JobOptions>): Promise<void> {
    const q = { name: queue, policy, retryLimit: o.retryLimit, retryDelay: o.retryDelaySeconds, retryBackoff: o.retryBackoff, expireInSeconds: o.expireInSeconds };
    await this.boss.createQueue(queue, q);
    await this.boss.updateQueue(queue, q);
    this.queues.add(queue);
  }

  /**
   * Gives the runs of the `every` schedule of `queue` the options of its handler: their queue's, and
   * also the run waiting, which may have been sent (by `schedule()`) before any handler was known.
   */
  private async applyTickOptions(queue: string, o: Required<JobOptions>): Promise<void> {
    const ticks = tickQueue(queue);
    await this.applyQueue(ticks, 'stately', o);
    await this.db.query(
      `UPDATE ${this.schema}.job
          SET retry_limit = $2, retry_delay = CASE WHEN $4 THEN GREATEST($3::int, 1) ELSE $3::int END, retry_backoff = $4, expire_in = $5 * interval '1 second'
        WHERE name = $1 AND state IN ('created', 'retry')`,
      [ticks, o.retryLimit, o.retryDelaySeconds, o.retryBackoff, o.expireInSeconds],
    );
  }

  private async ensureQueue(queue: string): Promise<void> {
    if (this.queues.has(queue)) return;
    await this.boss.createQueue(queue); // nothing if it exists
    this.queues.add(queue);
  }

  private startWorker(queue: string, concurrency: number, claim: (limit: number, stopped: () => boolean) => Promise<ClaimedJob[]>, run: (job: ClaimedJob) => Promise<void>): void {
    if (this.stopping || this.workers.has(queue)) return;
    const worker = new QueueWorker({ queue, concurrency, pollIntervalMs: this.pollIntervalMs, claim, run, logger: this.logger });
    this.workers.set(queue, worker);
    worker.wake();
  }

  /** Runs the `every` schedule of `queue` here (one run at a time), with the queue's handler. */
  private startTicks(queue: string): void {
    const ticks = tickQueue(queue);
    this.startWorker(ticks, 1, (_limit, stopped) => this.claimTick(queue, stopped), (job) => this.runJob(ticks, queue, job, (job.data as EveryTick).data));
  }

  private claim(queue: string, limit: number, stopped: () => boolean): Promise<ClaimedJob[]> {
    return this.db.transaction(async (tx) => {
      const jobs = await this.boss.fetch(queue, { batchSize: limit, includeMetadata: true, db: pgBossTransactionDb(tx) });
      if (stopped()) throw new WorkerStopped();
      return jobs.map(claimed);
    });
  }

  /**
   * Claims the due run of an `every` schedule and, in the same transaction, enqueues the next one
   * (due at the next point of the period's grid): the schedule goes on whatever becomes of this run.
   * The queue is stately, so while this run is active the next one cannot be claimed (pg-boss's fetch
   * fails on the unique index, and finds nothing): runs never overlap.
   */
  private async claimTick(queue: string, stopped: () => boolean): Promise<ClaimedJob[]> {
    const ticks = tickQueue(queue);
    const { jobs, next } = await this.db.transaction(async (tx) => {
      const db = pgBossTransactionDb(tx);
      const jobs = await this.boss.fetch<EveryTick>(ticks, { batchSize: 1, includeMetadata: true, db });
      if (stopped()) throw new WorkerStopped();
      let next: Date | null = null;
      for (const job of jobs) {
        next = nextRun(job.startAfter, job.data.every, Date.now());
        await this.boss.send(ticks, asJson(job.data), { singletonKey: EVERY_KEY, startAfter: next, db });
      }
      return { jobs, next };
    });
    if (next) this.workers.get(ticks)?.wakeAt(next);
    return jobs.map(claimed);
  }

  /** Runs one job with the handler of `handlerQueue` and records the outcome in `queue`. Never rejects. */
  private async runJob(queue: string, handlerQueue: string, job: ClaimedJob, data: unknown): Promise<void> {
    const h = this.handlers.get(handlerQueue)!;
    try {
      await h.handler({ id: job.id, name: h.name, data });
    } catch (err) {
      const retry = job.retryCount < job.retryLimit;
      this.logger.warn({ queue, jobId: job.id, attempt: job.retryCount + 1, retry, reason: describe(err) }, retry ? 'jobs: a job failed; it will be retried' : 'jobs: a job failed for good');
      await this.boss.fail(queue, job.id, { message: describe(err) });
      return;
    }
    await this.boss.complete(queue, job.id);
  }
}
