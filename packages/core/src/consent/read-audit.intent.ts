import { CONSENT_STATE_BITS, consentStateBitSql, consentStateMask } from './consent-sql';
import type { ConsentState } from './legal-basis';

/**
 * A datum whose read a request's guard audits as `field` when the profile holds it (a top-level
 * trait `key`, or an identity of type `key`) and its consent state for the request's purpose is one
 * of `states`.
 */
export interface ReadAuditCandidate {
  kind: 'trait' | 'identity';
  key: string;
  /** The name the guard audits the read under (`Profile.traits.<key>`, `identity:<type>`). */
  field: string;
  states: readonly ConsentState[];
}

/** A row the reading statement wrote to the audit log for a request (see {@link ReadAuditIntent}). */
export interface WrittenReadAudit {
  /** The audit row's id. */
  id: string;
  profileId: string;
  fields: string[];
}

/**
 * What one request's read of profiles will audit, as far as it can be known before the read: who
 * reads, for which purpose, and which personal traits the guard will let it read in each consent
 * state. The statement that reads the profiles writes the audit rows this predicts (the traits each
 * profile holds, in its consent state) and reports them in {@link written}; after the guard has
 * run, the request compares them with what the guard audited and corrects any difference before
 * its response leaves (`ReadAuditWriter.amend`), so the log holds what the guard decided either
 * way. What the prediction gets right costs no statement and no wait of its own.
 */
export interface ReadAuditIntent {
  keyId: string | null;
  actor: string;
  /** The request's purpose; the candidates' consent states are this purpose's. */
  purpose: string | null;
  requestId: string;
  candidates: readonly ReadAuditCandidate[];
  /** Filled by the read: the rows it wrote (none if the read failed or fell back). */
  written: WrittenReadAudit[];
}

/**
 * The audit part of a profile read (see `ProfileBundleReader`), put before its `SELECT`, with its
 * parameters from `$first` on ({@link auditParams}). It reads the asked profiles' live rows
 * itself (their id and traits: the statement's one snapshot, so what its `SELECT` reads too), writes
 * one `read` row per intent and asked id whose profile holds a candidate (the trait key in its
 * traits, an identity of the type) its consent state allows (two asked ids of one profile: two rows,
 * the second removed after the guard), with `synchronous_commit` off for its transaction
 * (as `rapport_audit_reads` does: the row is committed, without waiting for the WAL flush, before the
 * statement returns). The `SELECT` adds {@link AUDITED_COLUMN} for its profile `p`.
 */
export function auditWith(first: number): string {
  const p = (i: number) => `$${first + i}`;
  const bit = consentStateBitSql('c');
  // Candidates come in sets (the intents of one decider share theirs), each sorted by field: the
  // fields aggregate in that order (a difference would only be corrected after the guard). A
  // profile's identity types are read by its profile index alone: with the type in the condition
  // too, the generic plan ANDs in the (type, value) index and scans every identity of that type.
  return `WITH x AS MATERIALIZED (
      SELECT nextval('rapport_audit_log_id_seq'::regclass) AS id, a.ix, r.id AS profile_id, f.fields
        FROM unnest(${p(0)}::int[], ${p(1)}::uuid[]) AS a(ix, asked)
        JOIN rapport_profile o ON o.id = a.asked
        JOIN rapport_profile r ON r.id = COALESCE(o.merged_into, o.id)
        CROSS JOIN LATERAL (SELECT ${bit} AS bit FROM (SELECT) AS one
                              LEFT JOIN rapport_consent c ON c.profile_id = r.id AND c.purpose = (${p(2)}::text[])[a.ix]) s
        CROSS JOIN LATERAL (SELECT array_agg(cd.field) AS fields
                              FROM unnest(${p(4)}::int[], ${p(5)}::text[], ${p(6)}::text[], ${p(7)}::int[], ${p(8)}::boolean[]) AS cd(set, key, field, states, trait)
                             WHERE cd.set = (${p(3)}::int[])[a.ix] AND cd.states & s.bit <> 0
                               AND CASE WHEN cd.trait THEN r.traits ? cd.key
                                        ELSE cd.key = ANY (ARRAY(SELECT i.type FROM rapport_identity i WHERE i.profile_id = r.id)) END) f
       WHERE f.fields IS NOT NULL AND set_config('synchronous_commit', 'off', true) IS NOT NULL),
    w AS (INSERT INTO rapport_audit_log (id, key_id, actor, action, profile_id, fields, purpose, request_id)
          SELECT x.id, (${p(9)}::uuid[])[x.ix], (${p(10)}::text[])[x.ix], 'read', x.profile_id, x.fields, (${p(2)}::text[])[x.ix], (${p(11)}::text[])[x.ix]
            FROM x)
  `;
}

/** The column {@link auditWith}'s `SELECT` adds: the rows written for its profile `p` (`id`, `ix`: the intent's position from 1, `fields`). */
export const AUDITED_COLUMN = `(SELECT json_agg(json_build_object('id', x.id::text, 'ix', x.ix, 'fields', x.fields)) FROM x WHERE x.profile_id = p.id) AS audited`;

/** The parameters of {@link auditWith} for intents, each with the asked ids it reads. */
export function auditParams(calls: ReadonlyArray<{ intent: ReadAuditIntent; ids: readonly string[] }>): unknown[] {
  const askedIx: number[] = [];
  const asked: string[] = [];
  const intentSet: number[] = [];
  const sets = new Map<readonly ReadAuditCandidate[], number>();
  const candSet: number[] = [];
  const keys: string[] = [];
  const fields: string[] = [];
  const masks: number[] = [];
  const traits: boolean[] = [];
  calls.forEach(({ intent, ids }, i) => {
    for (const id of new Set(ids)) {
      askedIx.push(i + 1);
      asked.push(id);
    }
    let set = sets.get(intent.candidates);
    if (set === undefined) {
      sets.set(intent.candidates, (set = sets.size + 1));
      for (const c of [...intent.candidates].sort((x, y) => (x.field < y.field ? -1 : x.field > y.field ? 1 : 0))) {
        candSet.push(set);
        keys.push(c.key);
        fields.push(c.field);
        masks.push(consentStateMask(c.states));
        traits.push(c.kind === 'trait');
      }
    }
    intentSet.push(set);
  });
  const intents = calls.map((c) => c.intent);
  return [
    askedIx, asked, intents.map((x) => x.purpose), intentSet, candSet, keys, fields, masks, traits,
    intents.map((x) => x.keyId), intents.map((x) => x.actor), intents.map((x) => x.requestId),
  ];
}

/** Hands the rows of an `audited` column to their intents (`ix` counts from 1), once per row. */
export function deliverAudited(
  calls: ReadonlyArray<{ intent: ReadAuditIntent }>,
  audited: ReadonlyArray<{ id: string; ix: number; fields: string[] }> | null,
  profileId: string,
  seen: Set<string>,
): void {
  for (const r of audited ?? []) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    calls[r.ix - 1]?.intent.written.push({ id: r.id, profileId, fields: r.fields });
  }
}

/** All consent states (a static candidate's). */
export const ANY_CONSENT_STATE: readonly ConsentState[] = Object.freeze(Object.keys(CONSENT_STATE_BITS) as ConsentState[]);
