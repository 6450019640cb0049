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
 * the deeper paths policies name; a denied key is absent, not null. Returns `obj` itself when nothing is
 * left out (see {@link redactKeys}).
 */
function redactObject(obj: Record<string, unknown>, datum: (path: string) => Datum, keep: DatumFilter, nested: NestedPaths): Record<string, unknown> {
  return redactKeys(obj, (k, v) => keptValue(k, v, datum, keep, nested));
}

/** What {@link keptValue} answers for a key that is left out. */
const DROP: unique symbol = Symbol('drop');

/**
 * The value of one top-level key as the reader may see it: the value itself (shared, never
 * changed) when neither it nor a deeper path policies name is denied, a copy without the denied
 * deeper paths, or {@link DROP} when the key itself is denied.
 */
function keptValue(k: string, v: unknown, datum: (path: string) => Datum, keep: DatumFilter, nested: NestedPaths): unknown {
  const d = datum(k);
  if (!keep(d)) return DROP;
  let copy: Record<string, unknown> | null = null;
  for (const p of nested(d)) {
    if (!hasPath(copy ?? { [k]: v }, p) || keep(datum(p))) continue;
    copy ??= { [k]: structuredClone(v) };
    removePath(copy, p);
  }
  return copy ? copy[k] : v;
}

/**
 * `obj` with each key's value as `valueOf` answers it ({@link DROP}: left out). When every value
 * comes back as it was (a read where nothing is denied, the usual case), `obj` itself is returned,
 * so the read copies nothing; otherwise a new object (the stored one is never changed).
 */
function redactKeys(obj: Record<string, unknown>, valueOf: (k: string, v: unknown) => unknown): Record<string, unknown> {
  const keys = Object.keys(obj);
  let out: Record<string, unknown> | null = null;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = obj[k];
    const kept = valueOf(k, v);
    if (out === null) {
      if (kept === v) continue;
      out = {};
      for (let j = 0; j < i; j++) setOwn(out, keys[j]!, obj[keys[j]!]);
    }
    if (kept !== DROP) setOwn(out, k, kept);
  }
  return out ?? obj;
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
      const datum = payload('properties');
      return redactKeys(e.properties ?? {}, (k, v) => {
        if (e.type === 'alias' && k === 'previousId') return PREVIOUS_ID_TYPES.every(identity) ? v : DROP;
        return keptValue(k, v, datum, keep, nested);
      });
    }
    case 'context': {
      const datum = payload('context');
      return redactKeys(e.context ?? {}, (k, v) => {
        if (k === 'traits' && isObject(v)) return redactTraits(v, keep, nested);
        if (k === 'externalIds' && Array.isArray(v)) {
          const kept = v.filter((x) => isObject(x) && typeof x.type === 'string' && identity(normalizeIdentityType(x.type)));
          return kept.length === v.length ? v : kept;
        }
        return keptValue(k, v, datum, keep, nested);
      });
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
