/** A funnel's definition, checked: what the GraphQL arguments become before any SQL is written. */
import { ValidationError } from '@rapport/core';
import { checkBreakdown, type BreakdownArgs } from './funnel-breakdown';

/** How steps must follow each other (PostHog's funnel order types). */
export type FunnelMode = 'ordered' | 'strict' | 'unordered';
/** Which event of a person's counted run gives their breakdown value. */
export type Attribution = 'first_touch' | 'last_touch';

/** A property filter: the event's top-level property, as text, equals `equals`. */
export interface PropertyEquals {
  property: string;
  equals: string;
}

/** A step: an event name, property filters (all must hold) and an optional window from the previous step. */
export interface FunnelStepSpec {
  event: string;
  where: PropertyEquals[];
  /** Longest time from the previous step of the run to this one, in ms; `null`: only the funnel's window applies. */
  withinMs: number | null;
}

/** An exclusion: an event that disqualifies a person when it happens after step `fromStep` and before `toStep`. */
export interface FunnelExclusionSpec {
  event: string;
  where: PropertyEquals[];
  /** 1-based; `1 <= fromStep < toStep <= steps`. */
  fromStep: number;
  toStep: number;
}

/** A checked funnel. Times are epoch milliseconds. */
export interface FunnelSpec {
  steps: FunnelStepSpec[];
  windowMs: number;
  mode: FunnelMode;
  fromMs: number | null;
  toMs: number | null;
  exclusions: FunnelExclusionSpec[];
  breakdown: { property: string; attribution: Attribution } | null;
  /** A breakdown by this trait's current value instead (see funnel-breakdown.ts); never set with `breakdown`. */
  breakdownTrait?: string | null;
  bins: number;
}

export const MIN_STEPS = 2;
export const MAX_STEPS = 10;
/** Longest conversion window: 365 days, in seconds. */
export const MAX_WINDOW_SECONDS = 365 * 24 * 3600;
export const DEFAULT_WINDOW_SECONDS = 14 * 24 * 3600;
export const MAX_FILTERS = 5;
export const MAX_EXCLUSIONS = 10;
export const MAX_BINS = 50;
export const MAX_NAME_CHARS = 200;

/** The arguments as GraphQL hands them over. */
export interface FunnelArgs {
  steps: { event: string; where?: PropertyEquals[] | null; withinSeconds?: number | null }[];
  windowSeconds: number;
  mode: FunnelMode;
  from?: Date | null;
  to?: Date | null;
  exclusions?: { event: string; where?: PropertyEquals[] | null; fromStep?: number | null; toStep?: number | null }[] | null;
  breakdown?: BreakdownArgs | null;
  bins: number;
}

function checkName(field: string, v: string): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > MAX_NAME_CHARS) {
    throw new ValidationError(field, 'length', `must be 1 to ${MAX_NAME_CHARS} characters, not blank`);
  }
  return v;
}

function checkFilters(field: string, where: PropertyEquals[] | null | undefined): PropertyEquals[] {
  const w = where ?? [];
  if (w.length > MAX_FILTERS) throw new ValidationError(field, 'maxItems', `at most ${MAX_FILTERS} filters, got ${w.length}`);
  return w.map((f, i) => ({ property: checkName(`${field}[${i}].property`, f.property), equals: String(f.equals) }));
}

/** Checks the arguments; a bad one throws a ValidationError naming it and the rule. */
export function checkFunnel(a: FunnelArgs): FunnelSpec {
  const n = a.steps.length;
  if (n < MIN_STEPS || n > MAX_STEPS) throw new ValidationError('steps', 'count', `a funnel has ${MIN_STEPS} to ${MAX_STEPS} steps, got ${n}`);
  const w = a.windowSeconds;
  if (!Number.isInteger(w) || w < 1 || w > MAX_WINDOW_SECONDS) {
    throw new ValidationError('windowSeconds', 'range', `must be 1 to ${MAX_WINDOW_SECONDS} seconds (365 days), got ${w}`);
  }
  const mode = a.mode;
  const steps = a.steps.map((s, i): FunnelStepSpec => {
    const within = s.withinSeconds ?? null;
    if (within !== null) {
      if (i === 0) throw new ValidationError('steps[0].withinSeconds', 'firstStep', 'the first step has no previous step to be within');
      if (mode === 'unordered') throw new ValidationError(`steps[${i}].withinSeconds`, 'mode', 'per-step windows need an ordered or strict funnel');
      if (!Number.isInteger(within) || within < 1 || within > w) {
        throw new ValidationError(`steps[${i}].withinSeconds`, 'range', `must be 1 to windowSeconds (${w}), got ${within}`);
      }
    }
    return { event: checkName(`steps[${i}].event`, s.event), where: checkFilters(`steps[${i}].where`, s.where), withinMs: within === null ? null : within * 1000 };
  });
  const ex = a.exclusions ?? [];
  if (ex.length > MAX_EXCLUSIONS) throw new ValidationError('exclusions', 'maxItems', `at most ${MAX_EXCLUSIONS} exclusions, got ${ex.length}`);
  if (ex.length > 0 && mode === 'unordered') throw new ValidationError('exclusions', 'mode', 'exclusions need an ordered or strict funnel');
  const exclusions = ex.map((x, i): FunnelExclusionSpec => {
    const fromStep = x.fromStep ?? 1;
    const toStep = x.toStep ?? n;
    if (!Number.isInteger(fromStep) || !Number.isInteger(toStep) || fromStep < 1 || toStep > n || fromStep >= toStep) {
      throw new ValidationError(`exclusions[${i}]`, 'stepRange', `fromStep and toStep must satisfy 1 <= fromStep < toStep <= ${n}, got ${fromStep} and ${toStep}`);
    }
    return { event: checkName(`exclusions[${i}].event`, x.event), where: checkFilters(`exclusions[${i}].where`, x.where), fromStep, toStep };
  });
  const fromMs = a.from ? a.from.getTime() : null;
  const toMs = a.to ? a.to.getTime() : null;
  if (fromMs !== null && toMs !== null && fromMs >= toMs) throw new ValidationError('to', 'afterFrom', 'must be later than from');
  if (!Number.isInteger(a.bins) || a.bins < 1 || a.bins > MAX_BINS) throw new ValidationError('bins', 'range', `must be 1 to ${MAX_BINS}, got ${a.bins}`);
  const { breakdown, breakdownTrait } = checkBreakdown(a.breakdown);
  return { steps, windowMs: w * 1000, mode, fromMs, toMs, exclusions, breakdown, breakdownTrait, bins: a.bins };
}
