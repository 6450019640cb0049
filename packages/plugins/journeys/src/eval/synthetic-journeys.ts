/**
 * A seeded generator of synthetic journeys with known ground truth, for tests and the bench: each person walks the
 * funnel's steps once, in order, up to a planned drop-off, with random gaps (some longer than the window), among
 * noise events whose names are not steps. The truth is how far each person got within the window, for an ordered
 * funnel over those steps.
 */

import { seededRandom } from '@rapport/core';

/** A generated event; `person` indexes the people, `id` is unique and increasing in generation order. */
export interface SyntheticEvent {
  id: number;
  person: number;
  name: string;
  ts: number;
  props: Record<string, string | number>;
}

export interface SyntheticOptions {
  seed: number;
  people: number;
  /** The funnel's event names, in order. */
  steps: string[];
  /** Names of events that are not steps. */
  noise: string[];
  /** Events per person in all (steps done plus noise), at least the number of steps. */
  eventsPerPerson: number;
  /** The conversion window the truth is computed for, in ms. */
  windowMs: number;
  /** Time of the earliest event (epoch ms). */
  startMs: number;
  /** Chance to go on to each next step (default 0.6). */
  continueRate?: number;
  /** Chance that a gap is longer than the whole window (default 0.1). */
  lateRate?: number;
}

/** A seeded PRNG of floats in [0, 1): core's `seededRandom` (mulberry32), under the name the fixtures use. */
export const prng = seededRandom;

/** Generates the journeys; `reached[p]` is how many steps person p completed within the window (0 to steps). */
export function generateJourneys(o: SyntheticOptions): { events: SyntheticEvent[]; reached: number[] } {
  const rnd = prng(o.seed);
  const cont = o.continueRate ?? 0.6;
  const late = o.lateRate ?? 0.1;
  const n = o.steps.length;
  const gapMax = Math.max(1, Math.floor(o.windowMs / n));
  const events: SyntheticEvent[] = [];
  const reached: number[] = [];
  let id = 0;
  for (let p = 0; p < o.people; p++) {
    const plan = rnd() < 0.85 ? 1 + (() => { let s = 0; while (s < n - 1 && rnd() < cont) s++; return s; })() : 0;
    const start = o.startMs + Math.floor(rnd() * 30 * 24 * 3600_000);
    const times: number[] = [];
    let t = start;
    for (let s = 0; s < plan; s++) {
      if (s > 0) t += rnd() < late ? o.windowMs + 1 + Math.floor(rnd() * gapMax) : 1 + Math.floor(rnd() * gapMax);
      times.push(t);
    }
    let truth = 0;
    while (truth < times.length && times[truth]! - times[0]! <= o.windowMs) truth++;
    reached.push(truth);
    const own: Omit<SyntheticEvent, 'id'>[] = times.map((ts, s) => ({ person: p, name: o.steps[s]!, ts, props: { plan: rnd() < 0.3 ? 'pro' : 'free' } }));
    const span = Math.max(1, (times[times.length - 1] ?? start) - start + o.windowMs);
    for (let k = own.length; k < o.eventsPerPerson; k++) {
      own.push({ person: p, name: o.noise[Math.floor(rnd() * o.noise.length)]!, ts: start + Math.floor(rnd() * span), props: { plan: 'free' } });
    }
    own.sort((a, b) => a.ts - b.ts);
    for (const e of own) events.push({ ...e, id: ++id });
  }
  return { events, reached };
}
