/** Binary classification metrics over scores (higher = more positive) and 0/1 labels. */

/** Accuracy with score >= threshold counted positive. */
export function accuracy(scores: readonly number[], labels: readonly number[], threshold = 0): number {
  let ok = 0;
  scores.forEach((s, i) => {
    if ((s >= threshold ? 1 : 0) === labels[i]) ok++;
  });
  return scores.length === 0 ? 0 : ok / scores.length;
}

/** F1 of the positive class with score >= threshold counted positive. */
export function f1(scores: readonly number[], labels: readonly number[], threshold = 0): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  scores.forEach((s, i) => {
    const p = s >= threshold;
    if (p && labels[i] === 1) tp++;
    else if (p) fp++;
    else if (labels[i] === 1) fn++;
  });
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** ROC-AUC (Mann-Whitney U, ties counted half). */
export function rocAuc(scores: readonly number[], labels: readonly number[]): number {
  const idx = scores.map((s, i) => ({ s, y: labels[i]! })).sort((a, b) => a.s - b.s);
  let rankSum = 0;
  let pos = 0;
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1]!.s === idx[i]!.s) j++;
    const avgRank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) if (idx[k]!.y === 1) {
      rankSum += avgRank;
      pos++;
    }
    i = j + 1;
  }
  const neg = idx.length - pos;
  if (pos === 0 || neg === 0) return Number.NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}
