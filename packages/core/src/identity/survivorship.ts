import type { TraitSource } from '../entity/profile.entity';
import { ownValue } from '../ingestion/own-key';

/** A trait value with where it came from. */
export interface TraitCandidate {
  value: unknown;
  source: TraitSource;
}

/**
 * How one trait's value is chosen when two values meet (a merge, or a new identify):
 * - `most_recent`: the value set at the later event time (default);
 * - `first_seen`: the value set first is kept;
 * - `{ sourcePriority: [...] }`: the value from the higher-priority source (API key name) wins,
 *   unknown sources rank last; ties fall back to most recent;
 * - a function `(current, incoming, key) => winner`, from the config file or a plugin.
 */
export type SurvivorshipRule =
  | 'most_recent'
  | 'first_seen'
  | { sourcePriority: string[] }
  | ((current: TraitCandidate, incoming: TraitCandidate, key: string) => TraitCandidate);

/** Survivorship configuration: a default rule and per-trait overrides. */
export interface SurvivorshipConfig {
  default: SurvivorshipRule;
  traits: Record<string, SurvivorshipRule>;
}

/** Applies survivorship rules. */
export class Survivorship {
  constructor(private readonly config: SurvivorshipConfig = { default: 'most_recent', traits: {} }) {}

  /** The rule for a trait key: its own override, else the default (a key such as `constructor` is a key like any other). */
  ruleFor(key: string): SurvivorshipRule {
    return ownValue(this.config.traits, key) ?? this.config.default;
  }

  /** The value that survives when `incoming` meets `current` (absent current: incoming). */
  pick(key: string, current: TraitCandidate | undefined, incoming: TraitCandidate): TraitCandidate {
    if (!current) return incoming;
    const rule = this.ruleFor(key);
    const recent = incoming.source.at >= current.source.at ? incoming : current;
    if (rule === 'most_recent') return recent;
    if (rule === 'first_seen') return incoming.source.at < current.source.at ? incoming : current;
    if (typeof rule === 'function') return rule(current, incoming, key);
    const rank = (s: TraitCandidate) => {
      const i = s.source.source ? rule.sourcePriority.indexOf(s.source.source) : -1;
      return i === -1 ? rule.sourcePriority.length : i;
    };
    const d = rank(incoming) - rank(current);
    return d < 0 ? incoming : d > 0 ? current : recent;
  }
}
