/**
 * The reference retention and lifecycle: plain TypeScript over events in memory, from the definitions in
 * docs/journeys.md (first-time retention, PostHog's lifecycle statuses). The property test compares them with SQL.
 */
import type { LifecycleSpec, RetentionSpec } from '../src/plugin/retention.definition';
import type { RefEvent } from './reference';

const periodOf = (ts: number, fromMs: number, periodMs: number) => Math.floor((ts - fromMs) / periodMs);

/** Cohort sizes and returns per (cohort, offset >= 1), for the people in `allowed`. */
export function referenceRetention(events: RefEvent[], allowed: ReadonlySet<string>, s: RetentionSpec) {
  const first = new Map<string, number>();
  for (const e of events) if (e.name === s.startEvent) first.set(e.profileId, Math.min(first.get(e.profileId) ?? Infinity, e.ts));
  const sizes: number[] = [];
  const returned = new Map<number, Map<number, number>>();
  for (const [person, t] of first) {
    if (!allowed.has(person)) continue;
    const c = periodOf(t, s.fromMs, s.periodMs);
    if (t < s.fromMs || c >= s.periods) continue;
    sizes[c] = (sizes[c] ?? 0) + 1;
    const back = new Set<number>();
    for (const e of events) {
      if (e.profileId !== person || e.name !== s.returnEvent || e.ts < s.fromMs) continue;
      const p = periodOf(e.ts, s.fromMs, s.periodMs);
      if (p > c && p < s.periods) back.add(p - c);
    }
    let m = returned.get(c);
    if (!m) returned.set(c, (m = new Map()));
    for (const j of back) m.set(j, (m.get(j) ?? 0) + 1);
  }
  return { sizes, returned };
}

/** Per period, how many allowed people are new, returning, resurrecting and dormant. */
export function referenceLifecycle(events: RefEvent[], allowed: ReadonlySet<string>, s: LifecycleSpec) {
  const first = new Map<string, number>();
  const active = new Map<string, Set<number>>();
  for (const e of events) {
    if (e.name !== s.event || !allowed.has(e.profileId)) continue;
    first.set(e.profileId, Math.min(first.get(e.profileId) ?? Infinity, e.ts));
    const p = periodOf(e.ts, s.fromMs, s.periodMs);
    if (p >= -1 && p < s.periods) {
      let a = active.get(e.profileId);
      if (!a) active.set(e.profileId, (a = new Set()));
      a.add(p);
    }
  }
  const counts = new Map<number, Record<string, number>>();
  const bump = (p: number, status: string) => {
    let c = counts.get(p);
    if (!c) counts.set(p, (c = {}));
    c[status] = (c[status] ?? 0) + 1;
  };
  for (const [person, periods] of active) {
    for (let p = 0; p < s.periods; p++) {
      const now = periods.has(p);
      const before = periods.has(p - 1);
      if (now) {
        const isNew = periodOf(first.get(person)!, s.fromMs, s.periodMs) === p;
        bump(p, isNew ? 'new' : before ? 'returning' : 'resurrecting');
      } else if (before) bump(p, 'dormant');
    }
  }
  return counts;
}
