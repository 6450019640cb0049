/** Journey definitions in the plugin's table `journeys_definition`. */
import { ValidationError, type SqlRunner } from '@rapport/core';
import { MAX_JOURNEYS, type JourneySpec } from './journey-definition';

/** A stored journey. */
export interface StoredJourney extends JourneySpec {
  version: number;
  /** The backfill has evaluated this version for everyone. */
  ready: boolean;
  /** Up to when (epoch ms) time-based rules were re-checked. */
  checkedUntil: number;
  definedAt: Date;
  updatedAt: Date;
}

interface Row {
  name: string;
  stages: JourneySpec['stages'];
  version: number;
  evaluated_version: number;
  checked_until: string;
  defined_at: Date;
  updated_at: Date;
}

const toJourney = (r: Row): StoredJourney => ({
  name: r.name, stages: r.stages, version: r.version, ready: r.evaluated_version >= r.version,
  checkedUntil: Number(r.checked_until), definedAt: r.defined_at, updatedAt: r.updated_at,
});

/**
 * The same stored definition: same version of the same journey (a journey deleted and defined again starts again at
 * version 1, so its definition time tells them apart).
 */
export function sameDefinition(a: StoredJourney, b: StoredJourney): boolean {
  return a.version === b.version && a.definedAt.getTime() === b.definedAt.getTime();
}

/** Every stored journey, by name. */
export async function loadJourneys(db: SqlRunner): Promise<StoredJourney[]> {
  const rows = await db.query<Row>('SELECT * FROM journeys_definition ORDER BY name');
  return rows.map(toJourney);
}

/** Stores a checked journey (a new one, or a new version of an existing one). */
export async function saveJourney(tx: SqlRunner, spec: JourneySpec): Promise<StoredJourney> {
  const [count] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM journeys_definition WHERE name <> $1', [spec.name]);
  if ((count?.n ?? 0) >= MAX_JOURNEYS) throw new ValidationError('input.name', 'maxJourneys', `at most ${MAX_JOURNEYS} journeys may be defined`);
  const [row] = await tx.query<Row>(
    `INSERT INTO journeys_definition (name, stages, checked_until) VALUES ($1, $2::jsonb, $3)
     ON CONFLICT (name) DO UPDATE SET stages = EXCLUDED.stages, version = journeys_definition.version + 1, updated_at = now()
     RETURNING *`,
    [spec.name, JSON.stringify(spec.stages), Date.now()],
  );
  return toJourney(row!);
}

/** Marks `version` of a journey as evaluated for everyone. */
export async function markEvaluated(db: SqlRunner, name: string, version: number): Promise<void> {
  await db.query('UPDATE journeys_definition SET evaluated_version = greatest(evaluated_version, $2) WHERE name = $1', [name, version]);
}

/** Records that time-based rules were re-checked up to `until` (epoch ms). */
export async function markChecked(db: SqlRunner, name: string, until: number): Promise<void> {
  await db.query('UPDATE journeys_definition SET checked_until = greatest(checked_until, $2) WHERE name = $1', [name, until]);
}
