/**
 * Scheduled training (`trainEvery`) runs here, in a worker thread: its own event loop and its own
 * small pool, so fitting never blocks requests. Started by the plugin from the compiled `dist`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Database } from '@rapport/core';
import type { EaseOptions } from '../models';
import { trainRecommendations } from './train';

interface Job {
  url: string;
  ease: EaseOptions;
  keep: number;
}

async function run(job: Job): Promise<void> {
  const db = new Database({ url: job.url, poolSize: 2 });
  await db.connect({ migrate: false });
  try {
    const summary = await trainRecommendations(db, { ease: job.ease, keep: job.keep }, (message) => parentPort?.postMessage({ progress: message }));
    parentPort?.postMessage({ done: summary });
  } finally {
    await db.close();
  }
}

run(workerData as Job).catch((err: unknown) => parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) }));
