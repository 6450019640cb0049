import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journeysPlugin } from '../src';

// The rule language beyond AND-ed event counts and equals/greaterThan: anyOf (OR of groups), and the trait operators
// lessThan, in, exists and notEquals. Journeys defined over GraphQL, events in through /v1/batch, stages out through
// Profile.journey, on real PostgreSQL. Each journey has a first stage every person reaches (a page view) and a second
// one entered by the rule under test, so a person is in `Match` exactly when the rule holds for them.
let env: TestEnvironment;
const plugin = journeysPlugin({ k: 1 });
const ANALYTICS = { headers: { 'x-rapport-purpose': 'analytics' } };
const DEFINE = `mutation($input: JourneyInput!) { defineJourney(input: $input) { name } }`;
const JOURNEY = `query($v: String!, $j: String!) { profileByIdentity(type: "user_id", value: $v) { journey(name: $j) { stage } } }`;

const journey = (name: string, ...rule: Record<string, unknown>[]) => ({
  name, stages: [{ name: 'Seen', when: [{ event: 'Page Viewed' }] }, { name: 'Match', when: rule }],
});
const JOURNEYS = [
  journey('Customer', { anyOf: [{ when: [{ event: 'Order Completed' }] }, { when: [{ trait: 'plan', equals: 'pro' }, { trait: 'seats', greaterThan: 1 }] }] }),
  journey('Young', { trait: 'age', lessThan: 30 }),
  journey('Working age', { trait: 'age', greaterThan: 17, lessThan: 67 }),
  journey('Europe', { trait: 'country', in: ['FR', 'DE'] }),
  journey('Company', { trait: 'company', exists: true }),
  journey('No company', { trait: 'company', exists: false }),
  journey('Paying', { trait: 'plan', notEquals: 'free' }),
];

async function send(...batch: Record<string, unknown>[]): Promise<void> {
  const r = await env.post('/v1/batch', { batch });
  expect(r.status).toBe(200);
  await env.settle();
}
/** A person who viewed a page, then identified with `traits` (none: no identify). */
const person = (userId: string, traits?: Record<string, unknown>, ...more: Record<string, unknown>[]) => [
  { type: 'page', userId, name: 'Home' }, ...(traits ? [{ type: 'identify', userId, traits }] : []), ...more,
];
async function stageOf(user: string, j: string): Promise<string | null> {
  const r = await env.graphql(JOURNEY, { v: user, j }, ANALYTICS);
  expect(r.body.errors).toBeUndefined();
  return r.body.data.profileByIdentity.journey?.stage ?? null;
}

beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [plugin], jobs: { pollIntervalMs: 200 } });
  for (const j of JOURNEYS) {
    const r = await env.graphql(DEFINE, { input: j }, ANALYTICS);
    expect(r.body.errors).toBeUndefined();
  }
  await send(
    ...person('buyer', undefined, { type: 'track', userId: 'buyer', event: 'Order Completed' }),
    ...person('pro-team', { plan: 'pro', seats: 5 }),
    ...person('pro-solo', { plan: 'pro', seats: 1 }),
    ...person('free', { plan: 'free', seats: 9 }),
    ...person('nobody'),
    ...person('age-25', { age: 25, country: 'FR', company: 'Acme' }),
    ...person('age-40', { age: '40', country: 'US' }),
    ...person('age-17', { age: 17, country: 'de' }),
    ...person('age-text', { age: 'thirty', country: 'DE', company: '' }),
  );
});
afterAll(async () => env?.close());

it('anyOf: a stage entered by an order OR by the trait plan = pro with more than one seat', async () => {
  expect(await stageOf('buyer', 'Customer')).toBe('Match');
  expect(await stageOf('pro-team', 'Customer')).toBe('Match');
  // The second group needs both of its conditions.
  expect(await stageOf('pro-solo', 'Customer')).toBe('Seen');
  expect(await stageOf('free', 'Customer')).toBe('Seen');
  expect(await stageOf('nobody', 'Customer')).toBe('Seen');
  // A later order moves pro-solo in through the first group.
  await send({ type: 'track', userId: 'pro-solo', event: 'Order Completed' });
  expect(await stageOf('pro-solo', 'Customer')).toBe('Match');
});

it('lessThan, alone and with greaterThan as a range (bounds excluded), on numbers and decimal strings', async () => {
  expect(await stageOf('age-25', 'Young')).toBe('Match');
  expect(await stageOf('age-17', 'Young')).toBe('Match');
  expect(await stageOf('age-40', 'Young')).toBe('Seen');
  expect(await stageOf('age-text', 'Young')).toBe('Seen');
  expect(await stageOf('nobody', 'Young')).toBe('Seen');
  expect(await stageOf('age-25', 'Working age')).toBe('Match');
  expect(await stageOf('age-40', 'Working age')).toBe('Match');
  expect(await stageOf('age-17', 'Working age')).toBe('Seen');
});

it('in: the value, as text, is one of a list (case-sensitive)', async () => {
  expect(await stageOf('age-25', 'Europe')).toBe('Match');
  expect(await stageOf('age-text', 'Europe')).toBe('Match');
  expect(await stageOf('age-17', 'Europe')).toBe('Seen');
  expect(await stageOf('age-40', 'Europe')).toBe('Seen');
  expect(await stageOf('nobody', 'Europe')).toBe('Seen');
});

it('exists: the trait is set (an empty string is a value), or not; setting it to null unsets it', async () => {
  expect(await stageOf('age-25', 'Company')).toBe('Match');
  expect(await stageOf('age-text', 'Company')).toBe('Match');
  expect(await stageOf('age-40', 'Company')).toBe('Seen');
  expect(await stageOf('age-40', 'No company')).toBe('Match');
  expect(await stageOf('nobody', 'No company')).toBe('Match');
  expect(await stageOf('age-25', 'No company')).toBe('Seen');
  await send({ type: 'identify', userId: 'age-25', traits: { company: null } });
  expect(await stageOf('age-25', 'Company')).toBe('Seen');
  expect(await stageOf('age-25', 'No company')).toBe('Match');
});

it('notEquals: the trait is set and differs; a person without it does not match', async () => {
  expect(await stageOf('pro-team', 'Paying')).toBe('Match');
  expect(await stageOf('free', 'Paying')).toBe('Seen');
  expect(await stageOf('nobody', 'Paying')).toBe('Seen');
  await send({ type: 'identify', userId: 'free', traits: { plan: 'team' } });
  expect(await stageOf('free', 'Paying')).toBe('Match');
});

it('a stage of exists: false is reached by any event, as one of absent conditions is', async () => {
  await send({ type: 'track', userId: 'newcomer', event: 'Search Performed' });
  // No page view: not Seen; no company: in the stage of the rule that holds for a person with nothing.
  expect(await stageOf('newcomer', 'No company')).toBe('Match');
  expect(await stageOf('newcomer', 'Company')).toBeNull();
});

it('gives the definitions back with the new operators', async () => {
  const r = await env.graphql(`{ journeyDefinitions { name stages { name when {
    event trait equals greaterThan lessThan in exists notEquals anyOf { when { event trait equals greaterThan } } } } } }`);
  expect(r.body.errors).toBeUndefined();
  const rule = (name: string) => r.body.data.journeyDefinitions.find((j: any) => j.name === name).stages[1].when[0];
  const none = { event: null, trait: null, equals: null, greaterThan: null, lessThan: null, in: null, exists: null, notEquals: null, anyOf: null };
  expect(rule('Customer')).toEqual({ ...none, anyOf: [
    { when: [{ event: 'Order Completed', trait: null, equals: null, greaterThan: null }] },
    { when: [{ event: null, trait: 'plan', equals: 'pro', greaterThan: null }, { event: null, trait: 'seats', equals: null, greaterThan: 1 }] },
  ] });
  expect(rule('Working age')).toEqual({ ...none, trait: 'age', greaterThan: 17, lessThan: 67 });
  expect(rule('Europe')).toEqual({ ...none, trait: 'country', in: ['FR', 'DE'] });
  expect(rule('No company')).toEqual({ ...none, trait: 'company', exists: false });
  expect(rule('Paying')).toEqual({ ...none, trait: 'plan', notEquals: 'free' });
});

describe('a bad rule is refused with the field and the rule', () => {
  const bad = (...rule: Record<string, unknown>[]) => journey('Bad', ...rule);
  const group = (...when: Record<string, unknown>[]) => ({ when });
  const F = 'input.stages[1].when[0]';
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['anyOf with one group', bad({ anyOf: [group({ event: 'X' })] }), `${F}.anyOf`, 'count'],
    ['anyOf with 11 groups', bad({ anyOf: Array.from({ length: 11 }, () => group({ event: 'X' })) }), `${F}.anyOf`, 'count'],
    ['anyOf inside anyOf', bad({ anyOf: [group({ anyOf: [group({ event: 'X' }), group({ event: 'Y' })] }), group({ event: 'Z' })] }), `${F}.anyOf[0].when[0].anyOf`, 'depth'],
    ['an empty group', bad({ anyOf: [group({ event: 'X' }), group()] }), `${F}.anyOf[1].when`, 'count'],
    ['anyOf beside a trait', bad({ anyOf: [group({ event: 'X' }), group({ event: 'Y' })], trait: 'plan' }), F, 'oneOf'],
    ['anyOf beside a comparison', bad({ anyOf: [group({ event: 'X' }), group({ event: 'Y' })], equals: 'x' }), `${F}.equals`, 'kind'],
    ['a bad condition inside a group', bad({ anyOf: [group({ event: 'X' }), group({ trait: 'plan', equals: 'a', notEquals: 'b' })] }), `${F}.anyOf[1].when[0]`, 'oneOf'],
    ['31 conditions in a stage', bad(...Array.from({ length: 4 }, () => ({ anyOf: Array.from({ length: 8 }, (_, i) => group({ event: `E${i}` })) }))), 'input.stages[1].when', 'maxConditions'],
    ['lessThan with equals', bad({ trait: 'age', lessThan: 3, equals: '2' }), F, 'oneOf'],
    ['an empty range', bad({ trait: 'age', greaterThan: 10, lessThan: 10 }), `${F}.lessThan`, 'range'],
    ['lessThan on an event condition', bad({ event: 'X', lessThan: 3 }), `${F}.lessThan`, 'kind'],
    ['in with no value', bad({ trait: 'country', in: [] }), `${F}.in`, 'count'],
    ['in with 51 values', bad({ trait: 'country', in: Array.from({ length: 51 }, (_, i) => `C${i}`) }), `${F}.in`, 'count'],
    ['in with a value over 200 characters', bad({ trait: 'country', in: ['FR', 'x'.repeat(201)] }), `${F}.in[1]`, 'length'],
    ['in with exists', bad({ trait: 'country', in: ['FR'], exists: true }), F, 'oneOf'],
    ['exists on an event condition', bad({ event: 'X', exists: true }), `${F}.exists`, 'kind'],
    ['notEquals over 200 characters', bad({ trait: 'plan', notEquals: 'x'.repeat(201) }), `${F}.notEquals`, 'length'],
    ['notEquals with greaterThan', bad({ trait: 'plan', notEquals: 'a', greaterThan: 1 }), F, 'oneOf'],
  ];
  it.each(cases)('%s', async (_name, input, field, rule) => {
    const r = await env.graphql(DEFINE, { input }, ANALYTICS);
    expect(r.body.data).toBeNull();
    expect(r.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field, rule });
    expect(r.body.errors[0].message).toMatch(new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}: `));
  });
});
