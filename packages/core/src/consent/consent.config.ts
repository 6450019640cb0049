/** Consent settings. */
export interface ConsentConfig {
  /**
   * Segment consent category -> purpose, for categories whose lower snake case is not already a
   * purpose name (e.g. `{ Advertising: 'marketing', 'Functional Cookies': 'personalization' }`).
   */
  categoryMapping: Record<string, string>;
  /**
   * Trait keys that are personal data. With no policy of their own, they are denied to every
   * reader (deny by default) and never appear in `traits`.
   */
  piiTraits: string[];
  /**
   * Event payload keys (of `properties` and `context`) that no policy classifies: `deny` (the
   * default) hides them from every role below admin until a policy on an `event:` element allows
   * them, so a new property is not readable by accident; `allow` leaves them open.
   */
  unclassifiedEventKeys: 'deny' | 'allow';
  /** Policies seeded at start (upserted; admins can change them later over GraphQL). */
  policies: Array<{ type: string; field: string; purposes?: string[]; roles?: string[]; mask?: 'null' | 'mask' | 'hash'; pii?: boolean }>;
}
