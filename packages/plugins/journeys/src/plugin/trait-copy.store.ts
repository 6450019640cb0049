/** The trait copies of journey definitions in the plugin's table `journeys_trait_copy` (stage.traits.ts). */
import type { SqlRunner } from '@rapport/core';

/** Where a copy stands: values are being copied, all were, or it stopped on an error that a retry cannot fix. */
export type TraitCopyState = 'copying' | 'copied' | 'failed';

/** The trait copy a journey definition started. */
export interface TraitCopy {
  journey: string;
  /** The trait keys copied. */
  keys: string[];
  /** The timestamp (epoch ms) of the copied values: the definition's time, so an identify event after it wins. */
  asOf: number;
  /** Everyone known up to this profile id is done. */
  after: string;
  state: TraitCopyState;
  /** People whose values were read. */
  people: number;
  /** People to read, counted when the copy started (null until then). */
  total: number | null;
  /** Values written. */
  copied: number;
  /** The last error (a retry clears it); for `failed`, why the copy stopped. */
  error: string | null;
}

interface Row {
  journey: string;
  keys: string[];
  as_of: string;
  after: string;
  state: TraitCopyState;
  people: number;
  total: number | null;
  copied: number;
  error: string | null;
}

const toCopy = (r: Row): TraitCopy => ({
  journey: r.journey, keys: r.keys, asOf: Number(r.as_of), after: r.after, state: r.state, people: r.people, total: r.total, copied: r.copied, error: r.error,
});

/** The copy of one journey (null: none was ever needed); `lock` takes its row lock (in a transaction). */
export async function loadCopy(db: SqlRunner, journey: string, lock = false): Promise<TraitCopy | null> {
  const [row] = await db.query<Row>(`SELECT * FROM journeys_trait_copy WHERE journey = $1${lock ? ' FOR UPDATE' : ''}`, [journey]);
  return row ? toCopy(row) : null;
}

/** The copies of these journeys, by journey name. */
export async function loadCopies(db: SqlRunner, journeys: readonly string[]): Promise<Map<string, TraitCopy>> {
  const rows = await db.query<Row>('SELECT * FROM journeys_trait_copy WHERE journey = ANY($1::text[])', [journeys]);
  return new Map(rows.map((r) => [r.journey, toCopy(r)]));
}

/**
 * Starts copying `keys` for a journey (in its definition's transaction). A copy of the journey still under way goes
 * on with the union of its keys and these, from the first person again, with its own timestamp: the rows it wrote are
 * not written twice (the unique index on copied rows), so only the new keys' values are added for them.
 */
export async function startCopy(tx: SqlRunner, journey: string, keys: readonly string[], asOf: number): Promise<void> {
  await tx.query(
    `INSERT INTO journeys_trait_copy (journey, keys, as_of) VALUES ($1, $2::text[], $3)
     ON CONFLICT (journey) DO UPDATE SET
       keys = CASE WHEN journeys_trait_copy.state = 'copying'
                   THEN ARRAY(SELECT DISTINCT k FROM unnest(journeys_trait_copy.keys || EXCLUDED.keys) AS k ORDER BY k)
                   ELSE EXCLUDED.keys END,
       as_of = CASE WHEN journeys_trait_copy.state = 'copying' THEN journeys_trait_copy.as_of ELSE EXCLUDED.as_of END,
       copied = CASE WHEN journeys_trait_copy.state = 'copying' THEN journeys_trait_copy.copied ELSE 0 END,
       after = DEFAULT, state = 'copying', people = 0, total = NULL, error = NULL, updated_at = now()`,
    [journey, [...keys].sort(), asOf],
  );
}
