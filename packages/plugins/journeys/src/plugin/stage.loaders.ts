/** Request loaders of stages: a person's place in a journey, batched over every profile a request asks about. */
import type { PluginContext } from '@rapport/core';
import DataLoader from 'dataloader';
import { loadJourneys, type StoredJourney } from './journey-definition.store';

/** A person's place in a journey, as `Profile.journey` answers it. */
export interface ProfileJourney {
  journey: string;
  stage: string;
  enteredAt: Date;
  history: { stage: string; enteredAt: Date; leftAt: Date | null }[];
}

/** Stage loaders, created per request. */
export interface StageLoaders {
  /** Keyed by `stageKey(journey, profileId)`; null when the person is in no stage of the journey. */
  journeyOf: DataLoader<string, ProfileJourney | null>;
  /** The journeys, read once per request. */
  journeys(): Promise<StoredJourney[]>;
}

/** Most visits `history` returns (the latest). */
export const MAX_HISTORY = 100;
const SEP = '\u0000';
/** The key of `journeyOf`. */
export const stageKey = (journey: string, profileId: string): string => `${journey}${SEP}${profileId}`;

/** Builds the loaders: one pair of statements for every (journey, profile) a request asks about. */
export function createStageLoaders(ctx: PluginContext): StageLoaders {
  let journeys: Promise<StoredJourney[]> | null = null;
  return {
    journeys: () => (journeys ??= loadJourneys(ctx.db)),
    journeyOf: new DataLoader<string, ProfileJourney | null>(async (keys) => {
      const pairs = keys.map((k) => k.split(SEP) as [string, string]);
      const args = [pairs.map(([j]) => j), pairs.map(([, p]) => p)];
      // One statement: the open visit is the current stage, so the stage and its history come from one snapshot.
      const visits = await ctx.db.query<{ journey: string; profile_id: string; stage: string; entered_at: Date; left_at: Date | null }>(
        `SELECT h.journey, h.profile_id, h.stage, h.entered_at, h.left_at
           FROM unnest($1::text[], $2::uuid[]) AS k(journey, profile_id)
           CROSS JOIN LATERAL (SELECT * FROM journeys_stage_history h
              WHERE h.profile_id = k.profile_id AND h.journey = k.journey ORDER BY h.id DESC LIMIT ${MAX_HISTORY}) h
          ORDER BY h.id`,
        args,
      );
      const by = new Map<string, ProfileJourney>();
      const history = new Map<string, ProfileJourney['history']>();
      for (const v of visits) {
        const key = stageKey(v.journey, v.profile_id);
        const h = history.get(key) ?? [];
        history.set(key, h);
        h.push({ stage: v.stage, enteredAt: v.entered_at, leftAt: v.left_at });
        if (v.left_at === null) by.set(key, { journey: v.journey, stage: v.stage, enteredAt: v.entered_at, history: h });
      }
      return keys.map((k) => by.get(k) ?? null);
    }),
  };
}
