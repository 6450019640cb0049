/**
 * The retention and lifecycle queries' arguments, checked. Periods are consecutive windows of one day or seven days
 * starting at `from` (UTC instants, not calendar weeks): period i is `[from + i * L, from + (i + 1) * L)`.
 */
import { ValidationError } from '@rapport/core';

/** The length of a period. */
export type RetentionPeriod = 'day' | 'week';

/** Milliseconds per period. */
export const PERIOD_MS: Readonly<Record<RetentionPeriod, number>> = { day: 86_400_000, week: 7 * 86_400_000 };

/** Most periods a query covers, per period length (about a quarter of days, a year of weeks). */
export const MAX_PERIODS: Readonly<Record<RetentionPeriod, number>> = { day: 92, week: 53 };

/** Retention: who did `startEvent` for the first time in period c, and of them, who did `returnEvent` in period c + j. */
export interface RetentionSpec {
  startEvent: string;
  returnEvent: string;
  period: RetentionPeriod;
  periodMs: number;
  fromMs: number;
  periods: number;
}

/** Lifecycle: per period, the people doing `event` who are new, returning or resurrecting, and those gone dormant. */
export interface LifecycleSpec {
  event: string;
  period: RetentionPeriod;
  periodMs: number;
  fromMs: number;
  periods: number;
}

const MAX_NAME_CHARS = 200;

function checkName(field: string, v: string): string {
  if (typeof v !== 'string' || !v.trim() || v.length > MAX_NAME_CHARS) {
    throw new ValidationError(field, 'length', `must be 1 to ${MAX_NAME_CHARS} characters, not blank`);
  }
  return v;
}

function checkWindow(period: RetentionPeriod, from: Date, periods: number): { periodMs: number; fromMs: number } {
  if (period !== 'day' && period !== 'week') throw new ValidationError('period', 'enum', 'must be DAY or WEEK');
  const max = MAX_PERIODS[period];
  if (!Number.isInteger(periods) || periods < 1 || periods > max) {
    throw new ValidationError('periods', 'range', `must be 1 to ${max} for ${period === 'day' ? 'days' : 'weeks'}, got ${periods}`);
  }
  const fromMs = from instanceof Date ? from.getTime() : NaN;
  if (!Number.isFinite(fromMs)) throw new ValidationError('from', 'dateTime', 'must be a date-time');
  return { periodMs: PERIOD_MS[period], fromMs };
}

/** Checks retention arguments; a bad one throws a ValidationError naming it and the rule. */
export function checkRetention(a: { startEvent: string; returnEvent: string; period: RetentionPeriod; from: Date; periods: number }): RetentionSpec {
  return {
    startEvent: checkName('startEvent', a.startEvent),
    returnEvent: checkName('returnEvent', a.returnEvent),
    period: a.period,
    periods: a.periods,
    ...checkWindow(a.period, a.from, a.periods),
  };
}

/** Checks lifecycle arguments; a bad one throws a ValidationError naming it and the rule. */
export function checkLifecycle(a: { event: string; period: RetentionPeriod; from: Date; periods: number }): LifecycleSpec {
  return { event: checkName('event', a.event), period: a.period, periods: a.periods, ...checkWindow(a.period, a.from, a.periods) };
}
