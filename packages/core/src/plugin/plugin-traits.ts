/**
 * `ctx.traits`: trait values for a plugin outside a request, for one of its declared purposes, decided by the field
 * policies as the guard decides `Profile.traits.<key>` (`consent/trait-access.ts`), with each person's consent for the
 * purpose, and audited with the plugin as the actor. See {@link PluginTraits}.
 */
import { randomUUID } from 'node:crypto';
import { consentAllowsSql } from '../consent/consent-sql';
import type { FieldPolicy } from '../consent/field-policy.service';
import type { ReadAuditEntry } from '../consent/read-audit.writer';
import { traitAccess } from '../consent/trait-access';
import { MAX_TRAIT_KEY_CHARS } from '../consent/trait-sql';
import type { Queryable } from '../database/database';
import { RapportError, ValidationError } from '../errors/rapport-error';
import type { PluginTraits, PluginTraitValue } from './plugin-services.types';

/** Most profile ids in one {@link PluginTraits.read}. */
export const MAX_TRAIT_READ_IDS = 10_000;
/** Most keys in one {@link PluginTraits.read}. */
export const MAX_TRAIT_READ_KEYS = 50;
const MAX_REF_CHARS = 128;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the host builds `ctx.traits` from. */
export interface PluginTraitsDeps {
  db: Queryable;
  /** The field policies now (the policy service's snapshot: at most 5 s old, at once after a change on this server). */
  policies(): Promise<readonly FieldPolicy[]>;
  /** `consent.piiTraits` of the configuration. */
  piiTraits: readonly string[];
  /** Writes audit entries; resolves once they are committed (`ReadAuditWriter.record`). */
  audit(entries: ReadAuditEntry[]): Promise<void>;
}

/** The role a plugin reads as: no policy can name it (roles are checked against the registry), and it is never admin. */
export const pluginRole = (plugin: string) => `plugin:${plugin}`;

const wellFormed = (s: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

function checkKey(key: unknown, i: number): string {
  const field = `keys[${i}]`;
  if (typeof key !== 'string' || key.trim() === '' || key.length > MAX_TRAIT_KEY_CHARS) {
    throw new ValidationError(field, 'length', `a trait key is 1 to ${MAX_TRAIT_KEY_CHARS} characters, not blank`);
  }
  if (key.includes('.')) throw new ValidationError(field, 'topLevel', `a top-level trait key, without dots: ${JSON.stringify(key.slice(0, 80))} names a nested path, which is not read`);
  if (key.includes('\u0000') || !wellFormed(key)) throw new ValidationError(field, 'text', 'a trait key is well-formed text without NUL');
  return key;
}

/** `ctx.traits` of the plugin `plugin`, which declares the purposes `declared`. */
export function pluginTraits(plugin: string, declared: readonly string[], deps: PluginTraitsDeps): PluginTraits {
  const role = pluginRole(plugin);
  const decide = async (keys: readonly string[], purpose: string): Promise<string[]> => {
    if (!declared.includes(purpose)) {
      throw new RapportError(
        'FORBIDDEN',
        `purpose: plugin "${plugin}" reads traits only for the purposes it declares ([${declared.join(', ')}]), not ${JSON.stringify(String(purpose).slice(0, 80))}`,
        'purpose',
        'declared',
      );
    }
    if (!Array.isArray(keys)) throw new TypeError('keys must be an array of trait keys');
    const checked = keys.map(checkKey);
    const policies = await deps.policies();
    for (const key of checked) {
      const { verdict } = traitAccess({ policies, piiTraits: deps.piiTraits, key, roles: [role], purpose });
      if (verdict.kind === 'forbidden') {
        throw new RapportError('FORBIDDEN', `traits.${key}: plugin "${plugin}" may not read Profile.traits.${key} for "${purpose}": ${verdict.reason.replace('the request acts for', 'the plugin reads for')}`, `traits.${key}`, verdict.rule);
      }
    }
    return [...new Set(checked)];
  };

  return {
    async check(keys, purpose) {
      await decide(keys, purpose);
    },

    async read(profileIds, keys, purpose, options = {}) {
      if (profileIds.length > MAX_TRAIT_READ_IDS) throw new RangeError(`ctx.traits.read: at most ${MAX_TRAIT_READ_IDS} profile ids per call, got ${profileIds.length}`);
      if (keys.length === 0 || keys.length > MAX_TRAIT_READ_KEYS) throw new RangeError(`ctx.traits.read: 1 to ${MAX_TRAIT_READ_KEYS} keys per call, got ${keys.length}`);
      const ref = options.ref ?? `${role}:${randomUUID()}`;
      if (typeof ref !== 'string' || ref.length === 0 || ref.length > MAX_REF_CHARS) throw new RangeError(`ctx.traits.read: ref is 1 to ${MAX_REF_CHARS} characters`);
      const allowed = await decide(keys, purpose);
      const out = new Map<string, Record<string, PluginTraitValue>>();
      const none = () => Object.fromEntries(allowed.map((k) => [k, null])) as Record<string, PluginTraitValue>;
      for (const id of profileIds) out.set(id, none());
      const valid = [...new Set(profileIds.filter((id) => UUID.test(id)).map((id) => id.toLowerCase()))];
      if (valid.length === 0) return out;
      // The consent rule of ctx.consent (legal basis of the purpose, the person's decision), for every person.
      const rows = await deps.db.query<{ id: string; live: string; vals: Record<string, PluginTraitValue> | null }>(
        `SELECT q.id::text AS id, v.id::text AS live,
                (SELECT jsonb_object_agg(k.key, v.traits -> k.key) FROM unnest($2::text[]) AS k(key)
                  WHERE jsonb_typeof(v.traits -> k.key) IN ('string', 'number', 'boolean')) AS vals
           FROM unnest($1::uuid[]) AS q(id)
           JOIN rapport_profile a ON a.id = q.id
           JOIN rapport_profile v ON v.id = COALESCE(a.merged_into, a.id)
          WHERE ${consentAllowsSql('q.id', purpose)}`,
        [valid, allowed],
      );
      const byId = new Map<string, Record<string, PluginTraitValue>>();
      const audited = new Map<string, Set<string>>();
      for (const r of rows) {
        if (!r.vals) continue;
        byId.set(r.id, r.vals);
        let fields = audited.get(r.live);
        if (!fields) audited.set(r.live, (fields = new Set()));
        for (const k of Object.keys(r.vals)) fields.add(`Profile.traits.${k}`);
      }
      // Committed before any value is handed over: no read of a person's data goes unaudited.
      await deps.audit(
        [...audited].map(([profileId, fields]) => ({ keyId: null, actor: role, profileId, fields: [...fields].sort(), purpose, requestId: ref })),
      );
      for (const id of profileIds) {
        const vals = UUID.test(id) ? byId.get(id.toLowerCase()) : undefined;
        if (vals) out.set(id, { ...none(), ...vals });
      }
      return out;
    },
  };
}
