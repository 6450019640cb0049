import type { SqlRunner } from '@rapport/core';
import type { Runtime } from './runtime';

/** What `recommendationModel` reports (see its GraphQL descriptions). */
export interface ModelStatus {
  model: string;
  served: string;
  version: number | null;
  trainedAt: Date | null;
  trainedItems: number;
  learnedItems: number;
  /** @deprecated the same as `trainedItems`. */
  items: number;
  recommendableItems: number;
  trainEverySeconds: number | null;
  nextTrainingAt: Date | null;
  waitingFor: string | null;
  lastError: string | null;
}

/**
 * The next start of a schedule of period `every` that ran at `last`: runs are on a fixed grid, so
 * `last` plus a whole number of periods, the first one still ahead.
 */
function nextRun(last: Date, every: number): Date {
  const periods = Math.max(1, Math.ceil((Date.now() - last.getTime()) / every));
  return new Date(last.getTime() + periods * every);
}

/**
 * What this server serves and when the next training runs: the model loaded here, what a profile
 * with a history gets (`served`), the catalog's recommendable items, and, before a first version is
 * stored, what the first training waits for (counted now).
 */
export async function modelStatus(rt: Runtime): Promise<ModelStatus> {
  const m = rt.model.current;
  const [s, stored] = await Promise.all([rt.catalog.get(), rt.hasStoredModel()]);
  const every = rt.opts.trainEvery;
  let waitingFor: string | null = null;
  if (!stored) {
    const r = await rt.readiness();
    const t = rt.opts.firstTraining;
    const u = rt.opts.ease.minItemUsers ?? 5;
    const counts = (least: string) =>
      `${r.interactions} of ${least}${t.interactions} interactions of consenting profiles, ${r.items} of ${least}${t.items} items with ${u}+ such profiles`;
    waitingFor = !every
      ? `scheduled training is off: run \`rapport train recommendations\` (${counts('')})`
      : r.ready
        ? `enough data (${counts('')}): the first model trains at the next check, within ${Math.round(rt.opts.firstTrainingCheckMs / 1000)} s`
        : `the first model trains once there are ${counts('at least ')}`;
  }
  const trained = m?.itemIds.length ?? 0;
  let recommendable = 0;
  for (let i = 0; i < s.available.length; i++) recommendable += s.available[i];
  return {
    model: m ? 'ease' : 'popularity',
    served: m ? 'ease' : s.postings.length ? 'attributes' : 'popularity',
    version: m?.version ?? null,
    trainedAt: m?.createdAt ?? null,
    trainedItems: trained,
    learnedItems: m?.learned.size ?? 0,
    items: trained,
    recommendableItems: recommendable,
    trainEverySeconds: every ? Math.round(every / 1000) : null,
    nextTrainingAt: stored && every ? await nextTraining(rt.ctx.db, every) : null,
    waitingFor,
    lastError: rt.model.lastError,
  };
}

/** The next start of the `train` schedule: its last start (any server) plus whole periods; null before its first run. */
async function nextTraining(db: SqlRunner, every: number): Promise<Date | null> {
  const [row] = await db.query<{ last_run: Date }>("SELECT last_run FROM rec_schedule_run WHERE name = 'train'");
  return row ? nextRun(row.last_run, every) : null;
}
