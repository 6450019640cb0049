import { setOwn } from '../ingestion/own-key';
import type { ConsentRecord } from './consent.types';

/** The legal bases a purpose may rest on. Any other stored value is treated as `consent` (fail closed). */
export const LEGAL_BASES = ['consent', 'contract', 'legal_obligation', 'legitimate_interest'] as const;

/** A legal basis of a purpose. */
export type LegalBasis = (typeof LEGAL_BASES)[number];

/**
 * What a profile said about one purpose, as reads see it:
 * - `granted`: a grant that has not expired;
 * - `expired`: a grant whose `expiresAt` has passed;
 * - `denied`: an explicit refusal;
 * - `none`: no decision recorded.
 */
export type ConsentState = 'granted' | 'expired' | 'denied' | 'none';

/** The consent states that allow a read, per legal basis: the one table of the legal-basis rules. */
const ALLOWING: Record<LegalBasis, readonly ConsentState[]> = {
  consent: ['granted'],
  contract: ['granted', 'none'],
  legal_obligation: ['granted', 'none'],
  legitimate_interest: ['granted', 'none'],
};

/** The legal basis reads apply: a stored value that is not a known basis counts as `consent`. */
export function effectiveBasis(basis: string | undefined | null): LegalBasis {
  return (LEGAL_BASES as readonly string[]).includes(basis ?? '') ? (basis as LegalBasis) : 'consent';
}

/**
 * The `source` of a merged profile's consent row when some of its members granted the purpose and
 * the others never decided, and a grant expires at `expiresAt`: no decision until then, an expired
 * grant after. Stored with `granted: false`, so a reader that only asks "granted?" is never opened.
 */
export const PARTIAL_GRANT_SOURCE = 'merge-partial';

/** The state of a profile's decision for a purpose at `now`. */
export function consentStateOf(c: (Pick<ConsentRecord, 'granted' | 'expiresAt'> & { source?: string }) | undefined, now = new Date()): ConsentState {
  if (!c) return 'none';
  if (c.source === PARTIAL_GRANT_SOURCE) return c.expiresAt && c.expiresAt <= now ? 'expired' : 'none';
  if (!c.granted) return 'denied';
  return c.expiresAt && c.expiresAt <= now ? 'expired' : 'granted';
}

/** Purpose -> consent state for a profile's records (purposes never decided are absent: `none`). */
export function consentStatesOf(records: ReadonlyArray<Pick<ConsentRecord, 'purpose' | 'granted' | 'expiresAt'> & { source?: string }>, now = new Date()): Record<string, ConsentState> {
  const out: Record<string, ConsentState> = {};
  for (const r of records) {
    const state = consentStateOf(r, now);
    if (state !== 'none') setOwn(out, r.purpose, state); // undecided purposes are absent; `__proto__` is a name like any other
  }
  return out;
}

/** The consent states under which a purpose with this legal basis allows a read. */
export function allowingStates(basis: string | undefined | null): readonly ConsentState[] {
  return ALLOWING[effectiveBasis(basis)];
}

/**
 * The legal-basis rule: may a profile in this consent state be read for a purpose with this
 * legal basis? `consent` needs an unexpired grant; `contract`, `legal_obligation` and
 * `legitimate_interest` need no grant, but an explicit denial or an expired grant stops them.
 */
export function basisAllows(basis: string | undefined | null, state: ConsentState): boolean {
  return allowingStates(basis).includes(state);
}

/** Why a consent state does not allow a purpose, in words (`policy` names the rule that asked for it). */
export function basisDenialReason(purpose: string, state: ConsentState, policy: string): string {
  if (state === 'denied') return `the profile has not granted "${purpose}": it refused it (policy ${policy})`;
  if (state === 'expired') return `the profile has not granted "${purpose}": its grant expired (policy ${policy})`;
  return `the profile has not granted "${purpose}" (policy ${policy})`;
}
