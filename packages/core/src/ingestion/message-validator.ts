import { randomUUID } from 'node:crypto';
import type { IdentityConfig } from '../identity/identity.config';
import type { IngestionConfig } from './ingestion.config';

/** The settings validation reads. */
export interface ValidationConfig {
  identity: IdentityConfig;
  ingestion: IngestionConfig;
}
import { PayloadTooLargeError, ValidationError } from '../errors/rapport-error';
import { isBlockedValue, normalizeIdentityType, normalizeIdentityValue } from '../identity/identity-normalizer';
import { checkStorableJson, toWellFormedJson } from './storable-json.validator';
import { MESSAGE_TYPES, type IdentityRef, type MessageType, type NormalizedMessage, type RawMessage } from './segment-message.types';

/** Where a message sits and what the request around it says. */
export interface ValidationContext {
  /** The type implied by the endpoint (`/v1/track`); a batch message must carry its own. */
  impliedType?: MessageType;
  /** Field path prefix for errors, e.g. `batch[3]`. */
  path?: string;
  receivedAt: Date;
  /** `sentAt` of the enclosing batch, used when the message has none. */
  batchSentAt?: unknown;
  config: ValidationConfig;
  /** Size of the message in bytes, when the caller already knows it. */
  bytes?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function at(path: string | undefined, field: string): string {
  return path ? `${path}.${field}` : field;
}

function optionalObject(raw: RawMessage, field: string, ctx: ValidationContext): Record<string, unknown> | null {
  const v = raw[field];
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw new ValidationError(at(ctx.path, field), 'object', `must be a JSON object, got ${Array.isArray(v) ? 'an array' : typeof v}`);
  return v;
}

function optionalId(raw: RawMessage, field: string, ctx: ValidationContext): string | null {
  const v = raw[field];
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') throw new ValidationError(at(ctx.path, field), 'string', `must be a string, got ${typeof v}`);
  const t = v.trim();
  if (t.length > 512) throw new ValidationError(at(ctx.path, field), 'maxLength', 'must be at most 512 characters');
  return t === '' ? null : t;
}

/** The earliest date Rapport stores: dates are years 0001 to 9999 (UTC), which PostgreSQL, JavaScript and every ISO-8601 reader handle. */
export const MIN_DATE = Date.parse('0001-01-01T00:00:00.000Z');
/** The latest date Rapport stores (see {@link MIN_DATE}). */
export const MAX_DATE = Date.parse('9999-12-31T23:59:59.999Z');

function inDateRange(d: Date, field: string, ctx: ValidationContext, what = JSON.stringify(d.toISOString())): Date {
  if (d.getTime() < MIN_DATE || d.getTime() > MAX_DATE) {
    throw new ValidationError(at(ctx.path, field), 'dateRange', `${what} is outside the years 0001 to 9999`);
  }
  return d;
}

function optionalDate(raw: RawMessage | Record<string, unknown>, field: string, ctx: ValidationContext, value = raw[field]): Date | null {
  if (value === undefined || value === null || value === '') return null;
  const d = typeof value === 'string' || typeof value === 'number' ? new Date(value) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new ValidationError(at(ctx.path, field), 'datetime', `${JSON.stringify(value)} is not an ISO-8601 date-time`);
  return inDateRange(d, field, ctx, JSON.stringify(value));
}

/**
 * Event and page/screen names are indexed (with the profile and type); a B-tree entry holds at
 * most 2,704 bytes, so a name may take at most this many bytes of UTF-8.
 */
export const MAX_NAME_BYTES = 2048;

function indexedName(v: string, field: string, ctx: ValidationContext): string {
  // Three bytes per UTF-16 unit at most: only long names need counting.
  if (v.length * 3 > MAX_NAME_BYTES && Buffer.byteLength(v) > MAX_NAME_BYTES) {
    throw new ValidationError(at(ctx.path, field), 'maxBytes', `must be at most ${MAX_NAME_BYTES} bytes in UTF-8 (it is indexed), got ${Buffer.byteLength(v)}`);
  }
  return v;
}

function requireString(raw: RawMessage, field: string, ctx: ValidationContext, what: string): string {
  const v = raw[field];
  if (typeof v !== 'string' || v.trim() === '') {
    throw new ValidationError(at(ctx.path, field), 'required', `is required for ${what} and must be a non-empty string`);
  }
  if (v.length > 1024) throw new ValidationError(at(ctx.path, field), 'maxLength', 'must be at most 1024 characters');
  return indexedName(v.trim(), field, ctx);
}

/**
 * Checks one message against the Segment spec and Rapport's rules, and returns it normalised:
 * server `receivedAt`, clock-skew-corrected `timestamp`, and its person identities.
 * Throws a {@link ValidationError} naming the field and the rule on the first problem, starting
 * with values PostgreSQL cannot store ({@link checkStorableJson}, dates outside {@link MIN_DATE}..{@link MAX_DATE}).
 * Lone surrogates in free text are replaced by U+FFFD, with a warning.
 */
export function validateMessage(input: unknown, ctx: ValidationContext): NormalizedMessage {
  if (!isObject(input)) throw new ValidationError(ctx.path ?? 'body', 'object', 'a message must be a JSON object');
  // First, before anything recursive touches it (JSON.stringify below): can PostgreSQL store it?
  const warnings: string[] = [];
  const storable = checkStorableJson(input, ctx.path);
  let raw = input;
  if (storable.illFormedText) {
    raw = toWellFormedJson(input);
    warnings.push(
      `${ctx.path ?? 'message'}: ${storable.illFormedText} ${storable.illFormedText === 1 ? 'string' : 'strings'} held a lone surrogate ` +
        '(ill-formed UTF-16, such as half an emoji), stored as U+FFFD',
    );
  }
  // Serialised only when the cheap upper bound does not already show it within the limit.
  const limit = ctx.config.ingestion.maxMessageBytes;
  const bytes = ctx.bytes ?? (storable.maxJsonBytes <= limit ? storable.maxJsonBytes : Buffer.byteLength(JSON.stringify(raw)));
  if (bytes > ctx.config.ingestion.maxMessageBytes) throw new PayloadTooLargeError(ctx.path ?? 'message', ctx.config.ingestion.maxMessageBytes, bytes);

  const declared = raw.type;
  let type: MessageType;
  if (declared === undefined && ctx.impliedType) type = ctx.impliedType;
  else if (typeof declared === 'string' && (MESSAGE_TYPES as readonly string[]).includes(declared)) type = declared as MessageType;
  else throw new ValidationError(at(ctx.path, 'type'), 'enum', `${JSON.stringify(declared ?? null)} is not one of ${MESSAGE_TYPES.join(', ')}`);
  if (ctx.impliedType && type !== ctx.impliedType) {
    throw new ValidationError(at(ctx.path, 'type'), 'enum', `"${type}" was sent to the ${ctx.impliedType} endpoint`);
  }

  const userId = optionalId(raw, 'userId', ctx);
  const anonymousId = optionalId(raw, 'anonymousId', ctx);
  const context = optionalObject(raw, 'context', ctx) ?? {};
  const properties = optionalObject(raw, 'properties', ctx) ?? {};
  const traits = optionalObject(raw, 'traits', ctx);
  const integrations = optionalObject(raw, 'integrations', ctx);

  let name: string | null = null;
  const category = type === 'page' && typeof raw.category === 'string' ? raw.category : null;
  let previousId: string | null = null;
  let groupId: string | null = null;
  if (type === 'track') name = requireString(raw, 'event', ctx, 'track');
  if (type === 'page' || type === 'screen') name = typeof raw.name === 'string' ? indexedName(raw.name, 'name', ctx) : null;
  if (type === 'group') {
    groupId = optionalId(raw, 'groupId', ctx);
    if (!groupId) throw new ValidationError(at(ctx.path, 'groupId'), 'required', 'is required for group');
  }
  if (type === 'alias') {
    previousId = optionalId(raw, 'previousId', ctx);
    if (!previousId) throw new ValidationError(at(ctx.path, 'previousId'), 'required', 'is required for alias');
    if (!userId) throw new ValidationError(at(ctx.path, 'userId'), 'required', 'is required for alias');
  } else if (!userId && !anonymousId) {
    throw new ValidationError(at(ctx.path, 'userId'), 'required', 'a message needs a userId or an anonymousId');
  }

  let messageId = optionalId(raw, 'messageId', ctx);
  if (!messageId) messageId = `rapport-${randomUUID()}`;

  const receivedAt = ctx.receivedAt;
  const fromTimestamp = optionalDate(raw, 'timestamp', ctx);
  const originalTimestamp = fromTimestamp ?? optionalDate(raw, 'originalTimestamp', ctx);
  const sentAt = optionalDate(raw, 'sentAt', ctx) ?? optionalDate({}, 'sentAt', ctx, ctx.batchSentAt);
  // Segment's clock-skew correction: the client's clock may be wrong, but the gap between when it
  // says the event happened and when it says it sent it is right.
  const timestamp = originalTimestamp
    ? sentAt
      ? inDateRange(
          new Date(receivedAt.getTime() - (sentAt.getTime() - originalTimestamp.getTime())), fromTimestamp ? 'timestamp' : 'originalTimestamp', ctx,
          'corrected for the clock skew that sentAt shows, it',
        )
      : originalTimestamp
    : receivedAt;

  const identities = extractIdentities({ type, userId, anonymousId, traits, context }, ctx, warnings);
  if (identities.length === 0 && type !== 'alias') {
    const field = userId ? 'userId' : 'anonymousId';
    throw new ValidationError(at(ctx.path, field), 'blocked', `${JSON.stringify(userId ?? anonymousId)} is a blocked value that identifies no one; send a real userId or anonymousId`);
  }
  if (type === 'alias' && isBlockedValue(previousId!, ctx.config.identity)) {
    throw new ValidationError(at(ctx.path, 'previousId'), 'blocked', `${JSON.stringify(previousId)} is a blocked value that identifies no one`);
  }
  if (type === 'alias' && !identities.some((i) => i.type === 'user_id')) {
    throw new ValidationError(at(ctx.path, 'userId'), 'blocked', `${JSON.stringify(userId)} is a blocked value that identifies no one`);
  }

  return {
    type, messageId, userId, anonymousId, previousId, groupId, name, category, properties,
    traits, context, integrations, timestamp, originalTimestamp, sentAt, receivedAt, identities, warnings,
  };
}

/** Adds a named identity to `out` (once per type and value), or warns or throws why it links nothing. */
function addIdentity(
  out: IdentityRef[], type: string, value: string, field: string, strict: boolean, ctx: ValidationContext, warnings: string[],
): void {
  const cfg = ctx.config.identity;
  const normalized = normalizeIdentityValue(type, value, cfg);
  if (normalized === null) {
    if (strict) throw new ValidationError(at(ctx.path, field), type, `${JSON.stringify(value)} is not ${type === 'email' ? 'an email address' : `a valid ${type}`}`);
    warnings.push(`${at(ctx.path, field)}: ${JSON.stringify(value)} is not a valid ${type}; it was kept as a trait but links nothing`);
    return;
  }
  if (isBlockedValue(normalized, cfg)) {
    warnings.push(`${at(ctx.path, field)}: ${JSON.stringify(value)} is a blocked value and links nothing`);
    return;
  }
  if (out.length < LINEAR_DEDUPE) {
    for (const id of out) if (id.type === type && id.value === normalized) return;
  } else {
    // Many external ids: a set of keys, so a hostile list costs linear time, not quadratic.
    let keys = dedupeKeys.get(out);
    if (!keys) dedupeKeys.set(out, (keys = new Set(out.map((id) => `${id.type}\u0000${id.value}`))));
    const key = `${type}\u0000${normalized}`;
    if (keys.has(key)) return;
    keys.add(key);
  }
  out.push({ type, value: normalized });
}

/** Up to this many identities, a message's are deduplicated by scanning them (most messages name one to three). */
const LINEAR_DEDUPE = 8;
const dedupeKeys = new WeakMap<IdentityRef[], Set<string>>();

/** The email and phone a traits object carries, as identities (`prefix` names the object in errors). */
function traitIdentities(out: IdentityRef[], traits: Record<string, unknown>, prefix: string, ctx: ValidationContext, warnings: string[]): void {
  for (let k = 0; k < 2; k++) {
    const key = k === 0 ? 'email' : 'phone';
    const v = traits[key];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string') throw new ValidationError(at(ctx.path, `${prefix}.${key}`), 'string', `must be a string, got ${typeof v}`);
    addIdentity(out, key, v, `${prefix}.${key}`, key === 'email', ctx, warnings);
  }
}

/** Person identifiers carried by a message, normalised, blocked values removed, each once, in the order first named. */
function extractIdentities(
  m: { type: MessageType; userId: string | null; anonymousId: string | null; traits: Record<string, unknown> | null; context: Record<string, unknown> },
  ctx: ValidationContext,
  warnings: string[],
): IdentityRef[] {
  const out: IdentityRef[] = [];
  if (m.userId) addIdentity(out, 'user_id', m.userId, 'userId', false, ctx, warnings);
  if (m.anonymousId) addIdentity(out, 'anonymous_id', m.anonymousId, 'anonymousId', false, ctx, warnings);

  // The person's traits: identify carries them at the top; any message may carry them in context.traits.
  if (m.type === 'identify' && m.traits) traitIdentities(out, m.traits, 'traits', ctx, warnings);
  const ctxTraits = m.context.traits;
  if (isObject(ctxTraits)) traitIdentities(out, ctxTraits, 'context.traits', ctx, warnings);

  const external = m.context.externalIds;
  if (external !== undefined) {
    if (!Array.isArray(external)) throw new ValidationError(at(ctx.path, 'context.externalIds'), 'array', 'must be an array of { id, type }');
    external.forEach((e, i) => {
      const field = `context.externalIds[${i}]`;
      if (!isObject(e) || (typeof e.id !== 'string' && typeof e.id !== 'number') || typeof e.type !== 'string' || !e.type.trim()) {
        throw new ValidationError(at(ctx.path, field), 'externalId', 'must be an object with a string "id" and a string "type"');
      }
      addIdentity(out, normalizeIdentityType(e.type), String(e.id), `${field}.id`, normalizeIdentityType(e.type) === 'email', ctx, warnings);
    });
  }
  return out;
}
