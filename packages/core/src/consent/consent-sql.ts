import { LEGAL_BASES, PARTIAL_GRANT_SOURCE, allowingStates } from './legal-basis';

const COLUMN = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
const PURPOSE = /^[a-z][a-z0-9_-]*$/;

/**
 * The legal-basis rule of {@link allowingStates} as a SQL boolean expression: may the profile in
 * `profileColumn` (of the profile it was merged into, if any) be used for `purpose` now? Generated
 * from the same table as the TypeScript rule, so the two cannot drift; a test checks them on every
 * legal basis and consent state. Written as one `EXISTS` over the profile joined to its decision,
 * so PostgreSQL plans it as a semi-join (a set query over 100,000 rows costs milliseconds, where a
 * function called per row costs a second).
 *
 * @throws RangeError when `profileColumn` is not a column reference or `purpose` not a purpose name.
 */
export function consentAllowsSql(profileColumn: string, purpose: string): string {
  if (!COLUMN.test(profileColumn)) throw new RangeError(`profileColumn must be a column reference like i.profile_id: "${profileColumn}"`);
  if (!PURPOSE.test(purpose)) throw new RangeError(`a purpose name is lower-case letters, digits, - and _: "${purpose}"`);
  // Legal bases under which a person who never decided may be included.
  const withoutGrant = LEGAL_BASES.filter((b) => allowingStates(b).includes('none')).map((b) => `'${b}'`);
  if (LEGAL_BASES.some((b) => !allowingStates(b).includes('granted')) || LEGAL_BASES.some((b) => allowingStates(b).some((s) => s === 'denied' || s === 'expired'))) {
    throw new Error('consentAllowsSql: the legal-basis table changed; update the SQL it generates');
  }
  const unexpired = `(__rapport_c.expires_at IS NULL OR __rapport_c.expires_at > now())`;
  const granted = `(__rapport_c.source <> '${PARTIAL_GRANT_SOURCE}' AND __rapport_c.granted AND ${unexpired})`;
  const none = `(__rapport_c.profile_id IS NULL OR (__rapport_c.source = '${PARTIAL_GRANT_SOURCE}' AND ${unexpired}))`;
  const basisAllowsNone = withoutGrant.length
    ? `COALESCE((SELECT __rapport_p.legal_basis IN (${withoutGrant.join(', ')}) FROM rapport_purpose __rapport_p WHERE __rapport_p.name = '${purpose}'), false)`
    : 'false';
  return `EXISTS (SELECT 1 FROM rapport_profile __rapport_t
      LEFT JOIN rapport_consent __rapport_c ON __rapport_c.profile_id = COALESCE(__rapport_t.merged_into, __rapport_t.id) AND __rapport_c.purpose = '${purpose}'
     WHERE __rapport_t.id = ${profileColumn} AND (${granted} OR (${none} AND ${basisAllowsNone})))`;
}
