import type { Database } from '../database/database';
import { NotFoundError, ValidationError } from '../errors/rapport-error';
import type { ConsentService } from './consent.service';

/** What a denied reader gets: nothing, a mask (`j***@example.com`), or a one-way hash. */
export type PolicyMask = 'null' | 'mask' | 'hash';

/** Who may read a field (or a trait key, as `traits.<key>`), and for which purposes. */
export interface FieldPolicy {
  id: string;
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

/** A policy as admins write it. */
export type FieldPolicyInput = Omit<FieldPolicy, 'id' | 'updatedAt'>;

function toPolicy(r: Record<string, unknown>): FieldPolicy {
  return {
    id: r.id as string, type: r.type as string, field: r.field as string, purposes: r.purposes as string[], roles: r.roles as string[],
    mask: r.mask as PolicyMask, pii: r.pii as boolean, updatedAt: r.updated_at as Date,
  };
}

/**
 * Field policies are data: admins edit them over GraphQL (and seed them from the config file).
 * Reads come from a snapshot that is reloaded when it changes on this node, and at most every
 * 5 s otherwise.
 */
export class FieldPolicyService {
  private snapshot: { policies: FieldPolicy[]; until: number } | null = null;

  constructor(
    private readonly db: Database,
    private readonly consent: ConsentService,
    private readonly roles: { has(role: string): boolean; names(): string[] },
  ) {}

  /** Every policy (cached snapshot). */
  async all(): Promise<FieldPolicy[]> {
    if (this.snapshot && this.snapshot.until > Date.now()) return this.snapshot.policies;
    const policies = (await this.db.query('SELECT * FROM rapport_field_policy ORDER BY type, field')).map(toPolicy);
    this.snapshot = { policies, until: Date.now() + 5000 };
    return policies;
  }

  /**
   * Creates or replaces the policy of a field. `fieldExists` says whether `type.field` is a real
   * field (the GraphQL layer knows the composed schema); trait keys (`traits.<key>`) always exist.
   */
  async upsert(input: FieldPolicyInput, fieldExists: (type: string, field: string) => boolean): Promise<FieldPolicy> {
    const traitKey = input.type === 'Profile' && input.field.startsWith('traits.') ? input.field.slice(7) : null;
    if (traitKey !== null ? !/^[^\s.][^\s]*$/.test(traitKey) : !fieldExists(input.type, input.field)) {
      throw new ValidationError('field', 'exists', `${input.type}.${input.field} is not a field of the schema (use Profile.traits.<key> for a trait)`);
    }
    const purposes = await this.consent.purposeNames();
    input.purposes.forEach((p, i) => {
      if (!purposes.has(p)) throw new ValidationError(`purposes[${i}]`, 'enum', `"${p}" is not a purpose; purposes are ${[...purposes].sort().join(', ')}`);
    });
    input.roles.forEach((r, i) => {
      if (!this.roles.has(r)) throw new ValidationError(`roles[${i}]`, 'enum', `"${r}" is not a role; roles are ${this.roles.names().join(', ')}`);
    });
    if (!['null', 'mask', 'hash'].includes(input.mask)) throw new ValidationError('mask', 'enum', `"${input.mask}" is not one of null, mask, hash`);
    const [row] = await this.db.query(
      `INSERT INTO rapport_field_policy (type, field, purposes, roles, mask, pii) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (type, field) DO UPDATE SET purposes = EXCLUDED.purposes, roles = EXCLUDED.roles, mask = EXCLUDED.mask,
         pii = EXCLUDED.pii, updated_at = now()
       RETURNING *`,
      [input.type, input.field, input.purposes, input.roles, input.mask, input.pii],
    );
    this.snapshot = null;
    return toPolicy(row);
  }

  /** Deletes a policy; the field then follows the default. */
  async remove(id: string): Promise<FieldPolicy> {
    const rows = await this.db.query('DELETE FROM rapport_field_policy WHERE id::text = $1 RETURNING *', [id]);
    if (!rows[0]) throw new NotFoundError('field policy', id);
    this.snapshot = null;
    return toPolicy(rows[0]);
  }
}
