import type { SurvivorshipConfig } from './survivorship';
import type { MatchingConfig } from './matching/matching.types';

/** Merge protection, as Segment Unify does it. */
export interface IdentityConfig {
  /**
   * Most values of one identity type a single profile may hold. A link that would push a profile
   * over a limit is refused (the identity stays where it is, or is not attached).
   * Types not listed use `defaultLimit`.
   */
  limits: Record<string, number>;
  /** Limit for identity types not listed in `limits`. */
  defaultLimit: number;
  /**
   * Identity types from most to least trusted. When a message carries identities of several
   * profiles, the profile of the highest-priority identity anchors the message, and lower-priority
   * identities that would break a limit are dropped first. Types not listed come after, alphabetically.
   */
  priority: string[];
  /** Values (compared after normalisation, case-insensitive) that never link anything. */
  blockedValues: string[];
  /** Default region for phone numbers written without a country code (ISO 3166 alpha-2), or none. */
  defaultPhoneRegion?: string;
  /** Which value of a trait survives when two meet (merge or update). Default: most recent. */
  survivorship: SurvivorshipConfig;
  /** Probabilistic matching (Fellegi-Sunter): comparisons, blocking, thresholds. */
  matching: MatchingSettings;
}

/** Probabilistic matching settings. */
export interface MatchingSettings {
  /** Match new identify events against their block as they arrive (needs a trained model). */
  incremental: boolean;
  /**
   * Which merge-protection limits a probabilistic merge must respect: `explicit` (only types
   * listed in `limits`, e.g. one user_id), or `all` (also `defaultLimit`).
   */
  enforceLimits: 'explicit' | 'all';
  /** Comparisons (trait keys), blocking rules, thresholds and training options. */
  config: MatchingConfig;
}
