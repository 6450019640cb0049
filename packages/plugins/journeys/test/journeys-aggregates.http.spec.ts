import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journeysPlugin } from '../src';

// Retention, lifecycle and paths in a real server: events in through /v1/batch, delivery settled, answers out through
// GraphQL with the default k = 5.
let env: TestEnvironment;
const T = Date.UTC(2026, 1, 2); // a Monday
const DAY = 86_400_000;
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const ANALYTICS = { headers: { 'x-rapport-purpose': 'analytics' } };

/**
 * Week 0: people 1-12 sign up. Week 1: 1-7 order; 13-18 sign up. Week 2: 1-5 order again and then review, 6 reviews,
 * 7 returns something, 13-18 order. A refuser of analytics signs up and orders in week 0.
 */
function shop(): Record<string, unknown>[] {
  const b: Record<string, unknown>[] = [];
  const ev = (u: number | string, event: string, at: number) => b.push({ type: 'track', userId: `member-${u}`, event, timestamp: iso(at) });
  for (let i = 1; i <= 12; i++) ev(i, 'Signed Up', T + (i % 3) * DAY + i * HOUR);
  for (let i = 1; i <= 7; i++) ev(i, 'Ordered', T + 8 * DAY + i * HOUR);
  for (let i = 13; i <= 18; i++) ev(i, 'Signed Up', T + 9 * DAY + i * HOUR);
  for (let i = 1; i <= 5; i++) ev(i, 'Ordered', T + 15 * DAY + i * HOUR);
  for (let i = 1; i <= 6; i++) ev(i, 'Reviewed', T + 15 * DAY + 12 * HOUR + i * HOUR);
  ev(7, 'Returned', T + 16 * DAY);
  for (let i = 13; i <= 18; i++) ev(i, 'Ordered', T + 16 * DAY + i * HOUR);
  const refuses = { consent: { categoryPreferences: { analytics: false } } };
  b.push({ type: 'track', userId: 'refuser', event: 'Signed Up', timestamp: iso(T + HOUR), context: refuses });
  b.push({ type: 'track', userId: 'refuser', event: 'Ordered', timestamp: iso(T + 2 * HOUR), context: refuses });
  return b;
}

beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [journeysPlugin()] });
  const r = await env.post('/v1/batch', { batch: shop() });
  expect(r.status).toBe(200);
  await env.settle();
});
afterAll(async () => env?.close());

const RETENTION = `query($s: String!, $r: String!, $from: DateTimeISO!, $p: RetentionPeriod, $n: Int) {
  retention(startEvent: $s, returnEvent: $r, from: $from, period: $p, periods: $n) {
    k cohorts { start size suppressed cells { offset count rate suppressed } } } }`;
const LIFECYCLE = `query($e: String!, $from: DateTimeISO!, $p: RetentionPeriod, $n: Int) {
  lifecycle(event: $e, from: $from, period: $p, periods: $n) { k periods { start new returning resurrecting dormant suppressed } } }`;
const PATHS = `query($e: String!, $d: PathDirection, $depth: Int) {
  paths(event: $e, direction: $d, depth: $depth) { k anchored suppressedEdges omittedEdges edges { level source target people } } }`;

it('retention: the weekly triangle of sign-ups coming back to order; the refuser is not counted', async () => {
  const r = await env.graphql(RETENTION, { s: 'Signed Up', r: 'Ordered', from: iso(T), p: 'WEEK', n: 3 }, ANALYTICS);
  expect(r.body.errors).toBeUndefined();
  const { k, cohorts } = r.body.data.retention;
  expect(k).toBe(5);
  expect(cohorts.map((c: any) => [c.start, c.size])).toEqual([[iso(T), 12], [iso(T + 7 * DAY), 6], [iso(T + 14 * DAY), 0]]);
  expect(cohorts.map((c: any) => c.cells.map((x: any) => x.count))).toEqual([[12, 7, 5], [6, 6], [0]]);
  expect(cohorts[0].cells.map((x: any) => x.rate)).toEqual([1, 0.5833, 0.4167]);
});

it('retention by day withholds cohorts of 1 to 4 people', async () => {
  const r = await env.graphql(RETENTION, { s: 'Signed Up', r: 'Ordered', from: iso(T), p: 'DAY', n: 3 }, ANALYTICS);
  // Days 0, 1 and 2 of week 0 hold 4 sign-ups each (people i with i % 3 = 0, 1, 2).
  expect(r.body.data.retention.cohorts.map((c: any) => [c.size, c.suppressed])).toEqual([[null, true], [null, true], [null, true]]);
});

it('lifecycle: new, returning and dormant orderers per week, small cells withheld', async () => {
  const r = await env.graphql(LIFECYCLE, { e: 'Ordered', from: iso(T), p: 'WEEK', n: 3 }, ANALYTICS);
  expect(r.body.errors).toBeUndefined();
  expect(r.body.data.lifecycle.periods.map((p: any) => [p.new, p.returning, p.resurrecting, p.dormant, p.suppressed])).toEqual([
    [0, 0, 0, 0, false],
    [7, 0, 0, 0, false],
    [6, 5, 0, null, true], // 6 and 7 went dormant: 2 people, withheld
  ]);
});

it('paths: what sign-ups do next, repeats collapsed, an edge of one person left out', async () => {
  const r = await env.graphql(PATHS, { e: 'Signed Up', d: 'NEXT', depth: 3 }, ANALYTICS);
  expect(r.body.errors).toBeUndefined();
  const p = r.body.data.paths;
  expect(p.anchored).toBe(18);
  expect(p.edges).toEqual([
    { level: 1, source: 'Signed Up', target: 'Ordered', people: 13 },
    { level: 2, source: 'Ordered', target: 'Reviewed', people: 6 },
  ]);
  expect(p.suppressedEdges).toBe(1); // Ordered -> Returned: person 7 alone
  const back = await env.graphql(PATHS, { e: 'Reviewed', d: 'PREVIOUS', depth: 2 }, ANALYTICS);
  expect(back.body.data.paths.edges).toEqual([
    { level: 1, source: 'Reviewed', target: 'Ordered', people: 6 },
    { level: 2, source: 'Ordered', target: 'Signed Up', people: 6 },
  ]);
});

it('an unknown event answers zeros with a warning naming the argument', async () => {
  const r = await env.graphql(RETENTION, { s: 'Signed Up', r: 'Ordred', from: iso(T), p: 'WEEK', n: 2 }, ANALYTICS);
  expect(r.body.data.retention.cohorts[0].cells.map((x: any) => x.count)).toEqual([12, 0]);
  expect(r.body.extensions.warnings).toEqual([expect.objectContaining({ code: 'UNKNOWN_EVENT', field: 'returnEvent', rule: 'exists' })]);
});

describe('bad input is refused with the argument and the rule', () => {
  const cases: [string, string, Record<string, unknown>, string, string][] = [
    ['0 periods', RETENTION, { s: 'Signed Up', r: 'Ordered', from: iso(T), n: 0 }, 'periods', 'range'],
    ['93 days', LIFECYCLE, { e: 'Ordered', from: iso(T), p: 'DAY', n: 93 }, 'periods', 'range'],
    ['54 weeks', LIFECYCLE, { e: 'Ordered', from: iso(T), p: 'WEEK', n: 54 }, 'periods', 'range'],
    ['a blank event', RETENTION, { s: ' ', r: 'Ordered', from: iso(T) }, 'startEvent', 'length'],
    ['a depth of 6', PATHS, { e: 'Signed Up', depth: 6 }, 'depth', 'range'],
    ['a depth of 0', PATHS, { e: 'Signed Up', depth: 0 }, 'depth', 'range'],
  ];
  it.each(cases)('%s', async (_name, query, vars, field, rule) => {
    const r = await env.graphql(query, vars, ANALYTICS);
    expect(r.body.data).toBeNull();
    expect(r.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field, rule });
    expect(r.body.errors[0].message).toMatch(new RegExp(`^${field}: `));
  });

  it('a request that does not act for analytics, and a key without journeys:read', async () => {
    const none = await env.graphql(PATHS, { e: 'Signed Up' }, {});
    expect(none.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field: 'purpose', rule: 'actsFor' });
    const app = await env.graphql(LIFECYCLE, { e: 'Ordered', from: iso(T) }, { key: env.keys.app, ...ANALYTICS });
    expect(app.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });
});
