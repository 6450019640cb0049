/** Clustering of auto-merge pairs by union-find (connected components). */
import type { MatchThresholds, ScoredPair } from './matching.types';

/** Disjoint-set forest over string ids, with path halving and union by size. */
export class UnionFind {
  private readonly parent = new Map<string, string>();
  private readonly size = new Map<string, number>();

  /** Adds an id as its own singleton set (no-op when present). */
  add(id: string): void {
    if (!this.parent.has(id)) {
      this.parent.set(id, id);
      this.size.set(id, 1);
    }
  }

  /** Representative of the set containing `id` (adds it when unknown). */
  find(id: string): string {
    this.add(id);
    let x = id;
    let p = this.parent.get(x) as string;
    while (p !== x) {
      const gp = this.parent.get(p) as string;
      this.parent.set(x, gp);
      x = gp;
      p = this.parent.get(x) as string;
    }
    return x;
  }

  /** Merges the sets of `a` and `b`; returns false when they were already together. */
  union(a: string, b: string): boolean {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return false;
    const sa = this.size.get(ra) as number;
    const sb = this.size.get(rb) as number;
    if (sa < sb) [ra, rb] = [rb, ra];
    this.parent.set(rb, ra);
    this.size.set(ra, sa + sb);
    return true;
  }

  /** All sets, each sorted, in order of first appearance of their members. */
  groups(): string[][] {
    const byRoot = new Map<string, string[]>();
    for (const id of this.parent.keys()) {
      const r = this.find(id);
      const g = byRoot.get(r);
      if (g) g.push(id);
      else byRoot.set(r, [id]);
    }
    return [...byRoot.values()].map((g) => g.sort());
  }
}

/** Options of `clusterPairs`. */
export interface ClusterOptions {
  /** Ids to include even when they take part in no pair (as singletons). */
  ids?: Iterable<string>;
  /** Return singleton clusters too (default false). */
  includeSingletons?: boolean;
}

/** Connected components of the given pairs (transitive closure), as sorted id lists. */
export function clusterPairs(pairs: Iterable<{ idA: string; idB: string }>, options: ClusterOptions = {}): string[][] {
  const uf = new UnionFind();
  if (options.ids) for (const id of options.ids) uf.add(id);
  for (const p of pairs) uf.union(p.idA, p.idB);
  const groups = uf.groups();
  return options.includeSingletons ? groups : groups.filter((g) => g.length > 1);
}

/** Clusters formed by the pairs whose probability reaches the auto-merge threshold. */
export function clusterAutoMerges(
  pairs: Iterable<ScoredPair>,
  thresholds: Pick<MatchThresholds, 'autoMerge'>,
  options: ClusterOptions = {},
): string[][] {
  const merges: ScoredPair[] = [];
  for (const p of pairs) if (p.probability >= thresholds.autoMerge) merges.push(p);
  return clusterPairs(merges, options);
}
