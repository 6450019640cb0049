// The field guard's own CPU per request, without HTTP, GraphQL or PostgreSQL: the decisions and
// redactions a guarded read of the read benchmarks' query makes (a profile's traits with the email as
// PII, its identities, ten events of two names with two payload keys each, every datum under a
// policy with a consent condition), against the built packages. It isolates the guard's code from
// the machine's noise that the end-to-end benchmarks carry.
// Usage: npm run build && node bench/guard-decisions.bench.mjs [--requests 200000] [--runs 5]
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { machine } from './lib/machine.mjs';
import { numberArg as arg } from './lib/args.mjs';

const require = createRequire(import.meta.url);
require('reflect-metadata');
const { AccessDecider, RequestGuard } = require('../packages/schema/dist/internal');
const { redactEventField, redactTraits } = require('../packages/core/dist/internal');

const REQUESTS = arg('requests', 200_000);
const RUNS = arg('runs', 5);

const policy = (element) => ({ id: element, element, type: 'element', field: element, purposes: ['personalization'], roles: ['app'], mask: 'null', pii: element === 'trait:email' });
const policies = ['trait:email', 'trait:name', 'trait:plan', 'identities', 'events', 'event:*.properties.*'].map(policy);
const decider = new AccessDecider({ policies, roles: ['app'], purpose: 'personalization', piiTraits: ['email', 'phone'], legalBasis: new Map([['personalization', 'consent']]) });
decider.configure({ unclassifiedEventKeys: 'allow' });
const events = Array.from({ length: 10 }, (_, k) => ({
  id: String(k), type: 'track', name: k % 4 ? 'Product Viewed' : 'Order Completed', userId: null, anonymousId: null,
  properties: { product_id: `p-${k}`, price: 9.99 }, traits: null, context: {},
}));
const traits = { email: 'reader@example.com', name: 'Reader', plan: 'pro' };
const identities = [{ type: 'email' }, { type: 'user_id' }];
const info = { path: { key: 'profile', prev: undefined } };

/** One request's guard work: a guard, the collections, the traits, the identities, each event's properties, the audit entries. */
function request() {
  const guard = new RequestGuard(decider, async () => []);
  const consents = { personalization: 'granted' };
  const nested = (d) => guard.decider.nested(d);
  for (const name of ['traits', 'identities', 'events']) guard.decideDatum({ kind: 'collection', name }, consents);
  let kept = Object.keys(redactTraits(traits, guard.keeper(info, 'p1', consents), nested)).length;
  const keep = guard.keeper(info, 'p1', consents);
  kept += identities.filter((i) => keep({ kind: 'identity', type: i.type })).length;
  for (const e of events) kept += Object.keys(redactEventField(e, 'properties', guard.keeper(info, 'p1', consents), nested)).length;
  if (guard.auditEntries().length !== 1 || guard.errors.length) throw new Error('the guard did not decide as expected');
  return kept;
}

if (request() !== 25) throw new Error('the guard kept an unexpected number of data');
for (let i = 0; i < 20_000; i++) request();
const runs = [];
for (let r = 0; r < RUNS; r++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < REQUESTS; i++) request();
  runs.push(Number(process.hrtime.bigint() - t0) / 1000 / REQUESTS);
}
const sorted = [...runs].sort((a, b) => a - b);
const result = { bench: 'guard-decisions', date: new Date().toISOString(), machine: machine(), requests: REQUESTS, usPerRequest: runs.map((x) => +x.toFixed(2)), medianUsPerRequest: +sorted[Math.floor(RUNS / 2)].toFixed(2) };
fs.mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
fs.writeFileSync(new URL('./results/guard-decisions.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result));
