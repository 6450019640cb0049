/**
 * Types of the probabilistic (Fellegi-Sunter) identity-resolution engine.
 * Everything that configures or results from training is plain JSON.
 */

/** A record to match: an id and its traits (possibly nested; addressed by dotted paths). */
export interface MatchRecord {
  /** Stable identifier of the record (e.g. a profile id). */
  id: string;
  /** Trait values, e.g. `{ firstName: 'Ann', address: { postalCode: '2600' } }`. */
  traits: Record<string, unknown>;
}

/**
 * How a comparison normalises its values and which default levels it uses:
 * - `name`: text, Jaro-Winkler levels (and a swapped-field level when `swapPaths` is set);
 * - `email`: exact / same local part;
 * - `phone`: normalised digits exact / same last 7 digits;
 * - `date`: `YYYYMMDD`; exact / day-month transposed / one edit / year within ±1;
 * - `postcode`: alphanumeric; exact / one edit / first 3 characters;
 * - `address`: text; exact / Jaro-Winkler / token Jaccard;
 * - `exact`: text; equal or not;
 * - `numeric-string`: alphanumeric identifier; exact / one edit (incl. transposition).
 */
export type ComparatorKind = 'name' | 'email' | 'phone' | 'date' | 'postcode' | 'address' | 'exact' | 'numeric-string';

/**
 * One agreement level of a comparison. Levels are tested in order; the first that holds
 * is the pair's level. An implicit final "else" level catches everything else, and pairs
 * where either value is missing get the "null" level (weight 0).
 */
export type LevelSpec =
  | { type: 'exact'; label?: string }
  | { type: 'jaroWinkler'; threshold: number; label?: string }
  | { type: 'jaccard'; threshold: number; label?: string }
  | { type: 'editDistance'; maxDistance: number; label?: string }
  | { type: 'prefix'; length: number; label?: string }
  | { type: 'suffix'; length: number; label?: string }
  | { type: 'swapped'; threshold?: number; label?: string }
  | { type: 'emailLocalPart'; label?: string }
  | { type: 'dateTransposed'; label?: string }
  | { type: 'yearWithin'; years: number; label?: string };

/** One comparison between two records: which trait(s), how to normalise them, and which levels. */
export interface ComparisonConfig {
  /** Unique name of the comparison, e.g. `firstName`. */
  name: string;
  /** Comparator kind (normalisation and default levels). */
  kind: ComparatorKind;
  /** Dotted trait paths; several paths are joined with a space (e.g. first + last name). */
  paths: string[];
  /** For a `swapped` level: the paths whose value is compared crosswise (e.g. `lastName` for `firstName`). */
  swapPaths?: string[];
  /** Explicit levels, best first; defaults depend on `kind`. */
  levels?: LevelSpec[];
}

/** A derived blocking key: a trait path plus an optional transform. A bare string means `{ path, transform: 'exact' }`. */
export interface BlockingKeySpec {
  /** Dotted trait path, or several separated by a space (e.g. `firstName lastName`). */
  path: string;
  /**
   * `exact` (normalised text), `prefix`/`suffix` (first/last `length` characters), `soundex`
   * (phonetic code of the joined value), `soundexSorted` (Soundex of each path, sorted: order-
   * independent, so swapped first/last names share a key; every path must be present),
   * `digits` (digits only; the last `length` digits when `length` is set), `email` (normalised
   * email), `date` (normalised `YYYYMMDD`), `year` (year of a date), `alnum` (letters and digits
   * only). Prefix/suffix of a shorter value is the value.
   */
  transform?: 'exact' | 'prefix' | 'suffix' | 'soundex' | 'soundexSorted' | 'digits' | 'email' | 'date' | 'year' | 'alnum';
  /** Length for `prefix` / `suffix` / `digits`. */
  length?: number;
}

/** A blocking rule: records whose keys are all present and equal become candidate pairs. */
export interface BlockingRule {
  /** Human-readable name used in statistics. */
  name: string;
  /** Key parts; all must be present for a record to be blocked by this rule. */
  keys: Array<string | BlockingKeySpec>;
  /** Overrides `MatchingConfig.maxBlockSize` for this rule. */
  maxBlockSize?: number;
}

/** Decision thresholds on match probability. */
export interface MatchThresholds {
  /** Pairs with probability >= autoMerge are merged automatically. */
  autoMerge: number;
  /** Pairs with review <= probability < autoMerge are queued for human review. */
  review: number;
}

/** Training options stored with the configuration. */
export interface TrainingConfig {
  /** Random pairs sampled per comparison to estimate u. */
  uSampleSize?: number;
  /** Seed of the deterministic random generator. */
  seed?: number;
  /** Maximum EM iterations. */
  maxIterations?: number;
  /** EM stops when no parameter moves more than this. */
  tolerance?: number;
  /** Probabilities are clamped to [epsilon, 1 - epsilon]. */
  epsilon?: number;
  /** Initial prior probability that a candidate pair is a match. */
  initialLambda?: number;
  /**
   * Dirichlet pseudo-count (spread like the initial m) added in each EM M-step, so a level
   * never observed among matches gets a weight near 0 instead of a large negative one.
   */
  mPseudoCount?: number;
}

/** Full, JSON-serialisable matching configuration. */
export interface MatchingConfig {
  /** Comparisons whose log-likelihood ratios are summed. */
  comparisons: ComparisonConfig[];
  /** Blocking rules; the candidate pairs are the union of their blocks. */
  blocking: BlockingRule[];
  /** Blocks with more records than this are skipped (and counted). */
  maxBlockSize: number;
  /** Decision thresholds. */
  thresholds: MatchThresholds;
  /** Training options. */
  training?: TrainingConfig;
  /**
   * Vetoes on automatic merges: each entry lists comparisons; when all of them have values on
   * both sides and together count against a match (their weights sum below zero), the pair goes
   * to review however high its probability. The default holds back a merge of two records whose
   * names, taken together, disagree, however much else (birthday, address) agrees.
   */
  autoMergeVetoes?: string[][];
}

/** Trained parameters of one agreement level. */
export interface LevelParameters {
  /** Level label, e.g. `Jaro-Winkler >= 0.92`. */
  label: string;
  /** P(level | match). */
  m: number;
  /** P(level | non-match). */
  u: number;
}

/** Trained parameters of one comparison (non-null levels only, the last one being "else"). */
export interface ComparisonParameters {
  /** Comparison name. */
  name: string;
  /** Parameters per level, best first, "else" last. */
  levels: LevelParameters[];
}

/** A trained Fellegi-Sunter model; JSON-serialisable, self-contained (embeds its config). */
export interface MatchModel {
  /** Format version. */
  version: 1;
  /** Configuration the model was trained with. */
  config: MatchingConfig;
  /** Prior probability that a candidate (blocked) pair is a match. */
  lambda: number;
  /** Per-comparison m/u parameters, in config order. */
  comparisons: ComparisonParameters[];
  /** Training statistics. */
  stats: {
    records: number;
    candidatePairs: number;
    emIterations: number;
    converged: boolean;
    labelledPairs: number;
  };
}

/** Why a pair scored as it did, for one comparison. */
export interface ComparisonExplanation {
  /** Comparison name. */
  comparison: string;
  /** Level label (`null` level is labelled "missing value"). */
  label: string;
  /** Level index in the model's levels, or -1 for the null level. */
  level: number;
  /** Normalised value of the first record (null when missing). */
  valueA: string | null;
  /** Normalised value of the second record (null when missing). */
  valueB: string | null;
  /** Contribution log2(m/u) to the match weight (0 for missing values). */
  weight: number;
}

/** Decision for a scored pair. */
export type MatchDecision = 'merge' | 'review' | 'distinct';

/** A scored candidate pair. */
export interface ScoredPair {
  /** Id of the first record. */
  idA: string;
  /** Id of the second record. */
  idB: string;
  /** Match weight: log2 prior odds + Σ log2(m/u). */
  weight: number;
  /** Match probability 2^w / (1 + 2^w). */
  probability: number;
  /** Decision according to the thresholds. */
  decision: MatchDecision;
  /** Per-comparison explanation. */
  explanation: ComparisonExplanation[];
}

/** A labelled pair used to initialise or fix m probabilities. */
export interface LabelledPair {
  /** Id of the first record. */
  idA: string;
  /** Id of the second record. */
  idB: string;
  /** Whether the two records are the same entity. */
  match: boolean;
}
