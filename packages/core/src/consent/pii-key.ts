/**
 * The form in which a trait key is compared with `consent.piiTraits`: Unicode compatibility-normalised (NFKC: full-width
 * and other compatibility forms fold to their plain letters) and lower-cased. A key that differs from a personal-data
 * name only in case or in such forms (`Email`, `EMAIL`, `ｅｍａｉｌ`) is that personal data too, and is denied by
 * default like it. Policies still name keys exactly: such a variant has no policy of its own, so it is denied to every
 * reader but admin until an admin writes one. Letters of other scripts that merely look alike are different letters
 * and are not folded.
 */
export function piiKeyOf(key: string): string {
  return key.normalize('NFKC').toLowerCase();
}

/** Whether `key` is personal data by `consent.piiTraits` (compared as {@link piiKeyOf}). */
export function isPiiKey(piiTraits: ReadonlySet<string>, key: string): boolean {
  return piiTraits.has(piiKeyOf(key));
}

/** `consent.piiTraits` as the set {@link isPiiKey} reads. */
export function piiKeySet(piiTraits: readonly string[]): ReadonlySet<string> {
  return new Set(piiTraits.map(piiKeyOf));
}
