import type { Queryable } from '../database/database';

/**
 * The advisory lock that orders an erasure against plugins' writes of what they know of people. An erasure takes it
 * exclusively for its transaction; a plugin's transaction that writes about people takes it shared
 * (`ctx.profiles.hold`), then reads which of them still exist. So either the erasure waits until that transaction has
 * committed (and its `onProfileDeleted` hooks then see, and remove, what it wrote), or the transaction waits until the
 * erasure has committed (and then finds the person gone). Without it, a plugin's write that read a person before an
 * erasure and committed after the erasure's hooks ran would leave a copy of an erased person's data.
 *
 * One lock for everyone, not one per person: erasures are rare, plugin transactions are short, and shared holders
 * never wait for each other. The two-int key space is apart from the one-bigint keys ingestion and jobs lock.
 */
const ERASURE_LOCK_KEY = '1380011088, 1'; // 'RAPP', 1 (also in migration 1763800000022)

/** Takes the erasure lock exclusively, until the transaction ends (an erasure). */
export async function lockForErasure(tx: Queryable): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(${ERASURE_LOCK_KEY})`);
}

/**
 * Takes the erasure lock shared, until the transaction ends, and returns which of `profileIds` still exist (as
 * profiles, live or merged away), read after the lock: an erasure that was under way has committed by then. One round
 * trip: `rapport_erasure_hold` (migration 1763800000022) answers the ids that are gone, usually none.
 */
export async function holdAgainstErasure(tx: Queryable, profileIds: readonly string[]): Promise<Set<string>> {
  const ids = [...new Set(profileIds)];
  const gone = await tx.query<{ id: string }>('SELECT id::text AS id FROM rapport_erasure_hold($1::uuid[]) AS id', [ids]);
  if (gone.length === 0) return new Set(ids);
  const missing = new Set(gone.map((g) => g.id));
  return new Set(ids.filter((id) => !missing.has(id.toLowerCase())));
}
