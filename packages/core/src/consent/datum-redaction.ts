import type { EventRecord } from '../service/event.service';
import { normalizeIdentityType } from '../identity/identity-normalizer';
import { ownValue, setOwn } from '../ingestion/own-key';
import type { Datum } from './data-element';

/**
 * Decides one datum for the profile being read: true to keep it. A denial is reported by the
 * decider (an error per datum), so these functions only remove.
 */
export type DatumFilter = (d: Datum) => boolean;

/** Paths inside a top-level key that policies name separately (so a read of the key leaves them out when denied). */
export type NestedPaths = (d: Datum) => string[];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// Keys here are the sender's (any string, `__proto__` and `constructor` included): own keys only.
function removePath(obj: Record<string, unknown>, path: string): void {
  const parts = path.split('.');
  let cur: unknown = obj;
  for (const p of parts.slice(0, -1)) {
    if (!isObject(cur)) return;
    cur = ownValue(cur, p);
  }
  if (isObject(cur)) delete cur[parts[parts.length - 1]];
}

function hasPath(obj: Record<string, unknown>, path: string): boolean {
  let cur: unknown = obj;
  for (const p of path.split('.')) {
    if (!isObject(cur) || !Object.prototype.hasOwnProperty.call(cur, p)) return false;
    cur = cur[p];
  }
  return true;
}

/**
 * Leaves out of an object every datum the filter denies: each top-level key as `datum(key)`, then
 * the deeper paths policies name. Returns a copy; a denied key is absent, not null.
 */
function redactObject(obj: Record<string, unknown>, datum: (path: string) => Datum, keep: DatumFilter, nested: NestedPaths): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) {
    const d = datum(k);
    if (!keep(d)) continue;
    // A kept key's value is shared as it is unless a deeper path must go: only then is it copied
    // (the stored value is never changed).
    let copy: Record<string, unknown> | null = null;
    for (const p of nested(d)) {
      if (!hasPath(copy ?? obj, p) || keep(datum(p))) continue;
      copy ??= { [k]: structuredClone(obj[k]) };
      removePath(copy, p);
    }
    setOwn(out, k, copy ? copy[k] : obj[k]);
  }
  return out;
}

/** Copies one payload key into `out` when kept, without the denied paths under it (the common case, no policy below the key, copies nothing). */
function keepKey(out: Record<string, unknown>, k: string, v: unknown, datum: (path: string) => Datum, keep: DatumFilter, nested: NestedPaths): void {
  const d = datum(k);
  if (nested(d).length) {
    const kept = redactObject({ [k]: v }, datum, keep, nested);
    if (Object.hasOwn(kept, k)) setOwn(out, k, kept[k]);
  } else if (keep(d)) setOwn(out, k, v);
}

/** A profile's traits (or an identify event's `traits` / `context.traits`) without the denied trait data. */
export function redactTraits(traits: Record<string, unknown>, keep: DatumFilter, nested: NestedPaths): Record<string, unknown> {
  return redactObject(traits, (path) => ({ kind: 'trait', path }), keep, nested);
}

/** The value of one trait key (`trait(key:)`), without the denied data nested in it; undefined when the key itself is denied. */
export function redactTraitValue(key: string, value: unknown, keep: DatumFilter, nested: NestedPaths): unknown {
  if (!keep({ kind: 'trait', path: key })) return undefined;
  if (!isObject(value)) return value;
  return ownValue(redactTraits({ [key]: value }, keep, nested), key);
}

/** The name events are matched by in `event:<name>...` elements: the event or page name, else the message type. */
export function eventElementName(e: Pick<EventRecord, 'name' | 'type'>): string {
  return e.name ?? e.type;
}

/** Identity types an alias event's `properties.previousId` may be. */
const PREVIOUS_ID_TYPES = ['user_id', 'anonymous_id'];

/** The fields of an event that carry personal data. */
export type EventDataField = 'userId' | 'anonymousId' | 'properties' | 'traits' | 'context';

/**
 * One field of an event without the data the filter denies: `userId` and `anonymousId` are the
 * identity data (`user_id`, `anonymous_id`); `traits` and `context.traits` hold trait data;
 * `context.externalIds` hold identities of their (normalised) type; an alias's `properties.previousId` is a
 * user or anonymous id; every other key of `properties` and `context` is an event payload key
 * (`event:<name>.<section>.<path>`).
 */
export function redactEventField(e: EventRecord, field: EventDataField, keep: DatumFilter, nested: NestedPaths): unknown {
  const name = eventElementName(e);
  const identity = (type: string): boolean => keep({ kind: 'identity', type });
  const payload = (section: 'properties' | 'context') => (path: string): Datum => ({ kind: 'eventKey', event: name, section, path });
  switch (field) {
    case 'userId':
      return e.userId !== null && !identity('user_id') ? null : e.userId;
    case 'anonymousId':
      return e.anonymousId !== null && !identity('anonymous_id') ? null : e.anonymousId;
    case 'traits':
      return e.traits ? redactTraits(e.traits, keep, nested) : e.traits;
    case 'properties': {
      const out: Record<string, unknown> = {};
      const datum = payload('properties');
      for (const [k, v] of Object.entries(e.properties ?? {})) {
        if (e.type === 'alias' && k === 'previousId') {
          if (PREVIOUS_ID_TYPES.every(identity)) out[k] = v;
          continue;
        }
        keepKey(out, k, v, datum, keep, nested);
      }
      return out;
    }
    case 'context': {
      const out: Record<string, unknown> = {};
      const datum = payload('context');
      for (const [k, v] of Object.entries(e.context ?? {})) {
        if (k === 'traits' && isObject(v)) out.traits = redactTraits(v, keep, nested);
        else if (k === 'externalIds' && Array.isArray(v)) {
          out.externalIds = v.filter((x) => isObject(x) && typeof x.type === 'string' && identity(normalizeIdentityType(x.type)));
        } else keepKey(out, k, v, datum, keep, nested);
      }
      return out;
    }
  }
}

/** An event without the data the filter denies (every field as {@link redactEventField}). */
export function redactEvent(e: EventRecord, keep: DatumFilter, nested: NestedPaths): EventRecord {
  const f = (field: EventDataField) => redactEventField(e, field, keep, nested);
  return {
    ...e, userId: f('userId') as string | null, anonymousId: f('anonymousId') as string | null,
    traits: f('traits') as Record<string, unknown> | null, properties: f('properties') as Record<string, unknown>, context: f('context') as Record<string, unknown>,
  };
}

/** A merge's `reason` without denied data: the identities that proved it, and compared trait values. */
export function redactMergeReason(reason: Record<string, unknown>, keep: DatumFilter, traitsOfComparison: (name: string) => string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...reason };
  if (Array.isArray(reason.identities)) {
    out.identities = reason.identities.filter((i) => isObject(i) && typeof i.type === 'string' && keep({ kind: 'identity', type: i.type }));
  }
  if (Array.isArray(reason.explanation)) out.explanation = redactExplanation(reason.explanation, keep, keep, traitsOfComparison);
  return out;
}

/** Match explanations with `valueA` / `valueB` nulled where the compared traits are denied (each side decided for its own profile). */
export function redactExplanation<T>(explanation: T[], keepA: DatumFilter, keepB: DatumFilter, traitsOfComparison: (name: string) => string[]): T[] {
  return explanation.map((x) => {
    if (!isObject(x)) return x;
    const paths = traitsOfComparison(String(x.comparison));
    const ok = (keep: DatumFilter) => paths.every((path) => keep({ kind: 'trait', path }));
    return { ...x, valueA: ok(keepA) ? x.valueA : null, valueB: ok(keepB) ? x.valueB : null } as T;
  });
}
