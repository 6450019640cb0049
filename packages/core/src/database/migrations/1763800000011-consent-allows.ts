import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `rapport_consent_allows(profile uuid, purpose text)`: may this profile's data be used for this
 * purpose now? The legal-basis rule of `consent/legal-basis.ts`, in SQL, for plugins' set queries
 * (`ctx.consent.sql(...)`), so no plugin writes consent SQL of its own:
 * - the profile's decision for the purpose (of the profile it was merged into, if any) is
 *   `granted` (unexpired grant), `expired`, `denied` or `none` (no row; or a merge's partial grant
 *   before its expiry);
 * - a `consent` purpose (or an unknown basis, or an unknown purpose) needs `granted`; `contract`,
 *   `legal_obligation` and `legitimate_interest` allow `granted` and `none`.
 * A test checks it against the TypeScript rule on every combination.
 *
 * Plain SQL, STABLE and without a FROM at the top, so the planner can inline it into the query.
 */
export class ConsentAllows1763800000011 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION rapport_consent_allows(p_profile uuid, p_purpose text) RETURNS boolean
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE (
                 SELECT CASE
                          WHEN c.source = 'merge-partial' THEN CASE WHEN c.expires_at IS NOT NULL AND c.expires_at <= now() THEN 'expired' ELSE 'none' END
                          WHEN NOT c.granted THEN 'denied'
                          WHEN c.expires_at IS NOT NULL AND c.expires_at <= now() THEN 'expired'
                          ELSE 'granted'
                        END
                   FROM rapport_consent c
                  WHERE c.purpose = p_purpose
                    AND c.profile_id = COALESCE((SELECT t.merged_into FROM rapport_profile t WHERE t.id = p_profile), p_profile))
                 WHEN 'granted' THEN true
                 WHEN 'expired' THEN false
                 WHEN 'denied' THEN false
                 ELSE COALESCE((SELECT p.legal_basis IN ('contract', 'legal_obligation', 'legitimate_interest') FROM rapport_purpose p WHERE p.name = p_purpose), false)
               END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP FUNCTION rapport_consent_allows(uuid, text)');
  }
}
