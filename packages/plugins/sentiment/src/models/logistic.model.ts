/**
 * Logistic regression over hashed word and bigram features with negation marking, optionally with the lexicon
 * features (then it is the blend of a learned model and VADER/AFINN). Plain TypeScript, seeded, deterministic.
 */
import { seededRandom } from '@rapport/core';
import { BOOSTERS } from './lexicon';
import { LEXICON_FEATURES, LEXICON_FEATURE_NAMES, extractFeatures, type TextFeatures } from './features';
import type { LabelledText } from './labelled-text';

/** Training settings; the defaults are the ones the shipped weights were trained with. */
export interface LogisticTrainOptions {
  /** Hash space 2^bits (default 18). */
  bits?: number;
  /** Use the lexicon features (default true: the blend). */
  lexicon?: boolean;
  /** Passes over the data (default 8). */
  epochs?: number;
  /** AdaGrad learning rate for hashed and lexicon weights (default 0.05). */
  learningRate?: number;
  /** Shuffle seed (default 42). */
  seed?: number;
  /** Weigh classes so both count the same (default true). */
  balanceClasses?: boolean;
}

/** The weights of a trained model as stored in `data/model/*.json`. */
export interface LogisticWeightsFile {
  format: 'rapport-sentiment-lr/1';
  name: string;
  bits: number;
  lexicon: boolean;
  options: Required<LogisticTrainOptions>;
  trainedOn: Array<{ file: string; sha256: string; texts: number }>;
  /** Lexicon feature weights, in {@link LEXICON_FEATURE_NAMES} order. */
  lexiconWeights: number[];
  /** Non-zero hashed weights as [index, weight] pairs (weights rounded to 6 decimals). */
  hashed: Array<[number, number]>;
}

/** One part of a score: a word or phrase and how much it moved the log-odds. */
export interface Contribution {
  /** The words as written (lower case), e.g. `not good`, `extremely slow`. */
  phrase: string;
  /** Change of the log-odds (positive pushes towards positive). */
  weight: number;
  negated: boolean;
  intensified: boolean;
}

const DEFAULTS: Required<LogisticTrainOptions> = {
  bits: 18, lexicon: true, epochs: 8, learningRate: 0.05, seed: 42, balanceClasses: true,
};

/** A trained logistic regression. */
export class LogisticModel {
  private constructor(
    readonly name: string,
    readonly bits: number,
    readonly useLexicon: boolean,
    private readonly weights: Float64Array,
    private readonly lexiconWeights: Float64Array,
  ) {}

  /** Trains on labelled texts (deterministic for the same texts, order and options). */
  static train(name: string, data: readonly LabelledText[], options: LogisticTrainOptions = {}): LogisticModel {
    const o = { ...DEFAULTS, ...options };
    const w = new Float64Array(1 << o.bits);
    const wl = new Float64Array(LEXICON_FEATURES);
    const g2 = new Float64Array(1 << o.bits).fill(1e-8);
    const gl2 = new Float64Array(LEXICON_FEATURES).fill(1e-8);
    const rows = data.map((d) => ({ f: extractFeatures(d.text, o.bits), y: d.label }));
    const positives = rows.filter((r) => r.y === 1).length;
    const negatives = rows.length - positives;
    const weightOf = (y: number) =>
      !o.balanceClasses ? 1 : y === 1 ? rows.length / 2 / Math.max(1, positives) : rows.length / 2 / Math.max(1, negatives);
    const random = seededRandom(o.seed);
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      for (let i = rows.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        const tmp = rows[i]!;
        rows[i] = rows[j]!;
        rows[j] = tmp;
      }
      for (const { f, y } of rows) {
        let z = 0;
        for (const k of f.hashed) z += w[k]!;
        if (o.lexicon) for (let k = 0; k < LEXICON_FEATURES; k++) z += wl[k]! * f.lexicon[k]!;
        else z += wl[LEXICON_FEATURES - 1]!; // intercept only
        const g = (1 / (1 + Math.exp(-z)) - y) * weightOf(y);
        for (const k of f.hashed) {
          g2[k]! += g * g;
          w[k]! -= (o.learningRate * g) / Math.sqrt(g2[k]!);
        }
        for (let k = o.lexicon ? 0 : LEXICON_FEATURES - 1; k < LEXICON_FEATURES; k++) {
          const gg = g * f.lexicon[k]!;
          gl2[k]! += gg * gg;
          wl[k]! -= (o.learningRate * gg) / Math.sqrt(gl2[k]!);
        }
      }
    }
    return new LogisticModel(name, o.bits, o.lexicon, w, wl);
  }

  /** Loads weights written by {@link LogisticModel.toFile}. */
  static fromFile(file: LogisticWeightsFile): LogisticModel {
    if (file.format !== 'rapport-sentiment-lr/1') throw new Error(`unknown weights format ${String(file.format)}`);
    const w = new Float64Array(1 << file.bits);
    for (const [i, v] of file.hashed) w[i] = v;
    return new LogisticModel(file.name, file.bits, file.lexicon, w, Float64Array.from(file.lexiconWeights));
  }

  /** The weights as a file (non-zero hashed weights only). */
  toFile(options: LogisticTrainOptions, trainedOn: LogisticWeightsFile['trainedOn']): LogisticWeightsFile {
    const hashed: Array<[number, number]> = [];
    const round = (v: number) => Math.round(v * 1e6) / 1e6;
    this.weights.forEach((v, i) => {
      if (round(v) !== 0) hashed.push([i, round(v)]);
    });
    return {
      format: 'rapport-sentiment-lr/1',
      name: this.name,
      bits: this.bits,
      lexicon: this.useLexicon,
      options: { ...DEFAULTS, ...options },
      trainedOn,
      lexiconWeights: Array.from(this.lexiconWeights, round),
      hashed,
    };
  }

  /** Log-odds of the text being positive (the text must be normalised). */
  logit(text: string): number {
    return this.logitOf(extractFeatures(text, this.bits));
  }

  private logitOf(f: TextFeatures): number {
    let z = 0;
    for (const k of f.hashed) z += this.weights[k]!;
    if (this.useLexicon) for (let k = 0; k < LEXICON_FEATURES; k++) z += this.lexiconWeights[k]! * f.lexicon[k]!;
    else z += this.lexiconWeights[LEXICON_FEATURES - 1]!;
    return z;
  }

  /**
   * The log-odds and the words that moved them: each token's unigram weight, half of each bigram it is part of,
   * and its share of the lexicon features (linear ones exactly, the two compound features in proportion to its
   * valence). A negated word is reported with its negation (`not good`), a boosted one with its intensifier.
   */
  explain(text: string): { logit: number; intercept: number; contributions: Contribution[] } {
    const f = extractFeatures(text, this.bits, true);
    const trace = f.trace ?? [];
    const logit = this.logitOf(f);
    const wl = this.lexiconWeights;
    const vaderSum = trace.reduce((s, t) => s + t.vader, 0);
    const afinnSum = trace.reduce((s, t) => s + t.afinn, 0);
    const contributions: Contribution[] = [];
    trace.forEach((t, i) => {
      let weight = this.weights[t.unigram]! + this.weights[t.bigram]! / 2;
      const next = trace[i + 1];
      if (next) weight += this.weights[next.bigram]! / 2;
      if (this.useLexicon) {
        weight += (t.vader > 0 ? wl[0]! : wl[1]!) * (t.vader / 4) + (wl[2]! * t.afinn) / 8;
        if (vaderSum !== 0) weight += wl[3]! * f.lexicon[3]! * (t.vader / vaderSum);
        if (afinnSum !== 0) weight += wl[4]! * f.lexicon[4]! * (t.afinn / afinnSum);
      }
      const words = [t.token];
      if (t.boostedBy !== undefined) words.unshift(trace[t.boostedBy]?.token ?? '');
      if (t.negatedBy !== undefined) words.unshift(trace[t.negatedBy]?.token ?? 'not');
      contributions.push({
        phrase: words.filter(Boolean).join(' '),
        weight,
        negated: t.negatedBy !== undefined,
        intensified: t.boostedBy !== undefined,
      });
    });
    foldIntensifiers(trace, contributions);
    const explained = contributions.reduce((s, c) => s + c.weight, 0);
    return { logit, intercept: logit - explained, contributions };
  }

  /** Names of the lexicon features with their weights (for the docs and the eval output). */
  lexiconWeightTable(): Record<string, number> {
    return Object.fromEntries(LEXICON_FEATURE_NAMES.map((n, i) => [n, this.lexiconWeights[i]!]));
  }
}

/**
 * An intensifier is reported with the word it intensifies, its own weight included: "extremely slow" is one
 * phrase even when no lexicon knows "slow" (the lexicon features mark only lexicon words as boosted). A
 * negation before the intensifier stays in front ("not very good"). Mutates `contributions` in place.
 */
function foldIntensifiers(trace: ReadonlyArray<{ token: string }>, contributions: Contribution[]): void {
  for (let i = contributions.length - 2; i >= 0; i--) {
    const word = trace[i]!.token.toLowerCase();
    if (!BOOSTERS.has(word)) continue;
    const next = contributions[i + 1]!;
    const pair = `${trace[i]!.token} ${trace[i + 1]!.token}`;
    const folded = next.phrase.includes(pair) ? next.phrase : next.phrase.replace(trace[i + 1]!.token, pair);
    contributions[i + 1] = { ...next, phrase: folded, weight: next.weight + contributions[i]!.weight, intensified: true };
    contributions.splice(i, 1);
  }
}
