import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@rapport/testing';
import { Database } from '../src/database/database';
import { createLogger } from '../src/logger/logger';
import { JobRunner } from '../src/jobs/job-runner.service';
import type { JobRunnerOptions } from '../src/jobs/job.types';

// This file's own database (so its own rapport_jobs schema); two Database handles play two servers.
let tdb: TestDatabase;
let db1: Database;
let db2: Database;
const runners: JobRunner[] = [];
const logger = createLogger();
/** Fast polling for tests; a server keeps the defaults (2 s polls, 2 min maintenance). */
const FAST: JobRunnerOptions = { pollIntervalMs: 100, maintenanceIntervalSeconds: 1, cronWorkerIntervalSeconds: 1, cronMonitorIntervalSeconds: 1 };

function runner(db: Database): JobRunner {
  const r = new JobRunner(db, logger, FAST);
  runners.push(r);
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(25);
  }
}

async function statusOf(r: JobRunner, queue: string) {
  return (await r.status()).find((s) => s.queue === queue);
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  db1 = new Database({ url: tdb.url });
  db2 = new Database({ url: tdb.url });
  await Promise.all([db1.connect({ migrate: false }), db2.connect({ migrate: false })]);
});
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop(2000)));
});
afterAll(async () => {
  await db1?.close();
  await db2?.close();
  await tdb?.drop();
});

describe('JobRunner', () => {
  it('delivers sent data to the handler, and retries a throwing handler until it succeeds', async () => {
    const jobs = runner(db1).forPlugin('p1');
    const got: Array<{ id: string; name: string; data: unknown }> = [];
    await jobs.work('echo', async (job) => void got.push(job));
    const id = await jobs.send('echo', { a: 1, list: ['x'] });
    await until(() => got.length === 1);
    expect(got[0]).toEqual({ id, name: 'echo', data: { a: 1, list: ['x'] } });

    let attempts = 0;
    await jobs.work('flaky', async () => {
      attempts++;
      if (attempts <= 2) throw new Error(`attempt ${attempts} fails`);
    }, { retryBackoff: false, retryDelaySeconds: 0 });
    await jobs.send('flaky', 'a string is fine too');
    const r = runners[0]!;
    await until(async () => (await statusOf(r, 'p1.flaky'))?.completed === 1);
    expect(attempts).toBe(3);
    expect(await statusOf(r, 'p1.flaky')).toEqual({ queue: 'p1.flaky', queued: 0, active: 0, failed: 0, completed: 1 });
  });

  it('fails a job for good after retryLimit retries, and shows it in status()', async () => {
    const r = runner(db1);
    const jobs = r.forPlugin('p2');
    let attempts = 0;
    await jobs.work('doomed', async () => {
      attempts++;
      throw new Error('never works');
    }, { retryLimit: 2, retryBackoff: false, retryDelaySeconds: 0 });
    await jobs.send('doomed', { n: 1 });
    await until(async () => (await statusOf(r, 'p2.doomed'))?.failed === 1);
    expect(attempts).toBe(3); // the first try and two retries
    expect(await statusOf(r, 'p2.doomed')).toEqual({ queue: 'p2.doomed', queued: 0, active: 0, failed: 1, completed: 0 });
    await sleep(500);
    expect(attempts).toBe(3);
  });

  it('runs an `every` schedule once per period across two servers, never two runs at once', async () => {
    const one = runner(db1);
    const two = runner(db2);
    const runs: Array<{ server: string; start: number; end: number; data: unknown }> = [];
    const worker = (server: string) => async (job: { data: unknown }) => {
      const start = Date.now();
      await sleep(400);
      runs.push({ server, start, end: Date.now(), data: job.data });
    };
    const t0 = Date.now();
    for (const [server, r] of [['one', one], ['two', two]] as const) {
      const jobs = r.forPlugin('rec');
      await jobs.schedule('train', { every: 1500 }, { model: 'm1' });
      await jobs.work('train', worker(server));
    }
    await sleep(2300 - (Date.now() - t0));
    // A server restarting mid-period calls schedule() again: neither a second chain nor a reset period.
    await two.forPlugin('rec').schedule('train', { every: 1500 }, { model: 'm1' });
    const ticks = await statusOf(one, 'rec.train:every');
    expect(ticks?.queued).toBe(1);
    await sleep(6000 - (Date.now() - t0));
    await Promise.all([one.stop(2000), two.stop(2000)]);

    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.length).toBeLessThanOrEqual(5);
    const sorted = [...runs].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      expect(sorted[i]!.start).toBeGreaterThanOrEqual(sorted[i - 1]!.end); // no overlap
      expect(sorted[i]!.start - sorted[i - 1]!.start).toBeGreaterThan(1200); // one per period (1500 ms, less polling jitter)
    }
    expect(runs.every((r) => JSON.stringify(r.data) === JSON.stringify({ model: 'm1' }))).toBe(true);
  });

  it('an `every` run abandoned mid-way (its server died) expires, is retried elsewhere, and the schedule goes on', async () => {
    const opts = { expireInSeconds: 1, retryBackoff: false, retryDelaySeconds: 0 };
    // Server one takes the first run and "dies" in it: its handler never returns and it stops polling.
    const one = runner(db1);
    let hung = false;
    await one.forPlugin('crash').schedule('train', { every: 1500 });
    await one.forPlugin('crash').work('train', async () => {
      hung = true;
      await new Promise(() => undefined);
    }, opts);
    await until(() => hung);
    await one.stop(50);
    // Server two: pg-boss maintenance fails the expired run (then retried), and runs go on here.
    const two = runner(db2);
    const runs: number[] = [];
    await two.forPlugin('crash').schedule('train', { every: 1500 });
    await two.forPlugin('crash').work('train', async () => void runs.push(Date.now()), opts);
    await until(() => runs.length >= 2, 15_000);
    const ticks = await statusOf(two, 'crash.train:every');
    expect(ticks?.queued).toBe(1);
  });

  it('keeps cron schedules in pg-boss, and one kind of schedule per name', async () => {
    const r = runner(db1);
    const jobs = r.forPlugin('p7');
    const schedules = () => db1.query<{ name: string; cron: string; timezone: string }>('SELECT name, cron, timezone FROM rapport_jobs.schedule ORDER BY name');
    await jobs.schedule('nightly', { cron: '0 3 * * *', tz: 'Europe/Paris' }, { full: true });
    await jobs.schedule('nightly', { cron: '30 3 * * *', tz: 'Europe/Paris' }, { full: true }); // updates it
    expect(await schedules()).toEqual([{ name: 'p7.nightly', cron: '30 3 * * *', timezone: 'Europe/Paris' }]);
    await jobs.schedule('nightly', { every: 60_000 }); // now an `every`: the cron goes
    expect(await schedules()).toEqual([]);
    expect(await statusOf(r, 'p7.nightly:every')).toMatchObject({ queued: 1 });
    await jobs.unschedule('nightly');
    expect(await statusOf(r, 'p7.nightly:every')).toBeUndefined();
    await expect(jobs.schedule('x', { cron: '*/5 * * * * *' })).rejects.toThrow(/5 fields/);
    await expect(jobs.schedule('x', { every: 999 })).rejects.toThrow(/at least 1000/);
  });

  it('stop() waits for a running handler (up to graceMs), and no handler starts after it', async () => {
    const r = runner(db1);
    const jobs = r.forPlugin('p4');
    let started = 0;
    let finished = 0;
    await jobs.work('slow', async () => {
      started++;
      await sleep(800);
      finished++;
    });
    await jobs.send('slow', 1);
    await jobs.send('slow', 2); // waits: concurrency 1
    await until(() => started === 1);
    const t = Date.now();
    await r.stop(5000);
    expect(finished).toBe(1);
    expect(Date.now() - t).toBeGreaterThanOrEqual(500);
    await expect(jobs.send('slow', 3)).rejects.toThrow(/stopped/);

    // Another server (not working this queue) sees the second job still waiting; nothing starts it here.
    const other = runner(db2);
    await other.forPlugin('p4').send('slow', 4);
    await sleep(1000);
    expect(started).toBe(1);
    expect(await statusOf(other, 'p4.slow')).toMatchObject({ queued: 2, active: 0, completed: 1 });

    // The grace is a bound: a handler that does not finish does not hold stop() longer.
    const stuck = runner(db1);
    let release!: () => void;
    const gate = new Promise<void>((ok) => (release = ok));
    let stuckStarted = false;
    await stuck.forPlugin('p4b').work('stuck', async () => {
      stuckStarted = true;
      await gate;
    });
    await stuck.forPlugin('p4b').send('stuck');
    await until(() => stuckStarted);
    const t2 = Date.now();
    await stuck.stop(300);
    expect(Date.now() - t2).toBeLessThan(2000);
    release();
  });

  it('keeps plugins apart: the same queue name in two plugins are two queues', async () => {
    const r = runner(db1);
    const a = r.forPlugin('a');
    const b = r.forPlugin('b');
    const gotA: unknown[] = [];
    const gotB: unknown[] = [];
    await a.work('x', async (job) => void gotA.push(job.data));
    await b.work('x', async (job) => void gotB.push(job.data));
    await a.send('x', { from: 'a' });
    await b.send('x', { from: 'b' });
    await b.send('x', { from: 'b', again: true });
    await until(() => gotA.length + gotB.length === 3);
    await sleep(300);
    expect(gotA).toEqual([{ from: 'a' }]);
    expect(gotB).toEqual(expect.arrayContaining([{ from: 'b' }, { from: 'b', again: true }]));
    expect(gotB).toHaveLength(2);
    const names = (await r.status()).map((s) => s.queue);
    expect(names).toEqual(expect.arrayContaining(['a.x', 'b.x']));
    await expect(a.send('b.x' as string)).rejects.toThrow(/invalid/);
  });

  it('drops a send whose singletonKey is already queued', async () => {
    const r = runner(db1);
    const jobs = r.forPlugin('p6');
    const first = await jobs.send('rebuild', { n: 1 }, { singletonKey: 'k', startAfterSeconds: 60 });
    const second = await jobs.send('rebuild', { n: 2 }, { singletonKey: 'k' });
    const other = await jobs.send('rebuild', { n: 3 }, { singletonKey: 'k2' });
    expect(first).toEqual(expect.any(String));
    expect(second).toBeNull();
    expect(other).toEqual(expect.any(String));
    expect(await statusOf(r, 'p6.rebuild')).toMatchObject({ queued: 2 });
  });
});
