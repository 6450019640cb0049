import type { Database } from '../database/database';
import { NotFoundError, ValidationError } from '../errors/rapport-error';
import { SnapshotCache } from '../service/snapshot.cache';
import type { ConsentService } from './consent.service';
import { elementOfPolicy, formatElement, parseElement, policyKeyOf, type DataElement } from './data-element';

/** What a denied reader gets: nothing, a mask (`j***@example.com`), or a one-way hash. */
export type PolicyMask = 'null' | 'mask' | 'hash';

/** Who may read a data element or a field, and for which purposes. */
export interface FieldPolicy {
  id: string;
  /**
   * The data element it governs (`trait:email`, `identity:phone`, `event:Order Completed.properties.total`,
   * `events`, `identities`, `traits`), or null for a policy on a plain GraphQL field (`Profile.loyaltyTier`).
   */
  element?: string | null;
  /** GraphQL type, e.g. `Profile`. */
  type: string;
  /** Field name, or `traits.<key>` for a custom trait. */
  field: string;
  /** Purposes the field serves; a reader must act for one, and the profile must allow it. Empty: no purpose needed. */
  purposes: string[];
  /** Roles that may read it; empty: any role. `admin` always passes the role check. */
  roles: string[];
  mask: PolicyMask;
  /** Personal data: reads are written to the audit log. */
  pii: boolean;
  updatedAt: Date;
}

/**
 * A policy as admins write it: either `element` (`trait:email`, `identity:email`, `events`, ...),
 * or `type` and `field` (a GraphQL field, or `Profile.traits.<key>`, the legacy name of `trait:<key>`).
 */
export type FieldPolicyInput = Omit<FieldPolicy, 'id' | 'updatedAt' | 'type' | 'field' | 'element'> & { type?: string | null; field?: string | null; element?: string | null };

function elementName(type: string, field: string): string | null {
  try {
    const e = elementOfPolicy(type, field);
    return e ? formatElement(e) : null;
  } catch {
    return null;
  }
}

function toPolicy(r: Record<string, unknown>): FieldPolicy {
  return {
    id: r.id as string, type: r.type as string, field: r.field as string, element: elementName(r.type as string, r.field as string),
    purposes: r.purposes as string[], roles: r.roles as string[], mask: r.mask as PolicyMask, pii: r.pii as boolean, updatedAt: r.updated_at as Date,
  };
}

/** Masks apply to single values: a trait, or a scalar field. */
function maskFits(e: DataElement | null): boolean {
  return e === null || e.kind === 'trait';
}

/**
 * Field policies are data: admins edit them over GraphQL (and seed them from the config file).
 * Reads come from a snapshot that is reloaded when it changes on this node, and at most every
 * 5 s otherwise.
 */
export class FieldPolicyService {
  /** The policies, reloaded at most every 5 s, and at once after a change on this node (one reload for every caller). */
  private readonly snapshot = new SnapshotCache(async () => (await this.db.query('SELECT * FROM rapport_field_policy ORDER BY type, field')).map(toPolicy), 5000);

  constructor(
    private readonly db: Database,
    private readonly consent: ConsentService,
    private readonly roles: { has(role: string): boolean; names(): string[] },
  ) {}

  /**
   * The policy snapshot while it is fresh, else undefined (then {@link all} reloads it): lets a
   * request build its guard without waiting on a promise when nothing needs reading.
   */
  fresh(): FieldPolicy[] | undefined {
    return this.snapshot.fresh();
  }

  /** Every policy (cached snapshot). */
  all(): Promise<FieldPolicy[]> {
    return this.snapshot.get();
  }

  /**
   * Creates or replaces the policy of a data element or a field. `fieldExists` says whether
   * `type.field` is a real field (the GraphQL layer knows the composed schema); data elements
   * (trait keys, identity types, event payload keys, collections) always exist. Bad input (an
   * unknown element or field, purpose or role, a mask that does not fit) saves nothing.
   */
  async upsert(input: FieldPolicyInput, fieldExists: (type: string, field: string) => boolean): Promise<FieldPolicy> {
    let element: DataElement | null;
    let type: string;
    let field: string;
    if (input.element) {
      element = parseElement(input.element);
      ({ type, field } = policyKeyOf(element));
    } else {
      if (!input.type || !input.field) throw new ValidationError('element', 'required', 'a policy names an element (trait:<key>, identity:<type>, event:<name>.<path>, events, identities, traits) or a type and field');
      type = input.type;
      field = input.field;
      element = type === 'Profile' && field.startsWith('traits.') ? parseElement(`trait:${field.slice(7)}`) : elementOfPolicy(type, field);
      if (element) ({ type, field } = policyKeyOf(element));
      else if (!fieldExists(type, field)) {
        throw new ValidationError('field', 'exists', `${type}.${field} is not a field of the schema (use Profile.traits.<key> for a trait)`);
      }
    }
    const name = element ? formatElement(element) : `${type}.${field}`;
    const purposes = await this.consent.purposeNames();
    input.purposes.forEach((p, i) => {
      if (!purposes.has(p)) throw new ValidationError(`purposes[${i}]`, 'enum', `"${p}" is not a purpose (policy on ${name}); purposes are ${[...purposes].sort().join(', ')}`);
    });
    input.roles.forEach((r, i) => {
      if (!this.roles.has(r)) throw new ValidationError(`roles[${i}]`, 'enum', `"${r}" is not a role (policy on ${name}); roles are ${this.roles.names().join(', ')}`);
    });
    if (!['null', 'mask', 'hash'].includes(input.mask)) throw new ValidationError('mask', 'enum', `"${input.mask}" is not one of null, mask, hash (policy on ${name})`);
    if (input.mask !== 'null' && !maskFits(element)) {
      throw new ValidationError('mask', 'fits', `${name}: a "${input.mask}" mask applies to a single value (a trait or a scalar field), not to ${element!.kind === 'collection' ? 'a collection' : `an ${element!.kind} element`}; use "null"`);
    }
    const [row] = await this.db.query(
      `INSERT INTO rapport_field_policy (type, field, purposes, roles, mask, pii) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (type, field) DO UPDATE SET purposes = EXCLUDED.purposes, roles = EXCLUDED.roles, mask = EXCLUDED.mask,
         pii = EXCLUDED.pii, updated_at = now()
       RETURNING *`,
      [type, field, input.purposes, input.roles, input.mask, input.pii],
    );
    this.snapshot.invalidate();
    return toPolicy(row);
  }

  /** Deletes a policy; the field then follows the default. */
  async remove(id: string): Promise<FieldPolicy> {
    const rows = await this.db.query('DELETE FROM rapport_field_policy WHERE id::text = $1 RETURNING *', [id]);
    if (!rows[0]) throw new NotFoundError('field policy', id);
    this.snapshot.invalidate();
    return toPolicy(rows[0]);
  }
}
