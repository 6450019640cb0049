/** Data subject requests for stages: what the plugin holds on a person's stages and traits, and erasing it. */
import type { SqlRunner } from '@rapport/core';
import { lockStages } from './stage.service';

/** The person's kept traits, current stages, stage history, logged changes and identified profiles, for `onExport`. */
export async function exportStages(db: SqlRunner, profileIds: readonly string[]): Promise<Record<string, unknown[]>> {
  const ids = [...profileIds];
  const [traits, stages, history, changes, identified] = await Promise.all([
    db.query('SELECT key, value, to_timestamp(ts / 1000.0) AS timestamp, event_id FROM journeys_trait WHERE profile_id = ANY($1::uuid[]) OR origin_profile_id = ANY($1::uuid[]) ORDER BY ts, event_id', [ids]),
    db.query('SELECT journey, stage, entered_at FROM journeys_stage WHERE profile_id = ANY($1::uuid[]) ORDER BY journey', [ids]),
    db.query('SELECT journey, stage, entered_at, left_at FROM journeys_stage_history WHERE profile_id = ANY($1::uuid[]) ORDER BY id', [ids]),
    db.query('SELECT id, journey, from_stage, to_stage, reason, changed_at FROM journeys_stage_change WHERE profile_id = ANY($1::uuid[]) ORDER BY id', [ids]),
    // That an identify was delivered for the profile (ids only: what lets a later journey copy their trait values).
    db.query('SELECT origin_profile_id, profile_id FROM journeys_identified WHERE profile_id = ANY($1::uuid[]) OR origin_profile_id = ANY($1::uuid[]) ORDER BY origin_profile_id', [ids]),
  ]);
  return { traits, stages, stageHistory: history, stageChanges: changes, identified };
}

/**
 * Erases the person's traits, stages, history and logged changes, in the deletion's transaction. Evaluations hold the
 * people they write for against erasure (`ctx.profiles.hold`), so none running meanwhile can write a stage back.
 */
export async function deleteStages(tx: SqlRunner, profileIds: readonly string[]): Promise<void> {
  const ids = [...profileIds];
  await tx.query('DELETE FROM journeys_trait WHERE profile_id = ANY($1::uuid[]) OR origin_profile_id = ANY($1::uuid[])', [ids]);
  await tx.query('DELETE FROM journeys_identified WHERE profile_id = ANY($1::uuid[]) OR origin_profile_id = ANY($1::uuid[])', [ids]);
  await lockStages(tx);
  await tx.query('DELETE FROM journeys_stage WHERE profile_id = ANY($1::uuid[])', [ids]);
  await tx.query('DELETE FROM journeys_stage_history WHERE profile_id = ANY($1::uuid[])', [ids]);
  await tx.query('DELETE FROM journeys_stage_change WHERE profile_id = ANY($1::uuid[])', [ids]);
}
