/**
 * A person's sentiment from their latest scored texts.
 */
import type { TextRow } from './sentiment.store';

/** Mean polarity and count of a group of texts. */
export interface Breakdown {
  key: string;
  score: number;
  count: number;
}

/** The rollup behind `Profile.sentiment`. */
export interface Rollup {
  /** Mean polarity of the latest 20 scored texts. */
  score: number;
  /** Mean of the latest 5 minus the mean of the 5 before (null with fewer than 2 texts). */
  trend: number | null;
  /** Negative texts in a row, newest first. */
  negativeStreak: number;
  /** Scored texts the rollup read (at most 100). */
  texts: number;
  byTopic: Breakdown[];
  byChannel: Breakdown[];
  /** Newest first. */
  rows: TextRow[];
}

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

function breakdown(rows: readonly TextRow[], key: (r: TextRow) => string): Breakdown[] {
  const groups = new Map<string, number[]>();
  for (const r of rows) {
    const k = key(r);
    const g = groups.get(k) ?? [];
    g.push(r.polarity ?? 0);
    groups.set(k, g);
  }
  return [...groups].map(([k, v]) => ({ key: k, score: r4(mean(v)), count: v.length })).sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}

/** The rollup of scored texts (newest first), or null when there are none. */
export function rollup(rows: readonly TextRow[]): Rollup | null {
  if (rows.length === 0) return null;
  const pol = rows.map((r) => r.polarity ?? 0);
  let streak = 0;
  while (streak < rows.length && rows[streak]!.label === 'negative') streak++;
  const recent = pol.slice(0, 5);
  const before = pol.slice(5, 10);
  const trend = rows.length < 2 ? null : before.length === 0 ? r4(pol[0]! - mean(pol.slice(1))) : r4(mean(recent) - mean(before));
  return {
    score: r4(mean(pol.slice(0, 20))),
    trend,
    negativeStreak: streak,
    texts: rows.length,
    byTopic: breakdown(rows, (r) => r.topic),
    byChannel: breakdown(rows, (r) => r.channel),
    rows: [...rows],
  };
}
