import type { IdentityConfig } from '../identity.config';
import type { Database, Queryable } from '../../database/database';
import { ConflictError, NotFoundError, ValidationError } from '../../errors/rapport-error';
import type { Logger } from '../../logger/logger';
import { checkFirst, decodeCursor, encodeCursor, type Page } from '../../pagination/cursor';
import { BlockingIndex, blockingKeysOf, scoreIncremental } from '../matching/incremental';
import { matchRecords } from '../matching/matcher';
import type { ComparisonExplanation, MatchModel, MatchRecord, ScoredPair } from '../matching/matching.types';
import { clusterPairs } from '../matching/clustering';
import { trainModel } from '../matching/trainer';
import type { ProfileMerger } from './profile-merger';

/** A scored pair of profiles waiting for (or past) a decision. */
export interface MatchCandidateRecord {
  id: string;
  profileA: string;
  profileB: string;
  weight: number;
  probability: number;
  explanation: ComparisonExplanation[];
  status: 'pending' | 'merged' | 'rejected';
  createdAt: Date;
  resolvedAt: Date | null;
  resolvedBy: string | null;
}

/** Progress of a batch run. */
export interface ResolveProgress {
  phase: 'loading' | 'training' | 'scoring' | 'merging' | 'done';
  processed: number;
  total: number;
}

/** Totals of a batch run. */
export interface ResolveSummary {
  runId: string;
  profiles: number;
  candidatePairs: number;
  merged: number;
  queued: number;
  seconds: number;
  resumed: boolean;
}

type Notify = (merge: { survivorId: string; mergedId: string; rule: string }) => Promise<void>;

function toCandidate(r: Record<string, unknown>): MatchCandidateRecord {
  return {
    id: r.id as string, profileA: r.profile_a as string, profileB: r.profile_b as string, weight: r.weight as number,
    probability: r.probability as number, explanation: r.explanation as ComparisonExplanation[], status: r.status as MatchCandidateRecord['status'],
    createdAt: r.created_at as Date, resolvedAt: r.resolved_at as Date | null, resolvedBy: r.resolved_by as string | null,
  };
}

/** JSON with object keys sorted, so equal content gives equal text. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const ordered = (a: string, b: string): [string, string] => (a < b ? [a, b] : [b, a]);

/**
 * Probabilistic identity resolution over stored profiles: trains the Fellegi-Sunter model (EM)
 * on them, merges pairs at or above `autoMerge`, queues pairs between `review` and `autoMerge`
 * for a person to decide, and matches profiles touched by new identify events against their
 * block. Rejected pairs are never proposed again.
 */
export class ResolutionService {
  private queue = new Set<string>();
  private running: Promise<void> | null = null;
  private warnedNoModel = false;

  constructor(
    private readonly db: Database,
    private readonly identity: IdentityConfig,
    private readonly merger: ProfileMerger,
    private readonly notify: Notify,
    private readonly logger?: Logger,
  ) {}

  private get config() {
    return this.identity.matching.config;
  }

  /** Every live profile as a match record: its traits, with its email and phone identities. */
  async loadRecords(tx: Queryable = this.db, ids?: string[]): Promise<MatchRecord[]> {
    const rows = await tx.query<{ id: string; traits: Record<string, unknown>; email: string | null; phone: string | null }>(
      `SELECT p.id, p.traits,
              (SELECT value FROM rapport_identity i WHERE i.profile_id = p.id AND i.type = 'email' ORDER BY first_seen_at DESC LIMIT 1) AS email,
              (SELECT value FROM rapport_identity i WHERE i.profile_id = p.id AND i.type = 'phone' ORDER BY first_seen_at DESC LIMIT 1) AS phone
         FROM rapport_profile p WHERE p.merged_into IS NULL ${ids ? 'AND p.id = ANY($1::uuid[])' : ''} ORDER BY p.id`,
      ids ? [ids] : [],
    );
    return rows.map((r) => ({ id: r.id, traits: { ...r.traits, ...(r.email ? { email: r.email } : {}), ...(r.phone ? { phone: r.phone } : {}) } }));
  }

  /** The newest trained model, or null. */
  async latestModel(): Promise<{ id: number; model: MatchModel } | null> {
    const [r] = await this.db.query<{ id: number; model: MatchModel }>('SELECT id, model FROM rapport_match_model ORDER BY id DESC LIMIT 1');
    return r ?? null;
  }

  /**
   * Trains a model on the stored profiles and stores it. Records are put in an order that depends
   * on their content only, so the same profiles give the same model whatever their ids.
   */
  async train(records?: MatchRecord[]): Promise<{ id: number; model: MatchModel }> {
    const recs = [...(records ?? (await this.loadRecords()))]
      .map((r) => ({ r, k: canonical(r.traits) }))
      .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
      .map((x) => x.r);
    const model = trainModel(recs, this.config);
    const [r] = await this.db.query<{ id: number }>('INSERT INTO rapport_match_model (model) VALUES ($1::jsonb) RETURNING id', [JSON.stringify(model)]);
    return { id: r.id, model };
  }

  /**
   * Batch resolution over all profiles, with the newest model (trained first when there is none,
   * or when `retrain` is set). Resumable: an unfinished run keeps its model, and work already done
   * is not redone (merged clusters are one profile now; queued pairs stay queued).
   */
  async resolveAll(options: { retrain?: boolean; actor?: string; onProgress?: (p: ResolveProgress) => void } = {}): Promise<ResolveSummary> {
    const t0 = performance.now();
    const progress = options.onProgress ?? (() => undefined);
    progress({ phase: 'loading', processed: 0, total: 0 });
    const records = await this.loadRecords();
    const [unfinished] = await this.db.query<{ id: string; model_id: number }>(
      `SELECT id, model_id FROM rapport_resolve_run WHERE status = 'running' ORDER BY started_at DESC LIMIT 1`,
    );
    let modelRow: { id: number; model: MatchModel } | null;
    let runId: string;
    const resumed = !!unfinished && !options.retrain;
    if (resumed) {
      [modelRow] = await this.db.query<{ id: number; model: MatchModel }>('SELECT id, model FROM rapport_match_model WHERE id = $1', [unfinished.model_id]);
      runId = unfinished.id;
    } else {
      // A model is trained once (or on request): training again on profiles it already merged
      // would learn from deduplicated data, where matches are rare.
      modelRow = options.retrain ? null : await this.latestModel();
      if (!modelRow) {
        progress({ phase: 'training', processed: 0, total: records.length });
        modelRow = await this.train(records);
      }
      await this.db.query(`UPDATE rapport_resolve_run SET status = 'abandoned' WHERE status = 'running'`);
      runId = (await this.db.query<{ id: string }>('INSERT INTO rapport_resolve_run (model_id) VALUES ($1) RETURNING id', [modelRow.id]))[0].id;
    }
    progress({ phase: 'scoring', processed: 0, total: records.length });
    const model = modelRow!.model;
    const result = matchRecords(records, model.config, { model, minProbability: model.config.thresholds.review });
    await this.rebuildKeys(records);
    const rejected = await this.rejectedPairs();
    const usable = result.pairs.filter((p) => !rejected.has(ordered(p.idA, p.idB).join('|')));
    const auto = usable.filter((p) => p.decision === 'merge');
    const review = usable.filter((p) => p.decision === 'review');
    const clusters = clusterPairs(auto);
    const byPair = new Map(auto.map((p) => [ordered(p.idA, p.idB).join('|'), p]));
    await this.db.query('UPDATE rapport_resolve_run SET total = $2 WHERE id = $1', [runId, clusters.length]);

    let merged = 0;
    for (let i = 0; i < clusters.length; i++) {
      const cluster = clusters[i];
      const evidence = auto.filter((p) => cluster.includes(p.idA) && cluster.includes(p.idB)).slice(0, 10);
      const best = evidence[0] ?? byPair.get(ordered(cluster[0], cluster[1]).join('|'));
      try {
        const r = await this.merger.merge(cluster, {
          rule: 'probabilistic', actor: options.actor ?? 'resolution', score: best?.probability ?? null, enforceLimits: this.identity.matching.enforceLimits,
          reason: { weight: best?.weight, probability: best?.probability, explanation: best?.explanation, pairs: evidence.length },
        });
        merged += r.mergedIds.length;
        for (const m of r.mergedIds) await this.notify({ survivorId: r.survivorId, mergedId: m, rule: 'probabilistic' });
      } catch (err) {
        if (!(err instanceof ConflictError) && !(err instanceof ValidationError)) throw err;
        this.logger?.info({ cluster, reason: (err as Error).message }, 'probabilistic merge skipped');
      }
      if (i % 50 === 49 || i === clusters.length - 1) {
        await this.db.query('UPDATE rapport_resolve_run SET processed = $2, merged = $3 WHERE id = $1', [runId, i + 1, merged]);
        progress({ phase: 'merging', processed: i + 1, total: clusters.length });
      }
    }
    const queued = await this.queue_(review);
    await this.db.query(`UPDATE rapport_resolve_run SET status = 'done', finished_at = now(), merged = $2, queued = $3 WHERE id = $1`, [runId, merged, queued]);
    progress({ phase: 'done', processed: clusters.length, total: clusters.length });
    return { runId, profiles: records.length, candidatePairs: result.candidatePairs, merged, queued, seconds: (performance.now() - t0) / 1000, resumed };
  }

  /** Queues review pairs (live profiles only); returns how many were new. */
  private async queue_(pairs: ScoredPair[]): Promise<number> {
    if (!pairs.length) return 0;
    const live = new Set(
      (await this.db.query<{ id: string }>('SELECT id FROM rapport_profile WHERE id = ANY($1::uuid[]) AND merged_into IS NULL', [
        [...new Set(pairs.flatMap((p) => [p.idA, p.idB]))],
      ])).map((r) => r.id),
    );
    // Stored as (smaller id, larger id); the explanation's valueA/valueB follow the same order.
    const rows = pairs
      .filter((p) => live.has(p.idA) && live.has(p.idB))
      .map((p) => ({
        p: p.idA < p.idB ? p : { ...p, idA: p.idB, idB: p.idA, explanation: p.explanation.map((e) => ({ ...e, valueA: e.valueB, valueB: e.valueA })) },
        o: ordered(p.idA, p.idB),
      }));
    if (!rows.length) return 0;
    const inserted = await this.db.query(
      `INSERT INTO rapport_match_candidate (profile_a, profile_b, weight, probability, explanation)
       SELECT a, b, w, pr, e::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::float8[], $4::float8[], $5::text[]) AS x(a, b, w, pr, e)
       ON CONFLICT (profile_a, profile_b) DO NOTHING RETURNING id`,
      [rows.map((r) => r.o[0]), rows.map((r) => r.o[1]), rows.map((r) => r.p.weight), rows.map((r) => r.p.probability), rows.map((r) => JSON.stringify(r.p.explanation))],
    );
    return inserted.length;
  }

  private async rejectedPairs(): Promise<Set<string>> {
    const rows = await this.db.query<{ a: string; b: string }>(`SELECT profile_a AS a, profile_b AS b FROM rapport_match_candidate WHERE status = 'rejected'`);
    return new Set(rows.map((r) => `${r.a}|${r.b}`));
  }

  /** Replaces the blocking keys of these records (all keys when called from a batch run). */
  private async rebuildKeys(records: MatchRecord[], partial = false): Promise<void> {
    const keys: Array<[string, string]> = [];
    for (const r of records) for (const k of blockingKeysOf(r, this.config)) keys.push([`${k.rule}:${k.key}`, r.id]);
    await this.db.transaction(async (tx) => {
      if (partial) await tx.query('DELETE FROM rapport_match_key WHERE profile_id = ANY($1::uuid[])', [records.map((r) => r.id)]);
      else await tx.query('TRUNCATE rapport_match_key');
      for (let i = 0; i < keys.length; i += 5000) {
        const chunk = keys.slice(i, i + 5000);
        await tx.query('INSERT INTO rapport_match_key (key, profile_id) SELECT * FROM unnest($1::text[], $2::uuid[]) ON CONFLICT DO NOTHING', [
          chunk.map((k) => k[0]), chunk.map((k) => k[1]),
        ]);
      }
    });
  }

  /** Queues profiles for incremental matching (after their identify events committed). */
  enqueue(profileIds: string[]): void {
    if (!this.identity.matching.incremental) return;
    for (const id of profileIds) this.queue.add(id);
    if (!this.running) this.running = this.drainLoop().finally(() => (this.running = null));
  }

  /** Resolves when the incremental queue is empty. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drainLoop(): Promise<void> {
    while (this.queue.size) {
      const ids = [...this.queue].slice(0, 200);
      for (const id of ids) this.queue.delete(id);
      try {
        await this.matchIncremental(ids);
      } catch (err) {
        this.logger?.error({ err }, 'incremental matching failed');
      }
    }
  }

  /** Matches these profiles against their blocks with the newest model; merges or queues the pairs found. */
  async matchIncremental(profileIds: string[]): Promise<{ merged: number; queued: number }> {
    const latest = await this.latestModel();
    if (!latest) {
      if (!this.warnedNoModel) this.logger?.info('no match model yet: run `rapport resolve` to train one; incremental matching is idle');
      this.warnedNoModel = true;
      return { merged: 0, queued: 0 };
    }
    const config = latest.model.config;
    const records = await this.loadRecords(this.db, profileIds);
    if (!records.length) return { merged: 0, queued: 0 };
    await this.rebuildKeys(records, true);
    const keys = [...new Set(records.flatMap((r) => blockingKeysOf(r, config).map((k) => `${k.rule}:${k.key}`)))];
    const neighbours = (
      await this.db.query<{ profile_id: string }>(
        `SELECT DISTINCT k.profile_id FROM rapport_match_key k WHERE k.key = ANY($1::text[])
            AND (SELECT count(*) FROM rapport_match_key c WHERE c.key = k.key) <= $2`,
        [keys, config.maxBlockSize],
      )
    ).map((r) => r.profile_id);
    const others = await this.loadRecords(this.db, neighbours);
    const index = new BlockingIndex(config);
    for (const r of others) index.add(r);
    const rejected = await this.rejectedPairs();
    const pairs = new Map<string, ScoredPair>();
    for (const r of records) {
      for (const p of scoreIncremental(latest.model, r, index)) {
        const k = ordered(p.idA, p.idB).join('|');
        if (p.idA !== p.idB && !rejected.has(k)) pairs.set(k, p);
      }
    }
    let merged = 0;
    const review: ScoredPair[] = [];
    for (const p of [...pairs.values()].sort((a, b) => b.weight - a.weight)) {
      if (p.decision === 'merge') {
        try {
          const r = await this.merger.merge([p.idA, p.idB], {
            rule: 'probabilistic', actor: 'resolution', score: p.probability, enforceLimits: this.identity.matching.enforceLimits,
            reason: { weight: p.weight, probability: p.probability, explanation: p.explanation },
          });
          merged += r.mergedIds.length;
          for (const m of r.mergedIds) await this.notify({ survivorId: r.survivorId, mergedId: m, rule: 'probabilistic' });
        } catch (err) {
          if (!(err instanceof ConflictError) && !(err instanceof ValidationError)) throw err;
        }
      } else if (p.decision === 'review') review.push(p);
    }
    return { merged, queued: await this.queue_(review) };
  }

  /** Pending and past candidates involving a profile (resolved to its live id). */
  async candidatesOf(profileId: string): Promise<MatchCandidateRecord[]> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(profileId)) {
      throw new ValidationError('profileId', 'uuid', `"${profileId}" is not a profile id`);
    }
    const rows = await this.db.query(
      `SELECT c.* FROM rapport_match_candidate c
        WHERE c.profile_a = (SELECT COALESCE(merged_into, id) FROM rapport_profile WHERE id = $1::uuid)
           OR c.profile_b = (SELECT COALESCE(merged_into, id) FROM rapport_profile WHERE id = $1::uuid)
        ORDER BY c.probability DESC`,
      [profileId],
    );
    return rows.filter((r) => r.weight !== 0 || r.status !== 'rejected').map(toCandidate);
  }

  /** Pending candidates, most probable first. */
  async reviewQueue(args: { first: number; after?: string | null }): Promise<Page<MatchCandidateRecord>> {
    const first = checkFirst(args.first, 200);
    const params: unknown[] = [first + 1];
    let where = `status = 'pending'`;
    if (args.after) {
      const [p, id] = decodeCursor(args.after);
      params.push(p, id);
      where += ` AND (probability, id) < ($2::float8, $3::uuid)`;
    }
    const rows = (await this.db.query(`SELECT * FROM rapport_match_candidate WHERE ${where} ORDER BY probability DESC, id DESC LIMIT $1`, params)).map(toCandidate);
    const nodes = rows.slice(0, first);
    return { nodes, hasNextPage: rows.length > first, cursors: nodes.map((n) => encodeCursor([n.probability, n.id])) };
  }

  /**
   * Decides a pending candidate. Exactly one of two operators deciding at once wins; the other
   * gets a CONFLICT error saying who decided what.
   */
  async resolveCandidate(id: string, decision: 'MERGE' | 'REJECT', actor: string): Promise<MatchCandidateRecord> {
    const status = decision === 'MERGE' ? 'merged' : 'rejected';
    const [row] = await this.db.query(
      `UPDATE rapport_match_candidate SET status = $2, resolved_at = now(), resolved_by = $3
        WHERE id::text = $1 AND status = 'pending' RETURNING *`,
      [id, status, actor],
    );
    if (!row) {
      const [existing] = await this.db.query('SELECT * FROM rapport_match_candidate WHERE id::text = $1', [id]);
      if (!existing) throw new NotFoundError('match candidate', id);
      throw new ConflictError(`candidate ${id} was already decided: ${existing.status} by ${existing.resolved_by} at ${(existing.resolved_at as Date).toISOString()}`);
    }
    const c = toCandidate(row);
    if (decision === 'MERGE') {
      let r: { survivorId: string; mergedIds: string[] };
      try {
        r = await this.merger.merge([c.profileA, c.profileB], {
          rule: 'probabilistic', actor, score: c.probability, enforceLimits: 'all',
          reason: { reviewed: true, weight: c.weight, probability: c.probability, explanation: c.explanation },
        });
      } catch (err) {
        // The merge was refused (a limit, or the profiles are gone): the candidate is still undecided.
        await this.db.query(`UPDATE rapport_match_candidate SET status = 'pending', resolved_at = NULL, resolved_by = NULL WHERE id = $1`, [c.id]);
        throw err;
      }
      for (const m of r.mergedIds) await this.notify({ survivorId: r.survivorId, mergedId: m, rule: 'probabilistic' });
    }
    return c;
  }
}
