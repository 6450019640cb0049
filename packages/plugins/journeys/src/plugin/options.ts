/** Options of the journeys plugin, and their defaults. */

/** Options of `journeysPlugin(...)`. */
export interface JourneysOptions {
  /**
   * Smallest number of people a published cell may count (a step's count, a breakdown value, a histogram bin). A
   * cell counting 1 to k-1 people is answered `null` with `suppressed: true`. Default 5; 1 turns suppression off.
   */
  k?: number;
  /**
   * The top-level event property keys step filters, exclusions, breakdowns and stage rules may use; a request naming
   * another is refused (`properties` rule). Default: every key. Either way only a value that is a string of at most
   * {@link MAX_PROPERTY_CHARS} characters, a number or a boolean is used: other values count as absent.
   */
  properties?: string[];
  /**
   * How often stages whose rules have a time window (`withinSeconds`, e.g. an "At risk" stage: no order in 30 days)
   * are re-checked, in ms. Only people with an event leaving a window since the last check are re-evaluated.
   * Default 60,000 (a minute); at least 1,000.
   */
  stageRecheckMs?: number;
  /**
   * Parts a funnel query runs in: disjoint sets of people, each counted by its own statement on its own pooled
   * connection, at the same time, and merged (the answer is the same). PostgreSQL runs one funnel statement on one
   * core; 2 parts use two. Default 2; 1 to 16. Each part takes a connection from the plugin host's pool while it runs.
   */
  funnelParts?: number;
  /**
   * People whose trait values one transaction of a definition's trait copy reads and writes (docs/journeys.md#stages).
   * Default 5,000; 1 to 10,000.
   */
  traitCopyChunk?: number;
}

/** Options with every default applied. */
export interface ResolvedJourneysOptions {
  k: number;
  properties: ReadonlySet<string> | null;
  stageRecheckMs: number;
  funnelParts: number;
  traitCopyChunk: number;
}

/** Parts a funnel runs in when not told otherwise (the `funnelParts` option). */
export const DEFAULT_FUNNEL_PARTS = 2;

/** The purpose every aggregate serves: only people whose consent allows it are counted. */
export const PURPOSE = 'analytics';
/** The permission of the funnel query (admin has it; give it to other roles with `permissions` in the config). */
export const READ_PERMISSION = 'journeys:read';
/** The permission to define and delete journeys (admin has it). */
export const DEFINE_PERMISSION = 'journeys:define';
/** Longest string property value a filter or a breakdown uses, in characters; a longer value counts as absent. */
export const MAX_PROPERTY_CHARS = 200;

/** Checks and completes the options; a bad option throws a RangeError naming it. */
export function resolveOptions(o: JourneysOptions = {}): ResolvedJourneysOptions {
  const k = o.k ?? 5;
  if (!Number.isInteger(k) || k < 1 || k > 1000) throw new RangeError(`journeys: k must be an integer from 1 to 1000, got ${k}`);
  if (o.properties !== undefined && (!Array.isArray(o.properties) || o.properties.some((p) => typeof p !== 'string' || !p))) {
    throw new RangeError('journeys: properties must be a list of property keys');
  }
  const stageRecheckMs = o.stageRecheckMs ?? 60_000;
  if (!Number.isInteger(stageRecheckMs) || stageRecheckMs < 1000) throw new RangeError(`journeys: stageRecheckMs must be an integer of at least 1000, got ${stageRecheckMs}`);
  const funnelParts = o.funnelParts ?? DEFAULT_FUNNEL_PARTS;
  if (!Number.isInteger(funnelParts) || funnelParts < 1 || funnelParts > 16) throw new RangeError(`journeys: funnelParts must be an integer from 1 to 16, got ${funnelParts}`);
  const traitCopyChunk = o.traitCopyChunk ?? 5000;
  if (!Number.isInteger(traitCopyChunk) || traitCopyChunk < 1 || traitCopyChunk > 10_000) throw new RangeError(`journeys: traitCopyChunk must be an integer from 1 to 10000, got ${traitCopyChunk}`);
  return { k, properties: o.properties ? new Set(o.properties) : null, stageRecheckMs, funnelParts, traitCopyChunk };
}
