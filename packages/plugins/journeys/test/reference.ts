/**
 * The reference funnel: plain TypeScript over events in memory, written from PostHog's `aggregate_funnel`
 * (ordered and strict) and the plugin's documented unordered rule (docs/journeys.md). The property test compares it
 * with the SQL answer; they must agree exactly. Suppression and rates are built by the plugin's `buildSeries`
 * from the figures computed here (counts, percentiles and bins are computed independently).
 */
import { binWidthMs, buildSeries, MAX_SERIES, type FunnelResult, type FunnelSpec, type PropertyEquals, type RawStep } from '../src';

export interface RefEvent {
  profileId: string;
  eventId: number;
  name: string;
  ts: number;
  props: Record<string, string | number | boolean>;
}

interface Outcome {
  reached: number;
  times: number[];
  events: RefEvent[];
}

const text = (v: string | number | boolean | undefined) => (v === undefined ? undefined : typeof v === 'string' ? v : String(v));
const matches = (e: RefEvent, name: string, where: PropertyEquals[]) => e.name === name && where.every((f) => text(e.props[f.property]) === f.equals);

interface Entered {
  start: number;
  timings: number[];
  events: RefEvent[];
}

function orderedOrStrict(evs: RefEvent[], spec: FunnelSpec): Outcome {
  const n = spec.steps.length;
  const entered: (Entered | null)[] = Array.from({ length: n + 1 }, () => null);
  let best: Outcome = { reached: 0, times: [], events: [] };
  for (const e of evs) {
    const steps = spec.steps.map((s, i) => (matches(e, s.event, s.where) ? i + 1 : 0)).filter((k) => k > 0);
    for (const x of spec.exclusions) {
      if (!matches(e, x.event, x.where)) continue;
      for (let k = x.fromStep + 1; k <= x.toStep; k++) {
        const prev = entered[k - 1];
        if (prev && e.ts - prev.start <= spec.windowMs && entered[k]?.start !== prev.start) return { reached: -1, times: [], events: [] };
      }
    }
    for (const k of [...steps].reverse()) {
      if (k === 1) {
        if (entered[1]?.start !== e.ts) {
          entered[1] = { start: e.ts, timings: [e.ts], events: [e] };
          if (best.reached < 1) best = { reached: 1, times: [e.ts], events: [e] };
        }
        continue;
      }
      const prev = entered[k - 1];
      if (!prev || e.ts - prev.start > spec.windowMs || entered[k]?.start === prev.start) continue;
      const within = spec.steps[k - 1]!.withinMs;
      if (within !== null && e.ts - prev.timings[prev.timings.length - 1]! > within) continue;
      entered[k] = { start: prev.start, timings: [...prev.timings, e.ts], events: [...prev.events, e] };
      if (k > best.reached) best = { reached: k, times: entered[k]!.timings, events: entered[k]!.events };
    }
    if (spec.mode === 'strict') for (let k = 1; k <= n; k++) if (!steps.includes(k)) entered[k] = null;
    if (entered[n]) break;
  }
  return best;
}

function unordered(evs: RefEvent[], spec: FunnelSpec): Outcome {
  let best: Outcome = { reached: 0, times: [], events: [] };
  evs.forEach((a, ai) => {
    if (best.reached === spec.steps.length) return;
    if (!spec.steps.some((s) => matches(a, s.event, s.where))) return;
    const inWindow = evs.slice(ai).filter((b) => b.ts - a.ts <= spec.windowMs);
    // The first event in the window for each step; an event can complete several steps.
    const firsts: { pos: number; step: number; e: RefEvent }[] = [];
    spec.steps.forEach((s, step) => {
      const pos = inWindow.findIndex((b) => matches(b, s.event, s.where));
      if (pos >= 0) firsts.push({ pos, step, e: inWindow[pos]! });
    });
    firsts.sort((x, y) => x.pos - y.pos || x.step - y.step);
    if (firsts.length > best.reached) best = { reached: firsts.length, times: firsts.map((f) => f.e.ts), events: firsts.map((f) => f.e) };
  });
  return best;
}

function percentileDisc(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1]!;
}

/** The funnel over `events`, counting only people in `allowed` (their consent allows analytics). */
export function referenceFunnel(events: RefEvent[], allowed: ReadonlySet<string>, spec: FunnelSpec, k: number): FunnelResult {
  const byPerson = new Map<string, RefEvent[]>();
  for (const e of events) {
    if (spec.fromMs !== null && e.ts < spec.fromMs) continue;
    if (spec.toMs !== null && e.ts >= spec.toMs) continue;
    byPerson.set(e.profileId, [...(byPerson.get(e.profileId) ?? []), e]);
  }
  const width = binWidthMs(spec.windowMs, spec.bins);
  const series = new Map<string | null, { n: number[]; diffs: number[][] }>();
  for (const [person, evs] of byPerson) {
    if (!allowed.has(person)) continue;
    evs.sort((a, b) => a.ts - b.ts || a.eventId - b.eventId);
    const o = spec.mode === 'unordered' ? unordered(evs, spec) : orderedOrStrict(evs, spec);
    if (o.reached <= 0) continue;
    let bv: string | null = null;
    if (spec.breakdown) {
      const at = spec.breakdown.attribution === 'first_touch' ? o.events[0]! : o.events[o.reached - 1]!;
      bv = text(at.props[spec.breakdown.property]) ?? null;
    }
    let s = series.get(bv);
    if (!s) series.set(bv, (s = { n: spec.steps.map(() => 0), diffs: spec.steps.map(() => []) }));
    for (let i = 0; i < o.reached; i++) {
      s.n[i]!++;
      if (i > 0) s.diffs[i]!.push(o.times[i]! - o.times[i - 1]!);
    }
  }
  if (!spec.breakdown && series.size === 0) series.set(null, { n: spec.steps.map(() => 0), diffs: spec.steps.map(() => []) });
  const ordered = [...series].sort((a, b) => b[1].n[0]! - a[1].n[0]! || String(a[0]).localeCompare(String(b[0])));
  return {
    k,
    omittedBreakdownValues: Math.max(0, ordered.length - MAX_SERIES),
    series: ordered.slice(0, MAX_SERIES).map(([bv, s]) => {
      const raw = spec.steps.map((_, i): RawStep | undefined => {
        if (s.n[i] === 0) return undefined;
        const d = [...s.diffs[i]!].sort((x, y) => x - y);
        const bins = new Map<number, number>();
        for (const v of d) {
          const b = Math.min(spec.bins - 1, Math.floor(v / width));
          bins.set(b, (bins.get(b) ?? 0) + 1);
        }
        return { entered: s.n[i]!, p50Ms: percentileDisc(d, 0.5), p90Ms: percentileDisc(d, 0.9), bins };
      });
      return buildSeries(bv, spec.steps.map((st) => st.event), raw, k, spec.windowMs, spec.bins);
    }),
  };
}

/**
 * How far each person counted by the funnel got (1 to steps), by profile id: people in `allowed` who reached step 1
 * and were not excluded. The per-person side of {@link referenceFunnel}, for `funnelProfiles`.
 */
export function referenceReached(events: RefEvent[], allowed: ReadonlySet<string>, spec: FunnelSpec): Map<string, number> {
  const byPerson = new Map<string, RefEvent[]>();
  for (const e of events) {
    if (spec.fromMs !== null && e.ts < spec.fromMs) continue;
    if (spec.toMs !== null && e.ts >= spec.toMs) continue;
    byPerson.set(e.profileId, [...(byPerson.get(e.profileId) ?? []), e]);
  }
  const out = new Map<string, number>();
  for (const [person, evs] of byPerson) {
    if (!allowed.has(person)) continue;
    evs.sort((a, b) => a.ts - b.ts || a.eventId - b.eventId);
    const o = spec.mode === 'unordered' ? unordered(evs, spec) : orderedOrStrict(evs, spec);
    if (o.reached > 0) out.set(person, o.reached);
  }
  return out;
}
