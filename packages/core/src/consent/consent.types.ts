/** A purpose personal data may be used for. */
export interface PurposeRecord {
  name: string;
  description: string;
  /** e.g. consent, contract, legitimate_interest, legal_obligation. */
  legalBasis: string;
  createdAt: Date;
}

/** A profile's decision for one purpose. */
export interface ConsentRecord {
  profileId: string;
  purpose: string;
  granted: boolean;
  /** Where it came from: `segment:context.consent`, `track:Consent Updated`, `graphql`, or `merge`. */
  source: string;
  at: Date;
  expiresAt: Date | null;
}

/** A decision as it arrives, before it is stored. */
export interface ConsentDecision {
  purpose: string;
  granted: boolean;
  source: string;
  at: Date;
  expiresAt?: Date | null;
  messageId?: string | null;
}

/** True when the decision grants and has not expired. */
export function isGranted(c: Pick<ConsentRecord, 'granted' | 'expiresAt'> | undefined, now = new Date()): boolean {
  return !!c && c.granted && (!c.expiresAt || c.expiresAt > now);
}
