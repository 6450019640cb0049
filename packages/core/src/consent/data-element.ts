import { ValidationError } from '../errors/rapport-error';
import { normalizeIdentityType } from '../identity/identity-normalizer';

/** A collection of data elements a policy can govern as a whole. */
export type CollectionName = 'events' | 'identities' | 'traits';

/**
 * A data element: what a policy governs, wherever the datum appears.
 * - `trait:<path>`: a trait key (`trait:email`, `trait:address.city`);
 * - `identity:<type>`: an identity type (`email`, `phone`, `user_id`, `anonymous_id`, `external:<type>`;
 *   an external type is held in lower snake case, as `context.externalIds` types are stored);
 * - `event:<event name>.<properties|context>[.<path>]`: an event payload key; the event name may be `*`
 *   (any event) and the path may end with `*` (`event:Order Completed.properties.*`);
 * - `events`, `identities`, `traits`: a whole collection.
 */
export type DataElement =
  | { kind: 'trait'; path: string }
  | { kind: 'identity'; type: string }
  | { kind: 'event'; event: string; section: 'properties' | 'context'; path: string }
  | { kind: 'collection'; name: CollectionName };

/** A datum as the guard meets it in a response: what it is, not where it is. */
export type Datum =
  | { kind: 'trait'; path: string }
  | { kind: 'identity'; type: string }
  | { kind: 'eventKey'; event: string; section: 'properties' | 'context'; path: string }
  | { kind: 'collection'; name: CollectionName };

/** Trait keys that are also identity types: the same datum under two names. */
export const IDENTITY_TRAITS = ['email', 'phone'] as const;
const COLLECTIONS: CollectionName[] = ['events', 'identities', 'traits'];
const IDENTITY_TYPES = ['email', 'phone', 'user_id', 'anonymous_id'];
const PATH = /^[^\s.*][^\s*]*$/;
/** Storage type of policies on elements that are not a `Profile` field. */
export const ELEMENT_POLICY_TYPE = 'element';

const bad = (element: string, rule: string, why: string) =>
  new ValidationError('element', rule, `${JSON.stringify(element)} is not a data element: ${why}`);

/** Parses an element name (see {@link DataElement}); a bad name is a VALIDATION_FAILED naming it and the rule. */
export function parseElement(element: string): DataElement {
  const s = element.trim();
  if ((COLLECTIONS as string[]).includes(s)) return { kind: 'collection', name: s as CollectionName };
  const colon = s.indexOf(':');
  const kind = colon > 0 ? s.slice(0, colon) : '';
  const rest = s.slice(colon + 1);
  if (kind === 'trait') {
    if (!PATH.test(rest) || rest.split('.').some((p) => !p)) throw bad(element, 'trait', 'a trait key is a dotted path without spaces or *, e.g. trait:address.city');
    return { kind: 'trait', path: rest };
  }
  if (kind === 'identity') {
    if (IDENTITY_TYPES.includes(rest)) return { kind: 'identity', type: rest };
    const ext = /^external:(.+)$/.exec(rest);
    const type = ext ? normalizeIdentityType(ext[1]) : '';
    if (!type) throw bad(element, 'identity', `identity types are ${IDENTITY_TYPES.join(', ')} and external:<type>`);
    return { kind: 'identity', type }; // stored as context.externalIds types are: lower snake case
  }
  if (kind === 'event') {
    const m = /^(.+?)\.(properties|context)(?:\.(.+))?$/.exec(rest);
    if (!m || !m[1].trim()) throw bad(element, 'event', 'an event element is event:<event name or *>.<properties|context>[.<path>[.*]]');
    const path = m[3] ?? '*';
    if (path !== '*' && (!/^[^\s*]+(\.\*)?$/.test(path) || path.split('.').some((p) => !p))) {
      throw bad(element, 'event', `"${path}" is not a payload path: a dotted path, optionally ending in .*`);
    }
    return { kind: 'event', event: m[1], section: m[2] as 'properties' | 'context', path };
  }
  throw bad(element, 'kind', 'elements are trait:<key>, identity:<type>, event:<name>.<properties|context>.<path>, events, identities or traits');
}

/** The canonical name of an element. */
export function formatElement(e: DataElement | Datum): string {
  switch (e.kind) {
    case 'trait': return `trait:${e.path}`;
    case 'identity': return IDENTITY_TYPES.includes(e.type) ? `identity:${e.type}` : `identity:external:${e.type}`;
    case 'event':
    case 'eventKey': return `event:${e.event}.${e.section}${e.path === '*' ? '' : `.${e.path}`}`;
    default: return e.name;
  }
}

/**
 * The element a stored policy governs: `Profile.traits.<key>` is `trait:<key>`, `Profile.traits`,
 * `Profile.events` and `Profile.identities` are the collections, `element` rows carry their name.
 * Null for a policy on a plain GraphQL field (`Profile.loyaltyTier`).
 */
export function elementOfPolicy(type: string, field: string): DataElement | null {
  if (type === ELEMENT_POLICY_TYPE) return parseElement(field);
  if (type !== 'Profile') return null;
  if (field.startsWith('traits.')) return { kind: 'trait', path: field.slice(7) };
  if ((COLLECTIONS as string[]).includes(field)) return { kind: 'collection', name: field as CollectionName };
  return null;
}

/** Where a policy on an element is stored: the `Profile` field form when one exists (backward compatible). */
export function policyKeyOf(e: DataElement): { type: string; field: string } {
  if (e.kind === 'trait') return { type: 'Profile', field: `traits.${e.path}` };
  if (e.kind === 'collection') return { type: 'Profile', field: e.name };
  return { type: ELEMENT_POLICY_TYPE, field: formatElement(e) };
}

const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}.`);

function payloadMatches(pattern: string, path: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return path.startsWith(pattern.slice(0, -1));
  return under(path, pattern);
}

/**
 * True when a policy on `e` governs datum `d`: the datum is named by the element, or lies inside
 * it, or is the same datum under another name (the `email` trait and the `email` identity), or
 * is held by the collection. A trait inside an identify event's `traits` or `context.traits` is
 * the trait datum; an id inside an event or a merge record is the identity datum.
 */
export function governs(e: DataElement, d: Datum): boolean {
  const traitKey = d.kind === 'trait' ? d.path.split('.')[0] : d.kind === 'identity' && (IDENTITY_TRAITS as readonly string[]).includes(d.type) ? d.type : null;
  const identityType = d.kind === 'identity' ? d.type : traitKey && (IDENTITY_TRAITS as readonly string[]).includes(traitKey) ? traitKey : null;
  switch (e.kind) {
    case 'collection':
      if (d.kind === 'collection') return d.name === e.name;
      if (e.name === 'traits') return traitKey !== null;
      if (e.name === 'identities') return identityType !== null;
      return false; // `events` governs the collection; its payload keys are decided one by one
    case 'trait':
      if (d.kind === 'trait') return under(d.path, e.path);
      return d.kind === 'identity' && traitKey !== null && e.path === traitKey;
    case 'identity':
      return identityType !== null && identityType === e.type;
    case 'event':
      return d.kind === 'eventKey' && (e.event === '*' || e.event === d.event) && e.section === d.section && payloadMatches(e.path, d.path);
  }
}

/** True when an element names the datum itself or another name of it (not only a collection holding it). */
export function namesDatum(e: DataElement, d: Datum): boolean {
  return e.kind !== 'collection' && governs(e, d);
}

/** Trait paths strictly inside `path` that some element names (a read of `path` must leave them out when denied). */
export function nestedTraitPaths(elements: DataElement[], path: string): string[] {
  return elements.flatMap((e) => (e.kind === 'trait' && e.path.startsWith(`${path}.`) ? [e.path] : []));
}
