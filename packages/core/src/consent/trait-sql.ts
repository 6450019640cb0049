import { consentAllowsSql } from './consent-sql';

const COLUMN = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** Longest trait key {@link traitValueSql} accepts, in characters. */
export const MAX_TRAIT_KEY_CHARS = 200;

/**
 * A string as a PostgreSQL escape-string literal (`E'...'`): backslashes and quotes doubled, so it
 * reads the same whatever `standard_conforming_strings` says. The key must not hold NUL (PostgreSQL
 * text cannot) and must be well-formed UTF-16 (checked by the caller).
 */
function literal(s: string): string {
  return `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * A SQL expression: the current value, as text, of the top-level trait `key` of the profile in
 * `profileColumn` (of the profile it was merged into, when it was). A string, a number or a boolean
 * gives its text (`'pro'`, `'2'`, `'true'`, as `->>` reads it); an absent trait, `null`, an object
 * or an array gives NULL (an object could hold nested data elements with policies of their own), and
 * so does an unknown or deleted profile. With `consentPurpose`, it is also NULL for every person
 * whose consent does not allow that purpose now: the legal-basis rule of {@link consentAllowsSql},
 * generated from the same table as core's TypeScript rule.
 *
 * No access decision is made here: the schema's request context decides the caller's roles and
 * purpose against the trait's policies first (`RequestContext.traitSql`), and passes the purpose
 * whose consent each person's value needs.
 *
 * One scalar subquery per row (primary-key probes of the profile table, and one semi-join for the
 * consent), so it suits a column of a set query over one row per person. It uses the aliases
 * `__rapport_ta`, `__rapport_tv` and those of {@link consentAllowsSql} inside.
 *
 * @throws RangeError when `profileColumn` is not a column reference, when `key` is empty, longer
 *   than {@link MAX_TRAIT_KEY_CHARS}, holds NUL or is not well-formed, or when `consentPurpose` is
 *   not a purpose name.
 */
export function traitValueSql(profileColumn: string, key: string, consentPurpose: string | null): string {
  if (!COLUMN.test(profileColumn)) throw new RangeError(`profileColumn must be a column reference like g.profile_id: "${profileColumn}"`);
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_TRAIT_KEY_CHARS || key.includes('\u0000') || !isWellFormed(key)) {
    throw new RangeError(`a trait key is 1 to ${MAX_TRAIT_KEY_CHARS} characters of well-formed text without NUL`);
  }
  const k = literal(key);
  const consent = consentPurpose === null ? '' : ` AND ${consentAllowsSql(profileColumn, consentPurpose)}`;
  return `(SELECT CASE WHEN jsonb_typeof(__rapport_tv.traits -> ${k}) IN ('string', 'number', 'boolean')${consent} THEN __rapport_tv.traits ->> ${k} END
     FROM rapport_profile __rapport_ta JOIN rapport_profile __rapport_tv ON __rapport_tv.id = COALESCE(__rapport_ta.merged_into, __rapport_ta.id)
    WHERE __rapport_ta.id = ${profileColumn})`;
}

/** True when `s` has no lone surrogate (it encodes to UTF-8 as it reads). */
function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}
