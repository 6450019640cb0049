/**
 * Scheduled training (`trainEvery`) runs here, in a worker thread: its own event loop and its own
 * small pool, so fitting never blocks requests. Started by the plugin from the compiled `dist`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Database } from '@rapport/core';
import { Client } from 'pg';
import type { EaseOptions } from '../models';
import { MODEL_NAME } from './model-store';
import { trainRecommendations } from './train';

interface Job {
  url: string;
  ease: EaseOptions;
  keep: number;
  /** `trainEvery`, ms. */
  every: number;
}

/**
 * A round skips when a version was started less than this share of `trainEvery` ago (by any
 * server, or by `rapport train`): with n servers, one training per period instead of n.
 */
const SKIP_WITHIN = 0.9;

/** Advisory lock key of scheduled training: one run at a time across all server processes. */
const TRAINING_LOCK = 0x72656331; // "rec1"

async function run(job: Job): Promise<void> {
  // Every server (and every worker of a cluster) schedules training; the lock, held for the run's
  // session, lets one of them train and the others skip this round.
  const lock = new Client({ connectionString: job.url, application_name: 'rapport-train-lock', connectionTimeoutMillis: 10_000 });
  // A connection lost mid-run (a restart) is an error of this run, never an unhandled 'error' event.
  let lost: Error | null = null;
  lock.on('error', (err) => {
    lost ??= err;
  });
  await lock.connect();
  try {
    const [{ got }] = (await lock.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1) AS got', [TRAINING_LOCK])).rows;
    if (!got) {
      parentPort?.postMessage({ skipped: 'another server is training' });
      return;
    }
    const [{ age }] = (
      await lock.query<{ age: number | null }>(
        `SELECT (EXTRACT(EPOCH FROM now() - max(COALESCE((metrics->>'startedAt')::timestamptz, created_at))) * 1000)::float8 AS age
           FROM rec_model WHERE name = $1`,
        [MODEL_NAME],
      )
    ).rows;
    if (age !== null && age < SKIP_WITHIN * job.every) {
      parentPort?.postMessage({ skipped: `a version was started ${Math.round(age / 1000)} s ago (trainEvery ${job.every} ms)` });
      return;
    }
    await train(job);
  } finally {
    await lock.end().catch(() => undefined);
    if (lost) parentPort?.postMessage({ error: `the training lock connection was lost: ${(lost as Error).message}` });
  }
}

async function train(job: Job): Promise<void> {
  // No statement timeout: fitting reads whole tables. Waits for a connection stay bounded.
  const db = new Database({ url: job.url, poolSize: 2, acquireTimeoutMs: 10_000 });
  await db.connect({ migrate: false });
  try {
    const summary = await trainRecommendations(db, { ease: job.ease, keep: job.keep }, (message) => parentPort?.postMessage({ progress: message }));
    parentPort?.postMessage({ done: summary });
  } finally {
    await db.close();
  }
}

run(workerData as Job).catch((err: unknown) => parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) }));
