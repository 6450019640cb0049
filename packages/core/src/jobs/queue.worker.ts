import type { Logger } from '../logger/logger';

/** A job claimed from the database (state active, ours to run). */
export interface ClaimedJob<T = unknown> {
  id: string;
  data: T;
  /** When it was due. */
  startAfter: Date;
  /** Failed attempts before this one. */
  retryCount: number;
  /** Retries allowed after a failed attempt. */
  retryLimit: number;
}

/** Thrown inside a claim's transaction when the worker stopped meanwhile: the claim rolls back. */
export class WorkerStopped extends Error {
  constructor() {
    super('the worker stopped');
  }
}

/** What a {@link QueueWorker} runs. */
export interface QueueWorkerSpec {
  queue: string;
  concurrency: number;
  pollIntervalMs: number;
  /**
   * Claims up to `limit` due jobs. It must call `stopped()` before its transaction commits and throw
   * {@link WorkerStopped} when true, so that no job is claimed once the worker is stopping.
   */
  claim(limit: number, stopped: () => boolean): Promise<ClaimedJob[]>;
  /** Runs one claimed job and records its end; never rejects. */
  run(job: ClaimedJob): Promise<void>;
  logger: Logger;
}

/**
 * Polls one queue: every `pollIntervalMs`, when told ({@link wake}), and as soon as a slot frees up,
 * it claims as many due jobs as it has free slots (`concurrency`) and runs them. Timers are unref'd.
 */
export class QueueWorker {
  private readonly running = new Set<Promise<void>>();
  private polling: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private alarm: NodeJS.Timeout | null = null;
  private stopped = false;
  private failing = false;

  constructor(private readonly spec: QueueWorkerSpec) {}

  /** Polls now (or right after the poll under way). */
  wake(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.polling = this.poll().finally(() => {
      this.polling = null;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.wake();
      } else {
        this.timer = setTimeout(() => this.wake(), this.spec.pollIntervalMs).unref();
      }
    });
  }

  /** Also polls at `at` (a job known to be due then). */
  wakeAt(at: Date): void {
    if (this.stopped) return;
    if (this.alarm) clearTimeout(this.alarm);
    this.alarm = setTimeout(() => this.wake(), Math.max(0, at.getTime() - Date.now())).unref();
  }

  private async poll(): Promise<void> {
    const free = this.spec.concurrency - this.running.size;
    if (free <= 0) return;
    let jobs: ClaimedJob[];
    try {
      jobs = await this.spec.claim(free, () => this.stopped);
      if (this.failing) this.spec.logger.info({ queue: this.spec.queue }, 'jobs: polling works again');
      this.failing = false;
    } catch (err) {
      if (err instanceof WorkerStopped) return;
      // The database is unreachable or failing: said once, polling goes on.
      if (!this.failing) this.spec.logger.warn({ queue: this.spec.queue, code: (err as { code?: string }).code, reason: (err as Error).message }, 'jobs: polling failed');
      this.failing = true;
      return;
    }
    for (const job of jobs) {
      const done: Promise<void> = this.spec.run(job).catch(() => undefined).finally(() => {
        this.running.delete(done);
        this.wake();
      });
      this.running.add(done);
    }
  }

  /** Stops polling (running jobs go on). */
  halt(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.alarm) clearTimeout(this.alarm);
  }

  /**
   * Stops polling, lets a claim under way finish (its jobs start), and waits for running jobs until
   * `deadline`. Returns how many are still running.
   */
  async stop(deadline: Promise<void>): Promise<number> {
    this.halt();
    await Promise.race([this.polling, deadline]);
    await Promise.race([Promise.allSettled([...this.running]), deadline]);
    return this.running.size;
  }
}
