/** Probability helpers shared by the estimators. */

/** Clamps a probability into [epsilon, 1 - epsilon]. */
export function clampProbability(p: number, epsilon: number): number {
  if (!Number.isFinite(p)) return epsilon;
  return Math.min(1 - epsilon, Math.max(epsilon, p));
}

/** Clamps every entry, then renormalises the distribution to sum to 1. */
export function clampDistribution(values: number[], epsilon: number): number[] {
  const clamped = values.map((v) => clampProbability(v, epsilon));
  const sum = clamped.reduce((s, v) => s + v, 0);
  return clamped.map((v) => clampProbability(v / sum, epsilon));
}

/** Default m initialisation: 90 % of the mass on the agreeing levels (halving per level), 10 % on "else". */
export function initialM(levels: number): number[] {
  if (levels <= 1) return [1];
  const agreeing = levels - 1;
  const raw = Array.from({ length: agreeing }, (_, l) => Math.pow(2, -l));
  const sum = raw.reduce((s, v) => s + v, 0);
  return [...raw.map((v) => (0.9 * v) / sum), 0.1];
}
