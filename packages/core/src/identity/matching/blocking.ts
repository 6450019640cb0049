/**
 * Blocking: derive keys from records and generate the deduplicated union of candidate
 * pairs that share any rule's key, skipping oversized blocks.
 */
import type { BlockingKeySpec, BlockingRule, MatchRecord, MatchingConfig } from './matching.types';
import { getTraitValue, normalizeAlnum, normalizeDate, normalizeEmail, normalizeName } from './normalize';
import { soundex } from './string-metrics';

/** A blocking rule compiled into a key function. */
export interface CompiledBlockingRule {
  /** Rule name. */
  name: string;
  /** Largest block that still produces pairs. */
  maxBlockSize: number;
  /** Key of a record under this rule, or null when any key part is missing. */
  keyOf(record: MatchRecord): string | null;
}

/** Per-rule blocking statistics. */
export interface BlockingRuleStats {
  /** Rule name. */
  rule: string;
  /** Blocks with at least two records. */
  blocks: number;
  /** Pairs this rule added that no earlier rule produced. */
  newPairs: number;
  /** Blocks skipped because they exceeded the cap. */
  skippedBlocks: number;
  /** Records in skipped blocks. */
  skippedRecords: number;
}

/** Result of blocking: candidate pairs as parallel index arrays into the input records. */
export interface CandidatePairs {
  /** Index of the first record of each pair (a[p] < b[p]). */
  a: Int32Array;
  /** Index of the second record of each pair. */
  b: Int32Array;
  /** Number of candidate pairs. */
  count: number;
  /** Total number of blocks skipped for exceeding the cap. */
  skippedBlocks: number;
  /** Per-rule statistics. */
  rules: BlockingRuleStats[];
}

function normalizeKeySpec(key: string | BlockingKeySpec): BlockingKeySpec {
  return typeof key === 'string' ? { path: key, transform: 'exact' } : key;
}

function paths(path: string): string[] {
  return path.split(' ').filter((p) => p.length > 0);
}

function readJoined(record: MatchRecord, spec: BlockingKeySpec, normalize: (v: unknown) => string | null): string | null {
  let out: string | null = null;
  for (const p of paths(spec.path)) {
    const v = normalize(getTraitValue(record?.traits, p));
    if (v !== null) out = out === null ? v : `${out} ${v}`;
  }
  return out;
}

/** Computes one key part of a record, or null when missing. */
export function blockingKeyPart(record: MatchRecord, key: string | BlockingKeySpec): string | null {
  const spec = normalizeKeySpec(key);
  const transform = spec.transform ?? 'exact';
  switch (transform) {
    case 'exact':
      return readJoined(record, spec, normalizeName);
    case 'alnum':
      return readJoined(record, spec, normalizeAlnum);
    case 'digits': {
      const v = readJoined(record, spec, normalizeAlnum);
      const d = v === null ? '' : v.replace(/\D+/g, '');
      if (d.length === 0) return null;
      return spec.length !== undefined && spec.length > 0 ? d.slice(-spec.length) : d;
    }
    case 'email':
      return readJoined(record, spec, normalizeEmail);
    case 'date':
      return readJoined(record, spec, normalizeDate);
    case 'year': {
      const v = readJoined(record, spec, normalizeDate);
      return v === null ? null : v.slice(0, 4);
    }
    case 'prefix':
    case 'suffix': {
      const v = readJoined(record, spec, normalizeAlnum);
      const n = spec.length ?? 3;
      if (v === null) return null;
      return transform === 'prefix' ? v.slice(0, n) : v.slice(-n);
    }
    case 'soundex': {
      const v = readJoined(record, spec, normalizeName);
      return v === null ? null : soundex(v);
    }
    case 'soundexSorted': {
      const codes: string[] = [];
      for (const p of paths(spec.path)) {
        const v = normalizeName(getTraitValue(record?.traits, p));
        const code = v === null ? null : soundex(v);
        if (code === null) return null;
        codes.push(code);
      }
      return codes.length > 0 ? codes.sort().join(' ') : null;
    }
    default:
      return null;
  }
}

/** Compiles the blocking rules of a configuration. */
export function compileBlockingRules(config: Pick<MatchingConfig, 'blocking' | 'maxBlockSize'>): CompiledBlockingRule[] {
  return config.blocking.map((rule: BlockingRule) => {
    const keys = rule.keys.map(normalizeKeySpec);
    return {
      name: rule.name,
      maxBlockSize: rule.maxBlockSize ?? config.maxBlockSize,
      keyOf(record: MatchRecord): string | null {
        let out = '';
        for (let i = 0; i < keys.length; i++) {
          const part = blockingKeyPart(record, keys[i]);
          if (part === null) return null;
          out = i === 0 ? part : `${out}\u0001${part}`;
        }
        return keys.length > 0 ? out : null;
      },
    };
  });
}

class PairBuffer {
  a = new Int32Array(1024);
  b = new Int32Array(1024);
  count = 0;

  push(i: number, j: number): void {
    if (this.count === this.a.length) {
      const a = new Int32Array(this.a.length * 2);
      const b = new Int32Array(this.b.length * 2);
      a.set(this.a);
      b.set(this.b);
      this.a = a;
      this.b = b;
    }
    this.a[this.count] = i;
    this.b[this.count] = j;
    this.count++;
  }
}

/**
 * Candidate pairs: the union, without duplicates, of all pairs of records sharing a
 * blocking key under any rule. Blocks larger than the rule's cap are skipped and counted.
 * Deterministic: pairs are emitted rule by rule, block by block in first-seen order.
 */
export function generateCandidatePairs(
  records: MatchRecord[],
  config: Pick<MatchingConfig, 'blocking' | 'maxBlockSize'>,
): CandidatePairs {
  const rules = compileBlockingRules(config);
  const keys: Array<Array<string | null>> = rules.map((r) => records.map((rec) => r.keyOf(rec)));
  const skippedKeys: Array<Set<string>> = rules.map(() => new Set<string>());
  const out = new PairBuffer();
  const stats: BlockingRuleStats[] = [];
  let skippedBlocks = 0;

  for (let r = 0; r < rules.length; r++) {
    const rk = keys[r];
    const blocks = new Map<string, number[]>();
    for (let i = 0; i < rk.length; i++) {
      const k = rk[i];
      if (k === null) continue;
      const block = blocks.get(k);
      if (block) block.push(i);
      else blocks.set(k, [i]);
    }
    const st: BlockingRuleStats = { rule: rules[r].name, blocks: 0, newPairs: 0, skippedBlocks: 0, skippedRecords: 0 };
    for (const [key, members] of blocks) {
      if (members.length < 2) continue;
      if (members.length > rules[r].maxBlockSize) {
        st.skippedBlocks++;
        st.skippedRecords += members.length;
        skippedKeys[r].add(key);
        continue;
      }
      st.blocks++;
      for (let x = 0; x < members.length; x++) {
        const i = members[x];
        for (let y = x + 1; y < members.length; y++) {
          const j = members[y];
          let seen = false;
          for (let e = 0; e < r; e++) {
            const ki = keys[e][i];
            if (ki !== null && ki === keys[e][j] && !skippedKeys[e].has(ki)) {
              seen = true;
              break;
            }
          }
          if (seen) continue;
          out.push(i < j ? i : j, i < j ? j : i);
          st.newPairs++;
        }
      }
    }
    skippedBlocks += st.skippedBlocks;
    stats.push(st);
  }
  return { a: out.a.subarray(0, out.count), b: out.b.subarray(0, out.count), count: out.count, skippedBlocks, rules: stats };
}
