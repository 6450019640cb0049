/**
 * Incremental matching: an in-memory index of existing records by blocking key, and
 * scoring of one new record against its blocks with a trained model.
 */
import { compileBlockingRules, type CompiledBlockingRule } from './blocking';
import { prepareRecords } from './comparison';
import { buildScoredPair, compileModel, levelsOfPreparedPair, type CompiledModel } from './matcher';
import type { MatchModel, MatchRecord, MatchingConfig, ScoredPair } from './matching.types';

/** One blocking key of a record (what a database would persist to find its block). */
export interface RecordBlockingKey {
  /** Index of the rule in `config.blocking`. */
  rule: number;
  /** Rule name. */
  ruleName: string;
  /** Key value. */
  key: string;
}

/** All blocking keys of a record under a configuration (rules whose key parts are missing are omitted). */
export function blockingKeysOf(record: MatchRecord, config: Pick<MatchingConfig, 'blocking' | 'maxBlockSize'>): RecordBlockingKey[] {
  return compileBlockingRules(config).flatMap((r, i) => {
    const key = r.keyOf(record);
    return key === null ? [] : [{ rule: i, ruleName: r.name, key }];
  });
}

/**
 * In-memory index of records by blocking key. `candidatesFor` applies the same block-size
 * cap as batch blocking (a block counts the queried record), so incremental candidates
 * equal batch candidates.
 */
export class BlockingIndex {
  private readonly rules: CompiledBlockingRule[];
  private readonly blocks: Array<Map<string, Set<string>>>;
  private readonly records = new Map<string, MatchRecord>();
  private readonly keysById = new Map<string, Array<string | null>>();

  /** Creates an empty index for the configuration's blocking rules. */
  constructor(config: Pick<MatchingConfig, 'blocking' | 'maxBlockSize'>) {
    this.rules = compileBlockingRules(config);
    this.blocks = this.rules.map(() => new Map<string, Set<string>>());
  }

  /** Number of indexed records. */
  get size(): number {
    return this.records.size;
  }

  /** The indexed record with this id, if any. */
  get(id: string): MatchRecord | undefined {
    return this.records.get(id);
  }

  /** Adds (or replaces) a record. */
  add(record: MatchRecord): void {
    if (this.records.has(record.id)) this.remove(record.id);
    const keys = this.rules.map((r) => r.keyOf(record));
    this.records.set(record.id, record);
    this.keysById.set(record.id, keys);
    keys.forEach((key, r) => {
      if (key === null) return;
      const block = this.blocks[r].get(key);
      if (block) block.add(record.id);
      else this.blocks[r].set(key, new Set([record.id]));
    });
  }

  /** Adds several records. */
  addAll(records: Iterable<MatchRecord>): void {
    for (const r of records) this.add(r);
  }

  /** Removes a record; returns whether it was present. */
  remove(id: string): boolean {
    const keys = this.keysById.get(id);
    if (!keys) return false;
    keys.forEach((key, r) => {
      if (key === null) return;
      const block = this.blocks[r].get(key);
      if (!block) return;
      block.delete(id);
      if (block.size === 0) this.blocks[r].delete(key);
    });
    this.keysById.delete(id);
    this.records.delete(id);
    return true;
  }

  /** Indexed records sharing a blocking key with `record` (itself excluded), skipping oversized blocks. */
  candidatesFor(record: MatchRecord): MatchRecord[] {
    const seen = new Set<string>();
    const out: MatchRecord[] = [];
    this.rules.forEach((rule, r) => {
      const key = rule.keyOf(record);
      if (key === null) return;
      const block = this.blocks[r].get(key);
      if (!block) return;
      const others = block.has(record.id) ? block.size - 1 : block.size;
      if (others === 0 || others + 1 > rule.maxBlockSize) return;
      for (const id of block) {
        if (id === record.id || seen.has(id)) continue;
        seen.add(id);
        out.push(this.records.get(id) as MatchRecord);
      }
    });
    return out;
  }
}

/**
 * Scores a new record against the records of its blocks only, best first. Every returned
 * pair has `idA = record.id`. Scores equal those of batch scoring for the same pair.
 */
export function scoreIncremental(model: MatchModel | CompiledModel, record: MatchRecord, index: BlockingIndex): ScoredPair[] {
  const compiled = 'levelWeights' in model ? model : compileModel(model);
  const candidates = index.candidatesFor(record);
  if (candidates.length === 0) return [];
  const prepared = prepareRecords([record, ...candidates], compiled.comparisons);
  const valuesOf = (i: number) => prepared.values.map((col) => col[i]);
  const mine = valuesOf(0);
  const out: ScoredPair[] = [];
  for (let c = 1; c < prepared.records.length; c++) {
    const levels = levelsOfPreparedPair(compiled, prepared, 0, c);
    out.push(buildScoredPair(compiled, record.id, prepared.records[c].id, levels, mine, valuesOf(c)));
  }
  return out.sort((x, y) => y.weight - x.weight);
}
