// Black-box consent leak test: the generator, the runner and the oracle shared by
// packages/server/test/consent-leak.property.spec.ts (a few hundred cases under vitest) and
// bench/consent-leak.bench.mjs (>= 10,000 cases against a started server).
//
// Everything goes through the public HTTP API of a running server: keys made with `createApiKey`,
// purposes with `definePurpose`, policies on data elements with `setFieldPolicy` /
// `deleteFieldPolicy`, people and their consents sent as Segment messages (/v1/identify, /v1/track,
// /v1/page, /v1/alias, /v1/batch) with an ingest key, merges by alias or `mergeProfiles`, and reads
// as GraphQL GET or POST requests.
//
// Each secret is one datum of one person (a trait, an identity, an event payload key), a unique
// token. The oracle decides each datum for each request from docs/consent.md alone: the legal-basis
// table, rules 1 to 6 of "How enforcement works", which policies govern a datum ("Data elements"),
// how merges fold consents, the purpose of a request, what lookups and filters do. A denied datum
// must not appear anywhere in the response body (raw, upper-cased, base64, or as its SHA-256 unless
// a `hash` mask promises it; masks may keep what they promise: the first letter of an email, the
// last digit of a phone); an allowed one must appear where it was asked for; a lookup or filter on
// a denied datum must not find its profile. Where the doc leaves the answer open the oracle says
// 'unsure' and checks nothing either way. It does NOT use the implementation's decision code
// (packages/schema/src/guard, packages/core/src/consent): do not import them here.
import crypto from 'node:crypto';
import fc from 'fast-check';

// ---------------------------------------------------------------------------------------------
// The world: purposes (every legal basis), roles, trait keys, policy targets.
// ---------------------------------------------------------------------------------------------

/** purpose -> legal basis. The first four exist with the database (docs/consent.md#purposes). */
export const PURPOSES = {
  analytics: 'legitimate_interest',
  personalization: 'consent',
  marketing: 'consent',
  support: 'contract',
  research: 'consent',
  billing: 'legal_obligation',
};
const DEFINED = [
  { name: 'research', description: 'Study behaviour for product research.', legalBasis: 'consent' },
  { name: 'billing', description: 'Invoices and tax records.', legalBasis: 'legal_obligation' },
];
const PURPOSE_NAMES = Object.keys(PURPOSES);
/** Segment consent category sent for each purpose (docs/consent.md#from-segment-contextconsentcategorypreferences). */
const CATEGORY = { analytics: 'Analytics', personalization: 'Personalization', marketing: 'Advertising', support: 'Support', research: 'Research', billing: 'Billing' };

const PII = ['email', 'phone'];
/** Server configuration the cases assume (consent.piiTraits, an extra reading role, no rate limit). */
export const SERVER_CONFIG = {
  consent: { piiTraits: PII },
  roles: { analyst: ['profiles:read'] },
  api: { rateLimitPerMinute: 1e9, maxComplexity: 1e7, maxDepth: 12 },
};

const TRAIT_KEYS = ['email', 'phone', 'plan', 'favoriteColor', 'address'];
/** The events each side sends, by name: A a track, B a page (docs/consent.md#data-elements: `<event>` is the name). */
const A_EVENT = 'Order Completed';
const B_EVENT = 'Pricing';
/**
 * What a policy can be set on: data elements (docs/consent.md#data-elements). Trait keys and the
 * collections also have a field form (`type: "Profile", field: "traits.<key>"`), used at random.
 */
const TARGETS = [
  ...TRAIT_KEYS.map((k) => `trait:${k}`),
  'trait:address.city',
  'identity:email',
  'identity:phone',
  'identity:user_id',
  'identity:anonymous_id',
  `event:${A_EVENT}.properties.note`,
  'event:*.properties.*',
  `event:${B_EVENT}.properties`,
  'event:*.context.campaign',
  `event:${A_EVENT}.context.*`,
  'event:*.context.campaign.name',
  'traits',
  'identities',
  'events',
];
/** The field form of an element, when it has one. */
const FIELD_FORM = { traits: 'traits', identities: 'identities', events: 'events', ...Object.fromEntries(TRAIT_KEYS.map((k) => [`trait:${k}`, `traits.${k}`])) };
const MASKABLE = ['trait:email', 'trait:phone', 'trait:plan', 'trait:favoriteColor'];
const POLICY_ROLES = ['app', 'analyst', 'ingest'];
const KEY_ROLES = [['app'], ['analyst'], ['app', 'analyst'], ['admin'], ['ingest']];
const EVENT_FIELDS = ['type', 'name', 'userId', 'anonymousId', 'properties', 'traits', 'context'];
const MASKS = ['null', 'mask', 'hash'];
const DECISIONS = ['absent', 'granted', 'denied', 'expired', 'future'];

// ---------------------------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------------------------

/** A policy on a target; masks only on single values (a trait key), as docs/consent.md#field-policies says. */
const policyArb = (target) =>
  fc.record({
    purposes: fc.subarray(PURPOSE_NAMES, { maxLength: 3 }),
    roles: fc.subarray(POLICY_ROLES, { maxLength: 2 }),
    mask: MASKABLE.includes(target) ? fc.constantFrom(...MASKS) : fc.constant('null'),
    pii: fc.boolean(),
    fieldForm: FIELD_FORM[target] ? fc.boolean() : fc.constant(false),
  });
const consentArb = fc.record({
  decision: fc.constantFrom(...DECISIONS),
  /** prefs: context.consent.categoryPreferences on the side's first message; event: a `Consent Updated` track. */
  channel: fc.constantFrom('prefs', 'prefs', 'event'),
  /** a contradicting decision dated in the past, sent afterwards: it must change nothing. */
  stale: fc.constantFrom(false, false, false, true),
});
const sideArb = fc.record({
  traits: fc.subarray(TRAIT_KEYS),
  userId: fc.boolean(),
  anonymousId: fc.boolean(),
  consents: fc.tuple(...PURPOSE_NAMES.map(() => consentArb)),
  order: fc.boolean(), // whether the track comes before the identify
});
const groupArb = fc.record({
  merge: fc.constantFrom('none', 'none', 'alias', 'mutation'),
  a: sideArb,
  b: sideArb,
});
const selectionArb = fc.record({
  traits: fc.boolean(),
  traitKeys: fc.subarray(TRAIT_KEYS, { maxLength: 3 }),
  identities: fc.boolean(),
  events: fc.subarray(EVENT_FIELDS),
  merges: fc.boolean(),
  packaging: fc.constantFrom('plain', 'named', 'inline', 'split'),
  eventInline: fc.boolean(),
  alias: fc.boolean(),
  split: fc.array(fc.constantFrom('plain', 'named', 'inline'), { minLength: 8, maxLength: 8 }),
});
const rootArb = fc.record({
  kind: fc.constantFrom('byId', 'byMergedId', 'byIdentity', 'filterIdentity', 'filterTrait', 'list'),
  group: fc.nat(9),
  pick: fc.nat(9),
  variables: fc.boolean(),
  sel: selectionArb,
});
const queryArb = fc.record({
  roles: fc.constantFrom(...KEY_ROLES.keys()),
  keyPurposes: fc.subarray(PURPOSE_NAMES, { maxLength: 3 }),
  header: fc.constantFrom('none', 'none', 'own', 'own', 'any', 'bogus'),
  headerPick: fc.nat(9),
  method: fc.constantFrom('POST', 'GET'),
  roots: fc.array(rootArb, { minLength: 1, maxLength: 3 }),
});
/** One case: the policies in force, the people (single or merged) and the reads. */
export const caseArb = fc.record({
  // About a third of the elements carry a policy in a case.
  policies: fc.record(Object.fromEntries(TARGETS.map((t) => [t, fc.oneof({ withCrossShrink: true }, { weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: policyArb(t) })]))),
  groups: fc.array(groupArb, { minLength: 1, maxLength: 2 }),
  queries: fc.array(queryArb, { minLength: 1, maxLength: 3 }),
  /** which first messages go to their own endpoint (/v1/identify, /v1/track, /v1/page) rather than /v1/batch. */
  single: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  aliasSingle: fc.boolean(),
});

// ---------------------------------------------------------------------------------------------
// HTTP.
// ---------------------------------------------------------------------------------------------

async function http(url, init) {
  const res = await fetch(url, init);
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, text, body };
}

async function gql(world, key, query, variables, headers = {}) {
  const r = await http(`${world.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return r;
}
async function adminGql(world, query, variables) {
  const r = await gql(world, world.keys.admin, query, variables);
  if (r.status !== 200 || r.body.errors) throw new Error(`admin request failed (${r.status}): ${r.text}\n${query}`);
  return r.body.data;
}
async function track(world, key, path, body) {
  const r = await http(`${world.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
    body: JSON.stringify(body),
  });
  if (r.status !== 200 || !r.body.success) throw new Error(`ingestion failed (${r.status}) on ${path}: ${r.text}`);
  return r.body;
}

// ---------------------------------------------------------------------------------------------
// Setup shared by every case of a server: purposes, a writer key, a key cache, the policy state.
// ---------------------------------------------------------------------------------------------

/** world: { url, keys: { admin, ingest } } of a running server started with SERVER_CONFIG. */
export async function prepareWorld({ url, keys }) {
  const world = {
    url,
    keys,
    runTag: Array.from(crypto.randomBytes(4), (b) => 'abcdefghijklmnopqrstuvwxyz'[b % 26]).join(''),
    serial: 0,
    phoneSerial: 0,
    keyCache: new Map(),
    policies: new Map(), // target -> { id, sig }
  };
  for (const p of DEFINED) {
    await adminGql(world, `mutation($i: PurposeInput!) { definePurpose(input: $i) { name } }`, { i: p });
  }
  // An ingest key that may also read profiles, so that ingestion answers carry the profileId.
  world.writer = (await adminGql(world, `mutation { createApiKey(input: { name: "leak-writer", roles: ["ingest", "app"] }) { key } }`)).createApiKey.key;
  // A fresh database: no policies yet (consent.policies of SERVER_CONFIG is empty).
  return world;
}

async function keyFor(world, roles, purposes) {
  const sig = `${roles.join('+')}|${[...purposes].sort().join('+')}`;
  let k = world.keyCache.get(sig);
  if (!k) {
    k = (await adminGql(world, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { key } }`, { i: { name: `leak-${sig}`, roles, purposes } })).createApiKey.key;
    world.keyCache.set(sig, k);
  }
  return k;
}

/** Puts exactly the case's policies in force, in one request (deletes, then upserts, as aliases). */
async function applyPolicies(world, policies) {
  const ops = [];
  const vars = {};
  const decl = [];
  const wanted = [];
  let n = 0;
  for (const target of TARGETS) {
    const p = policies[target];
    const cur = world.policies.get(target);
    const sig = p ? JSON.stringify(p) : null;
    if (cur && cur.sig === sig) continue;
    if (cur) {
      ops.push(`d${n++}: deleteFieldPolicy(id: "${cur.id}") { id }`);
      world.policies.delete(target);
    }
    if (!p) continue;
    const { fieldForm, ...rule } = p;
    vars[`p${n}`] = fieldForm ? { type: 'Profile', field: FIELD_FORM[target], ...rule } : { element: target, ...rule };
    decl.push(`$p${n}: FieldPolicyInput!`);
    ops.push(`s${n}: setFieldPolicy(input: $p${n}) { id }`);
    wanted.push([`s${n++}`, target, sig]);
  }
  if (!ops.length) return;
  const data = await adminGql(world, `mutation${decl.length ? `(${decl.join(', ')})` : ''} { ${ops.join(' ')} }`, vars);
  for (const [alias, target, sig] of wanted) world.policies.set(target, { id: data[alias].id, sig });
}

// ---------------------------------------------------------------------------------------------
// People: unique secrets in every trait, identity, event property and context.
// ---------------------------------------------------------------------------------------------

function token(world, kind) {
  world.serial++;
  return `${world.runTag}${kind}${world.serial.toString(36).padStart(6, '0')}`;
}
function phoneOf(world) {
  // +1 415 NXX XXXX, unique within a run (a shared phone would stitch two people together).
  const n = 2_000_000 + ((world.phoneSerial++ * 7_919 + (world.runTag.charCodeAt(0) * 104_729)) % 7_000_000);
  return `+1415${n}`;
}

/**
 * A secret: one datum of one person, in one value. `needle` is what must never appear when the
 * datum is denied (raw, upper-cased, or base64 at any alignment); `hash` its SHA-256 (allowed
 * only where a `hash` mask promises it).
 */
function secret(kind, datum, value, needle) {
  return { kind, datum, value, needle, hash: crypto.createHash('sha256').update(String(value)).digest('hex') };
}

/** Builds a side (one stored profile before any merge) from its generated description. */
function makeSide(world, g, s, role) {
  const side = { role, traits: {}, secrets: {}, ids: {} };
  const keys = role === 'b' ? s.traits.filter((k) => !g.a.traits.includes(k)) : s.traits;
  for (const k of keys) {
    let value;
    if (k === 'email') {
      const t = token(world, 'em');
      value = `m${t}@leak.test`;
      side.secrets.email = secret('trait', 'trait:email', value, t);
    } else if (k === 'phone') {
      value = phoneOf(world);
      side.secrets.phone = secret('trait', 'trait:phone', value, value.slice(2, 11)); // all digits but the last (the mask shows it)
    } else if (k === 'address') {
      const t = token(world, 'ci');
      value = { city: t, country: 'NL' };
      side.secrets.address = secret('trait', 'trait:address.city', t, t);
    } else {
      const t = token(world, k === 'plan' ? 'pl' : 'fc');
      value = t;
      side.secrets[k] = secret('trait', `trait:${k}`, t, t);
    }
    side.traits[k] = value;
  }
  const needsUser = role === 'a' && g.merge === 'alias';
  if (role === 'a' && (s.userId || needsUser)) side.ids.userId = token(world, 'us');
  if (role === 'b' || s.anonymousId || !side.ids.userId) side.ids.anonymousId = token(world, 'an');
  if (side.ids.userId) side.secrets.userId = secret('id', 'identity:user_id', side.ids.userId, side.ids.userId);
  if (side.ids.anonymousId) side.secrets.anonymousId = secret('id', 'identity:anonymous_id', side.ids.anonymousId, side.ids.anonymousId);
  const event = role === 'b' ? B_EVENT : A_EVENT;
  const prop = token(world, 'pr');
  side.secrets.property = secret('property', `event:${event}.properties.${role === 'b' ? 'ref' : 'note'}`, prop, prop);
  const ctx = token(world, 'cx');
  side.secrets.context = secret('context', `event:${event}.context.campaign.name`, ctx, ctx);
  // Consents: the decision in force after ingestion, per purpose.
  side.consents = {};
  PURPOSE_NAMES.forEach((p, i) => {
    const c = { ...s.consents[i] };
    if (c.decision === 'expired' || c.decision === 'future') c.channel = 'event'; // an expiry only travels in a Consent Updated event
    side.consents[p] = c;
  });
  return side;
}

const PAST = '2021-03-01T00:00:00.000Z';
const FUTURE = '2031-03-01T00:00:00.000Z';
const STALE_AT = '2025-06-01T00:00:00.000Z';

/** The messages of one side, in the order they are sent. */
function messagesOf(side) {
  const ids = {};
  if (side.ids.userId) ids.userId = side.ids.userId;
  if (side.ids.anonymousId) ids.anonymousId = side.ids.anonymousId;
  const prefs = {};
  const later = [];
  for (const [p, c] of Object.entries(side.consents)) {
    if (c.decision === 'absent') continue;
    const granted = c.decision !== 'denied';
    if (c.channel === 'prefs') prefs[CATEGORY[p]] = granted;
    else {
      const properties = { purpose: p, granted };
      if (c.decision === 'expired') properties.expiresAt = PAST;
      if (c.decision === 'future') properties.expiresAt = FUTURE;
      later.push({ type: 'track', ...ids, event: 'Consent Updated', properties });
    }
    if (c.stale) later.push({ type: 'track', ...ids, event: 'Consent Updated', timestamp: STALE_AT, properties: { purpose: p, granted: !granted } });
  }
  const consent = Object.keys(prefs).length ? { consent: { categoryPreferences: prefs } } : {};
  const msgs = [];
  const identify = { type: 'identify', ...ids, traits: side.traits, context: { ...consent } };
  const contextTraits = side.traits.email ? { traits: { email: side.traits.email } } : {};
  const ev = side.role === 'b'
    ? { type: 'page', ...ids, name: B_EVENT, properties: { ref: side.secrets.property.value }, context: { campaign: { name: side.secrets.context.value }, ...contextTraits } }
    : { type: 'track', ...ids, event: A_EVENT, properties: { note: side.secrets.property.value, revenue: 12.5 }, context: { campaign: { name: side.secrets.context.value }, ...contextTraits } };
  if (Object.keys(side.traits).length) msgs.push(identify, ev);
  else msgs.push({ ...ev, context: { ...ev.context, ...consent } });
  if (side.order && msgs.length === 2) msgs.reverse();
  return [...msgs, ...later];
}

const PATH = { identify: '/v1/identify', track: '/v1/track', page: '/v1/page', alias: '/v1/alias' };
/** Sends one message to its own endpoint; returns the profileId it landed on (writer key) or null. */
async function sendOne(world, msg, key) {
  const { type, ...m } = msg;
  return (await track(world, key, PATH[type], m)).profileId ?? null;
}

// ---------------------------------------------------------------------------------------------
// The oracle: docs/consent.md's rules.
// ---------------------------------------------------------------------------------------------

/** The state of one purpose for one stored profile: 'absent' | 'granted' | 'denied' | 'expired'. */
function stateOf(c) {
  if (c.decision === 'future') return 'granted';
  return c.decision;
}

/**
 * Merged consents (docs/consent.md "Merges fold consents conservatively"): a denial on either
 * side stays a denial; the survivor keeps a grant only when every side granted; the earliest
 * expiry wins. A grant on one side and no decision on the other: the grant is not kept, but the
 * doc does not say whether the result is "no decision" or a denial (they differ for bases other
 * than consent): 'unsure'.
 */
function foldStates(states) {
  if (states.includes('denied')) return 'denied';
  if (states.every((s) => s === 'absent')) return 'absent';
  if (states.every((s) => s === 'granted' || s === 'expired')) return states.includes('expired') ? 'expired' : 'granted';
  return 'unsure';
}

/** Does the profile allow purpose q (docs/consent.md#purposes, rule 5)? 'allow' | 'deny' | 'unsure'. */
function consentAllows(state, q) {
  if (state === 'unsure') {
    return PURPOSES[q] === 'consent' ? 'deny' : 'unsure';
  }
  if (PURPOSES[q] === 'consent') return state === 'granted' ? 'allow' : 'deny';
  return state === 'denied' || state === 'expired' ? 'deny' : 'allow';
}

/**
 * Rules 3 to 5 of "How enforcement works" for one governing policy, one request, one profile.
 * Returns 'allow' | 'deny' | 'unsure'; with `why`, the rule that denies (for reports).
 */
function decidePolicy(target, policies, req, consents, why) {
  const p = policies[target];
  const admin = req.roles.includes('admin');
  const deny = (reason) => {
    if (why) why.push(`${target}: ${reason}`);
    return 'deny';
  };
  if (p.roles.length && !admin && !p.roles.some((r) => req.roles.includes(r))) return deny('role');
  if (!p.purposes.length) return 'allow';
  if (!req.purpose) return deny('request acts for no purpose');
  if (!p.purposes.includes(req.purpose)) return deny('purpose not served');
  const d = consentAllows(consents[req.purpose], req.purpose);
  return d === 'deny' ? deny(`consent ${consents[req.purpose]} for a ${PURPOSES[req.purpose]} purpose`) : d;
}

const and = (...xs) => (xs.includes('deny') ? 'deny' : xs.includes('unsure') ? 'unsure' : 'allow');

/** Is `path` the element's path or under it? (`a` contains `a.b`; `a.*` contains everything under `a`.) */
function contains(elementPath, path) {
  if (elementPath === '' || elementPath === '*') return true;
  const base = elementPath.endsWith('.*') ? elementPath.slice(0, -2) : elementPath;
  return path === base || path.startsWith(`${base}.`);
}

/**
 * The policies that govern a datum (docs/consent.md#data-elements): `named`, the policies on one of
 * its names or on a path containing it; `collections`, those on a collection holding one of its names.
 * - a trait K: trait:<prefix of K>, and for email and phone identity:<K>; collections traits (+ identities);
 * - user_id / anonymous_id: identity:<type>; collection identities;
 * - an event payload key <event>.<section>.<path>: every event: element matching it; collection events.
 */
function governing(datum, policies) {
  const active = TARGETS.filter((t) => policies[t]);
  const [kind, rest] = [datum.slice(0, datum.indexOf(':')), datum.slice(datum.indexOf(':') + 1)];
  if (kind === 'trait') {
    const key = rest.split('.')[0];
    const named = active.filter((t) => t.startsWith('trait:') && contains(t.slice(6), rest));
    const collections = ['traits'];
    if (PII_IDENTITY.includes(key)) {
      named.push(...active.filter((t) => t === `identity:${key}`));
      collections.push('identities');
    }
    return { named, collections: collections.filter((t) => policies[t]), pii: PII.includes(key), unclassified: false };
  }
  if (kind === 'identity') return { named: active.filter((t) => t === datum), collections: ['identities'].filter((t) => policies[t]), pii: false, unclassified: false };
  // event:<name>.<section>.<path>
  const m = /^(.*)\.(properties|context)\.(.+)$/.exec(rest);
  const named = active.filter((t) => {
    if (!t.startsWith('event:')) return false;
    const e = /^(.*?)\.(properties|context)(?:\.(.+))?$/.exec(t.slice(6));
    return e && (e[1] === '*' || e[1] === m[1]) && e[2] === m[2] && contains(e[3] ?? '', m[3]);
  });
  // Does a named policy classify the payload key itself (the whole section, `*`, or the key's first
  // segment), or only a path under it? The doc does not say whether a policy on
  // `context.campaign.name` classifies the key `campaign` (the server decides per top-level key):
  // with only deeper policies, rule 1 is 'unsure'.
  const top = m[3].split('.')[0];
  const classifiesKey = named.some((t) => {
    const p = /^.*?\.(?:properties|context)(?:\.(.+))?$/.exec(t.slice(6))[1] ?? '';
    return p === '' || p === '*' || p === top || p === `${top}.*`;
  });
  return { named, collections: ['events'].filter((t) => policies[t]), pii: false, unclassified: named.length === 0, partlyClassified: named.length > 0 && !classifiesKey };
}
const PII_IDENTITY = ['email', 'phone'];

/**
 * May this request read this datum of this profile? Rule 1 (a PII trait, or an unclassified event
 * payload key, that no policy names: denied below admin), rule 2 (nothing governs it: allowed),
 * then every governing policy must allow it (rules 3 to 5).
 */
function decideDatum(datum, policies, req, consents, why) {
  const g = governing(datum, policies);
  const admin = req.roles.includes('admin');
  if (!admin && !g.named.length && (g.pii || g.unclassified)) {
    if (why) why.push(`${datum}: ${g.pii ? 'PII trait without a policy' : 'unclassified event payload key (default deny)'}`);
    return 'deny';
  }
  const d = and(...[...g.named, ...g.collections].map((t) => decidePolicy(t, policies, req, consents, why)));
  return !admin && g.partlyClassified ? and(d, 'unsure') : d;
}

/** A whole collection (events, identities, traits): null when its policy denies. */
function decideCollection(name, policies, req, consents, why) {
  return policies[name] ? decidePolicy(name, policies, req, consents, why) : 'allow';
}

/** Where a `hash` mask may show a denied value's SHA-256: a trait whose own policy masks with hash. */
function hashPromised(datum, policies) {
  if (!datum.startsWith('trait:')) return false;
  return governing(datum, policies).named.some((t) => policies[t].mask === 'hash');
}

function needlesOf(s) {
  const out = [s.needle, s.needle.toUpperCase()];
  const b = Buffer.from(s.needle);
  for (let o = 0; o < 3; o++) {
    const enc = Buffer.concat([Buffer.alloc(o, 0x20), b]).toString('base64');
    const g0 = o ? 1 : 0;
    const g1 = Math.floor((o + b.length) / 3);
    const n = enc.slice(4 * g0, 4 * g1);
    if (n.length >= 8) out.push(n, n.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Queries.
// ---------------------------------------------------------------------------------------------

const EVENTS_FIRST = 50;

/** The response keys a selection produces, and the GraphQL text that selects them. */
function buildSelection(sel, r, frags) {
  const items = []; // [responseKey, field, text]
  const A = (name, i) => (sel.alias ? `${name}_${r}${i}` : null);
  items.push(['id', 'id', 'id']);
  if (sel.traits) {
    const a = A('tj', 0);
    items.push([a ?? 'traits', 'traits', `${a ? `${a}: ` : ''}traits`]);
  }
  sel.traitKeys.forEach((k, i) => {
    const a = `tk_${r}${i}`;
    items.push([a, `trait:${k}`, `${a}: trait(key: "${k}")`]);
  });
  if (sel.identities) {
    const a = A('ids', 0);
    items.push([a ?? 'identities', 'identities', `${a ? `${a}: ` : ''}identities { type value }`]);
  }
  if (sel.events.length) {
    const a = A('ev', 0);
    const inner = sel.eventInline ? `__typename ... on Event { ${sel.events.join(' ')} }` : sel.events.join(' ');
    items.push([a ?? 'events', 'events', `${a ? `${a}: ` : ''}events(first: ${EVENTS_FIRST}) { nodes { ${inner} } }`]);
  }
  if (sel.merges) {
    const a = A('mf', 0);
    items.push([a ?? 'mergedFrom', 'merges', `${a ? `${a}: ` : ''}mergedFrom { rule reason }`]);
    const b = A('mh', 0);
    items.push([b ?? 'mergeHistory', 'merges', `${b ? `${b}: ` : ''}mergeHistory { rule reason }`]);
  }
  const plain = [];
  const named = [];
  const inline = [];
  items.forEach(([, , text], i) => {
    const where = sel.packaging === 'split' ? sel.split[i % sel.split.length] : sel.packaging;
    (where === 'named' ? named : where === 'inline' ? inline : plain).push(text);
  });
  let text = plain.join(' ');
  if (named.length) {
    const name = `P${r}`;
    frags.push(`fragment ${name} on Profile { ${named.join(' ')} }`);
    text += ` ...${name}`;
  }
  if (inline.length) text += ` ... on Profile { ${inline.join(' ')} }`;
  return { items, text: text.trim() || 'id' };
}

// ---------------------------------------------------------------------------------------------
// One case.
// ---------------------------------------------------------------------------------------------

/**
 * Runs one generated case against the server and returns its violations:
 * { kind: 'leak' | 'missing' | 'match' | 'status' | 'error', ... }. Empty: the case passed.
 */
export async function runCase(world, c) {
  const T = world.timing ?? (world.timing = { policies: 0, ingest: 0, reads: 0 });
  let t = Date.now();
  // 1. Policies.
  await applyPolicies(world, c.policies);
  T.policies += Date.now() - t;
  t = Date.now();

  // 2. People. First messages that go alone (to learn a side's own profile id, and to use the
  // single-message endpoints), then everything else in one /v1/batch, in order, aliases last;
  // then the `mergeProfiles` merges.
  const caseStart = new Date(Date.now() - 20).toISOString();
  const groups = [];
  const batch = [];
  const aliases = [];
  let si = 0;
  const firsts = [];
  for (const g of c.groups) {
    const group = { merge: g.merge, sides: [makeSide(world, g, g.a, 'a')], profileId: null, mergedId: null, ids: [] };
    if (g.merge !== 'none') group.sides.push(makeSide(world, g, g.b, 'b'));
    const alone = [];
    for (const side of group.sides) {
      const msgs = messagesOf(side);
      const single = g.merge !== 'none' || c.single[si++ % c.single.length];
      // The writer key (ingest + app) gets the profileId back; the pure ingest key when the batch will tell it.
      if (single) alone.push([side, msgs[0], g.merge !== 'none' || msgs.length === 1 ? world.writer : world.keys.ingest]);
      batch.push(...(single ? msgs.slice(1) : msgs).map((m) => [m, side]));
    }
    // A side's first message alone, A's before B's (so A is the older profile); groups side by side.
    firsts.push((async () => {
      for (const [side, msg, key] of alone) side.profileId = await sendOne(world, msg, key);
    })());
    if (g.merge === 'alias') aliases.push([{ type: 'alias', userId: group.sides[0].ids.userId, previousId: group.sides[1].ids.anonymousId }, group.sides[0]]);
    groups.push(group);
  }
  await Promise.all(firsts);
  if (c.aliasSingle) for (const [m] of aliases) await sendOne(world, m, world.keys.ingest);
  else batch.push(...aliases);
  if (batch.length) {
    const r = await track(world, world.writer, '/v1/batch', { batch: batch.map(([m]) => m) });
    if (r.accepted !== batch.length) throw new Error(`batch not accepted: ${JSON.stringify(r)}`);
    // Results name the profile each message ended on (after the batch's merges).
    r.results.forEach((x, k) => { batch[k][1].finalId = x.profileId; });
  }
  const manual = groups.filter((g) => g.merge === 'mutation');
  if (manual.length) {
    const d = await adminGql(world, `mutation { ${manual.map((g, k) => `m${k}: mergeProfiles(ids: ["${g.sides[0].profileId}", "${g.sides[1].profileId}"], reason: "leak-test merge") { id }`).join(' ')} }`);
    manual.forEach((g, k) => { g.profileId = d[`m${k}`].id; });
  }
  for (const group of groups) {
    const [a, b] = group.sides;
    if (group.merge === 'none') group.profileId = a.profileId ?? a.finalId;
    if (group.merge === 'alias') group.profileId = a.profileId; // the older profile survives (identity.md#merges): A's first message came first
    if (b) group.mergedId = group.profileId === a.profileId ? b.profileId : a.profileId;
    if (!group.profileId || (b && !group.mergedId)) throw new Error(`no profile id from ingestion: ${JSON.stringify(group.sides.map((x) => [x.profileId, x.finalId]))}`);
    // The consents in force on the (merged) profile.
    group.consents = Object.fromEntries(PURPOSE_NAMES.map((p) => [p, foldStates(group.sides.map((s) => stateOf(s.consents[p])))]));
    group.secrets = group.sides.flatMap((s) => Object.values(s.secrets));
  }
  T.ingest += Date.now() - t;
  t = Date.now();
  // 3. Reads.
  const violations = [];
  // The reads change nothing, so they run side by side.
  for (const v of await Promise.all(c.queries.map((q, qi) => runQuery(world, c, groups, q, qi, caseStart)))) violations.push(...v);
  T.reads += Date.now() - t;
  return violations;
}

/** A GraphQL literal for a JSON value (object keys unquoted). */
function literal(value) {
  if (value && typeof value === 'object') return `{ ${Object.entries(value).map(([k, x]) => `${k}: ${literal(x)}`).join(', ')} }`;
  return JSON.stringify(value);
}

function identitiesOf(group) {
  const out = [];
  for (const s of group.sides) {
    if (s.ids.userId) out.push({ type: 'user_id', value: s.ids.userId, datum: 'identity:user_id' });
    if (s.ids.anonymousId) out.push({ type: 'anonymous_id', value: s.ids.anonymousId, datum: 'identity:anonymous_id' });
    if (s.traits.email) out.push({ type: 'email', value: s.traits.email, datum: 'trait:email' });
    if (s.traits.phone) out.push({ type: 'phone', value: s.traits.phone, datum: 'trait:phone' });
  }
  return out;
}

async function runQuery(world, c, groups, q, qi, caseStart) {
  const roles = KEY_ROLES[q.roles];
  const key = await keyFor(world, roles, q.keyPurposes);
  const admin = roles.includes('admin');
  const reads = roles.some((r) => r === 'admin' || r === 'app' || r === 'analyst');

  // The purpose of the request (docs/consent.md#the-purpose-of-a-request).
  let header = null;
  let expectStatus = 200; // 'either' when the doc contradicts itself
  if (q.header === 'own' && q.keyPurposes.length) header = q.keyPurposes[q.headerPick % q.keyPurposes.length];
  if (q.header === 'any') header = PURPOSE_NAMES[q.headerPick % PURPOSE_NAMES.length];
  if (q.header === 'bogus') header = 'telepathy';
  if (header === 'telepathy') expectStatus = 400;
  else if (header && !admin && !q.keyPurposes.includes(header)) expectStatus = q.keyPurposes.length ? 403 : 'either';
  const purposeIfOk = header ?? (q.keyPurposes.length === 1 ? q.keyPurposes[0] : null);

  // The operation.
  const frags = [];
  const decls = [];
  const variables = {};
  const roots = [];
  q.roots.forEach((root, r) => {
    const group = groups[root.group % groups.length];
    const gi = groups.indexOf(group);
    const sel = buildSelection(root.sel, r, frags);
    const v = (name, type, value) => {
      if (!root.variables) return literal(value);
      decls.push(`$${name}${r}: ${type}`);
      variables[`${name}${r}`] = value;
      return `$${name}${r}`;
    };
    const alias = `r${r}`;
    let kind = root.kind;
    let target = null; // the datum a lookup or filter goes through
    let text;
    if (kind === 'byMergedId' && !group.mergedId) kind = 'byId';
    const idents = identitiesOf(group);
    const withTraits = group.sides.flatMap((s) => Object.keys(s.traits).map((k) => [k, s.traits[k]]));
    if (kind === 'filterTrait' && !withTraits.length) kind = 'list';
    if (kind === 'byId' || kind === 'byMergedId') {
      text = `${alias}: profile(id: ${v('id', 'ID!', kind === 'byId' ? group.profileId : group.mergedId)}) { ${sel.text} }`;
    } else if (kind === 'byIdentity' || kind === 'filterIdentity') {
      const ident = idents[root.pick % idents.length];
      text = kind === 'byIdentity'
        ? `${alias}: profileByIdentity(type: ${v('t', 'String!', ident.type)}, value: ${v('v', 'String!', ident.value)}) { ${sel.text} }`
        : `${alias}: profiles(first: 10, filter: { identity: { type: ${v('t', 'String!', ident.type)}, value: ${v('v', 'String!', ident.value)} } }) { nodes { ${sel.text} } }`;
      target = { datum: ident.datum, via: `${ident.type}=${ident.value}` };
    } else if (kind === 'filterTrait') {
      const [k, value] = withTraits[root.pick % withTraits.length];
      // Each leaf path of the filter object is the trait datum it reads: address.city for the address.
      const filter = k === 'address' ? { address: { city: value.city } } : { [k]: value };
      const path = k === 'address' ? 'address.city' : k;
      target = { datum: `trait:${path}`, via: `traits.${path}` };
      text = `${alias}: profiles(first: 10, filter: { traits: ${v('f', 'JSONObject!', filter)} }) { nodes { ${sel.text} } }`;
    } else {
      text = `${alias}: profiles(first: 50, filter: { seenSince: ${v('s', 'DateTimeISO!', caseStart)} }) { nodes { ${sel.text} } }`;
      target = { datum: 'collection:events', via: 'seenSince' };
    }
    roots.push({ alias, kind, group, gi, sel: root.sel, items: sel.items, target, text });
  });
  const query = `query Q${qi}${decls.length ? `(${decls.join(', ')})` : ''} { ${roots.map((r) => r.text).join(' ')} } ${frags.join(' ')}`.trim();

  // Send it.
  const headers = { authorization: `Bearer ${key}` };
  if (header) headers['x-rapport-purpose'] = header;
  let res;
  if (q.method === 'GET') {
    const params = new URLSearchParams({ query });
    if (decls.length) params.set('variables', JSON.stringify(variables));
    res = await http(`${world.url}/graphql?${params}`, { method: 'GET', headers: { ...headers, 'apollo-require-preflight': 'true' } });
  } else {
    res = await http(`${world.url}/graphql`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  }
  const request = { method: q.method, roles, keyPurposes: q.keyPurposes, header, query, variables };
  return judge(c, groups, request, res, { roles, admin, reads, expectStatus, purposeIfOk, roots });
}

// ---------------------------------------------------------------------------------------------
// Judging one response.
// ---------------------------------------------------------------------------------------------

/** Every path in a JSON value where `needle` occurs inside a string (or number) leaf or key. */
function pathsOf(value, needle, path = '', out = []) {
  if (value === null || value === undefined) return out;
  if (typeof value === 'string' || typeof value === 'number') {
    if (String(value).includes(needle)) out.push(path || '$');
    return out;
  }
  if (typeof value !== 'object') return out;
  for (const [k, v] of Object.entries(value)) {
    const p = Array.isArray(value) ? `${path}[${k}]` : `${path}${path ? '.' : ''}${k}`;
    if (!Array.isArray(value) && k.includes(needle)) out.push(`${p} (key)`);
    pathsOf(v, needle, p, out);
  }
  return out;
}

/** The place of a path in the response: which part of the API let the value out. */
export function placeOf(path) {
  if (path.startsWith('errors')) return 'errors';
  const segs = path.replace(/\[\d+\]/g, '').split('.');
  for (const s of segs.slice(1)) {
    if (/^(events|ev_)/.test(s)) {
      const sub = segs[segs.indexOf(s) + 2];
      return `events.${sub ?? '?'}`;
    }
    if (/^(identities|ids_)/.test(s)) return 'identities';
    if (/^(mergedFrom|mf_)/.test(s)) return 'mergedFrom';
    if (/^(mergeHistory|mh_)/.test(s)) return 'mergeHistory';
    if (/^(traits|tj_)/.test(s)) return 'traits';
    if (/^tk_/.test(s)) return 'trait(key)';
  }
  return segs.join('.');
}

const GUARD_CODES = new Set(['FORBIDDEN_FIELD', 'CONSENT_REQUIRED', 'FORBIDDEN']);

function judge(c, groups, request, res, { roles, admin, reads, expectStatus, purposeIfOk, roots }) {
  const violations = [];
  const v = (x) => violations.push({ ...x, request, status: res.status, response: res.text });
  const okStatus = expectStatus === 'either' ? [200, 403].includes(res.status) : res.status === expectStatus;
  if (!okStatus) v({ kind: 'status', detail: `expected HTTP ${expectStatus}, got ${res.status}: ${res.text.slice(0, 300)}` });
  const answered = res.status === 200 && typeof res.body === 'object';
  const req = answered && reads ? { roles, purpose: purposeIfOk } : null;
  const body = typeof res.body === 'object' ? res.body : { text: res.text };
  const data = answered ? res.body.data ?? {} : {};
  if (answered) {
    for (const e of res.body.errors ?? []) {
      if (!GUARD_CODES.has(e.extensions?.code)) v({ kind: 'error', detail: `unexpected error: ${JSON.stringify(e).slice(0, 400)}` });
    }
  }
  const decideAny = (datum, g, why) => (datum.startsWith('collection:') ? decideCollection(datum.slice(11), c.policies, req, g.consents, why) : decideDatum(datum, c.policies, req, g.consents, why));
  const decide = (datum, g) => (req ? decideAny(datum, g) : 'deny');
  const container = (name, g) => (req ? decideCollection(name, c.policies, req, g.consents) : 'deny');
  const describe = (g) => ({
    consents: g.consents,
    merge: g.merge,
    sides: g.sides.map((sd) => ({
      ids: sd.ids,
      traits: Object.keys(sd.traits),
      decisions: Object.fromEntries(Object.entries(sd.consents).filter(([, x]) => x.decision !== 'absent').map(([p, x]) => [p, `${x.decision} via ${x.channel}${x.stale ? ' (+ an older contrary decision sent later)' : ''}`])),
    })),
  });

  // Leaks: a denied datum must not appear anywhere in the body, in any form.
  for (const g of groups) {
    for (const s of g.secrets) {
      const d = decide(s.datum, g);
      if (d !== 'deny') continue;
      const needles = needlesOf(s);
      if (!hashPromised(s.datum, c.policies)) needles.push(s.hash);
      for (const n of needles) {
        const paths = pathsOf(body, n);
        if (paths.length) {
          const why = [];
          decideDatum(s.datum, c.policies, req ?? { roles, purpose: null }, g.consents, why);
          const cause = req ? why.join('; ') || 'refused request' : 'refused request';
          v({ kind: 'leak', datum: s.datum, secretKind: s.kind, form: n === s.needle ? 'raw' : n === s.hash ? 'sha256' : 'encoded', place: placeOf(paths[0]), paths: paths.slice(0, 3), cause, detail: `denied by ${why.join('; ') || 'the refused request'}`, group: describe(g) });
          break;
        }
      }
    }
  }

  // Lookups and filters: a denied datum behaves as if it did not exist.
  const resolved = []; // [root, group, profile object]
  for (const r of roots) {
    const val = data[r.alias];
    const nodes = val && Array.isArray(val.nodes) ? val.nodes : val ? [val] : [];
    const find = (g) => nodes.find((n) => n && n.id === g.profileId) ?? null;
    if (r.kind === 'byId' || r.kind === 'byMergedId') {
      if (req) resolved.push([r, r.group, find(r.group)]);
      continue;
    }
    // A lookup or filter, on one datum; `profiles(filter: { seenSince })` reads `events` of every profile.
    for (const g of r.kind === 'list' ? groups : [r.group]) {
      const d = decide(r.target.datum, g);
      const hit = find(g);
      if (d === 'deny' && hit) {
        const why = [];
        if (req) decideAny(r.target.datum, g, why);
        v({ kind: 'match', datum: r.target.datum, place: r.kind, cause: why.join('; ') || 'refused request', detail: `${r.kind} by ${r.target.via} found the profile, though the caller may not read ${r.target.datum} (${why.join('; ') || 'refused request'})`, group: describe(g) });
      }
      if (d === 'allow') resolved.push([r, g, hit]);
    }
  }

  // Presence: every allowed value is returned where it was asked for. A filter or lookup the
  // caller may be refused (FORBIDDEN) nulls the whole `data` when its root is non-null: then
  // nothing else can be asked of the response.
  const refusable = new Set(roots.filter((r) => r.target && (r.kind === 'list' ? groups : [r.group]).some((g) => decide(r.target.datum, g) !== 'allow')).map((r) => r.alias));
  const refused = answered && res.body.data === null && (res.body.errors ?? []).some((e) => e.extensions?.code === 'FORBIDDEN' && refusable.has(e.path?.[0]));
  for (const [r, g, obj] of refused ? [] : resolved) {
    if (!obj) {
      v({ kind: 'missing', place: r.kind, detail: `${r.kind} (${r.alias}) did not return the profile`, group: describe(g) });
      continue;
    }
    const need = (sub, s, place) => {
      if (decide(s.datum, g) !== 'allow') return;
      if (!JSON.stringify(sub ?? null).includes(s.needle)) v({ kind: 'missing', datum: s.datum, secretKind: s.kind, place, detail: `${s.datum} allowed but absent from ${r.alias}.${place}`, group: describe(g) });
    };
    const traitSecrets = g.secrets.filter((s) => s.kind === 'trait');
    for (const [respKey, field] of r.items) {
      const sub = obj[respKey];
      if (field === 'traits') traitSecrets.forEach((s) => need(sub, s, 'traits'));
      else if (field.startsWith('trait:')) traitSecrets.filter((s) => s.datum === field || s.datum.startsWith(`${field}.`)).forEach((s) => need(sub, s, 'trait(key)'));
      else if (field === 'identities') {
        if (container('identities', g) !== 'allow') continue;
        g.secrets.filter((s) => s.kind === 'id' || s.datum === 'trait:email' || s.datum === 'trait:phone').forEach((s) => need(sub, s, 'identities'));
      } else if (field === 'events') {
        if (container('events', g) !== 'allow') continue;
        for (const side of g.sides) {
          const S = side.secrets;
          for (const f of r.sel.events) {
            const subs = (sub?.nodes ?? []).map((n) => n?.[f]);
            if (f === 'userId' && S.userId) need(subs, S.userId, 'events.userId');
            if (f === 'anonymousId' && S.anonymousId) need(subs, S.anonymousId, 'events.anonymousId');
            if (f === 'properties') need(subs, S.property, 'events.properties');
            // An alias's previousId shows only when both user_id and anonymous_id may be read (docs/consent.md#data-elements).
            if (f === 'properties' && side.role === 'b' && g.merge === 'alias' && decide('identity:user_id', g) === 'allow') need(subs, S.anonymousId, 'events.properties(previousId)');
            if (f === 'context') need(subs, S.context, 'events.context');
            if (f === 'context' && S.email) need(subs, S.email, 'events.context(traits)');
            if (f === 'traits') Object.values(S).filter((s) => s.kind === 'trait').forEach((s) => need(subs, s, 'events.traits'));
          }
        }
      }
    }
  }
  return violations;
}

/** Families of violations: each is one property of the spec, so each shrinks to its own minimal case. */
export const FAMILIES = [
  ['profile', 'a denied trait never appears through traits or trait(key), masks included'],
  ['identities', 'a denied datum never appears through identities'],
  ['events', 'a denied datum never appears through events (payloads and ids)'],
  ['merges', 'a denied datum never appears through merge records'],
  ['errors', 'a denied datum never appears in an error'],
  ['lookups', 'lookups and filters on a denied datum behave as if it did not exist'],
  ['missing', 'every allowed value is returned where it is asked for'],
  ['protocol', 'statuses and errors are the documented ones'],
];
export function familyOf(x) {
  if (x.kind === 'match') return 'lookups';
  if (x.kind === 'missing') return 'missing';
  if (x.kind !== 'leak') return 'protocol';
  if (x.place === 'identities') return 'identities';
  if (x.place.startsWith('events')) return 'events';
  if (x.place === 'mergedFrom' || x.place === 'mergeHistory') return 'merges';
  if (x.place === 'errors') return 'errors';
  return 'profile';
}

/** A short name for a violation, to count them by kind (the bench) and pick one to shrink. */
export function categoryOf(x) {
  if (x.kind === 'leak') return `leak ${x.datum} via ${x.place}${x.form !== 'raw' ? ` (${x.form})` : ''}`;
  if (x.kind === 'match') return `lookup oracle ${x.place} by ${x.datum}`;
  if (x.kind === 'missing') return `missing ${x.datum ?? 'profile'} in ${x.place}`;
  return x.kind;
}

/** A readable account of a failing case's first violations. */
export function report(c, violations, max = 3) {
  const lines = [];
  const active = Object.fromEntries(Object.entries(c.policies).filter(([, p]) => p));
  lines.push(`${violations.length} violation(s); policies in force: ${JSON.stringify(active)}`);
  for (const x of violations.slice(0, max)) {
    lines.push(`- ${categoryOf(x)}: ${x.detail ?? ''}${x.paths ? ` at ${x.paths.join(', ')}` : ''}`);
    if (x.group) lines.push(`  profile: ${JSON.stringify(x.group)}`);
    lines.push(`  request: ${x.request.method} key roles ${JSON.stringify(x.request.roles)} purposes ${JSON.stringify(x.request.keyPurposes)} x-rapport-purpose ${x.request.header ?? '(none)'} -> HTTP ${x.status}`);
    lines.push(`  ${x.request.query}${Object.keys(x.request.variables).length ? `  variables ${JSON.stringify(x.request.variables)}` : ''}`);
    lines.push(`  response: ${x.response.length > 1500 ? `${x.response.slice(0, 1500)}...` : x.response}`);
  }
  return lines.join('\n');
}
