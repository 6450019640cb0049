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
  const [row] = await tx.query<{ iso: string }>(`SELECT current_setting('transaction_isolation') AS iso, pg_advisory_xact_lock(${ERASURE_LOCK_KEY})`);
  // Elsewhere the hooks' deletes would read the snapshot taken before the wait, and miss what holders committed.
  if (row?.iso !== 'read committed') throw new Error(`an erasure needs a READ COMMITTED transaction, this one is ${row?.iso}`);
}

/**
 * Takes the erasure lock shared, until the transaction ends, and returns which of `profileIds` still exist (as
 * profiles, live or merged away), read after the lock: an erasure that was under way has committed by then. One round
 * trip: `rapport_erasure_hold` (migration 1763800000022) answers the positions of the ids that are gone, usually
 * none. Outside READ COMMITTED the function refuses: its read would not see an erasure it waited for.
 */
export async function holdAgainstErasure(tx: Queryable, profileIds: readonly string[]): Promise<Set<string>> {
  const ids = [...new Set(profileIds)];
  // Answered by position, so an id in any form PostgreSQL reads as a uuid (upper case, braces, no hyphens) is
  // matched to itself.
  const gone = await tx.query<{ i: number }>('SELECT i FROM rapport_erasure_hold($1::uuid[]) AS i', [ids]);
  if (gone.length === 0) return new Set(ids);
  const missing = new Set(gone.map((g) => g.i));
  return new Set(ids.filter((_, k) => !missing.has(k + 1)));
}
