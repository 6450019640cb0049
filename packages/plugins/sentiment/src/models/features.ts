/**
 * Features of the trained model: hashed unigrams and bigrams with negation marking (a word within three words
 * after a negation is read as `NOT_word`), and eight lexicon features (VADER and AFINN valence sums with VADER's
 * negation, intensifier and "but" rules) that let the model generalise past the words it was trained on.
 */
import { BOOSTERS, BOOSTER_STEP, NEGATIONS, NEGATION_SCALAR, loadAfinnLexicon, loadVaderLexicon } from './lexicon';

/** Number of lexicon features. */
export const LEXICON_FEATURES = 8;
/** Names of the lexicon features, in order (the last is the intercept). */
export const LEXICON_FEATURE_NAMES = [
  'vader positive sum', 'vader negative sum', 'afinn sum', 'vader compound', 'afinn compound', 'exclamations',
  'length', 'intercept',
] as const;

const TOKEN = /[a-z0-9]+(?:'[a-z]+)?|[!?.,;:]|\p{Extended_Pictographic}/gu;

/** Splits a normalised text into lower-case tokens (words, clause punctuation, emoji). */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(TOKEN) ?? [];
}

/** FNV-1a of a string, masked to `mask`. */
export function hashFeature(s: string, mask: number): number {
  let x = 2166136261;
  for (let i = 0; i < s.length; i++) {
    x ^= s.charCodeAt(i);
    x = Math.imul(x, 16777619);
  }
  return (x >>> 0) & mask;
}

/** How one token took part in the features; only built when an explanation is wanted. */
export interface TokenTrace {
  /** The token as read (lower case). */
  token: string;
  /** Trace index of the preceding negation word when the token is in its scope. */
  negatedBy?: number;
  /** Trace index of the preceding intensifier or dampener that scaled this token's valence. */
  boostedBy?: number;
  /** Hashed feature indices of its unigram and of the bigram ending at it. */
  unigram: number;
  bigram: number;
  /** VADER valence after the rules (goes into feature 0 or 1), and AFINN valence after negation (feature 2). */
  vader: number;
  afinn: number;
}

/** The features of one text. */
export interface TextFeatures {
  /** Hashed feature indices (two per word: unigram and bigram), each with value 1. */
  hashed: Uint32Array;
  /** {@link LEXICON_FEATURES} real-valued features. */
  lexicon: Float64Array;
  /** Per-token trace, when asked for. */
  trace?: TokenTrace[];
}

/**
 * Extracts the features of a normalised text.
 * @param bits - the hash space is 2^bits
 * @param withTrace - also return how each token contributed (for explanations)
 */
export function extractFeatures(text: string, bits: number, withTrace = false): TextFeatures {
  const vader = loadVaderLexicon();
  const afinn = loadAfinnLexicon();
  const mask = (1 << bits) - 1;
  const tokens = tokenize(text);
  const hashed: number[] = [];
  const lex = new Float64Array(LEXICON_FEATURES);
  const trace: TokenTrace[] | undefined = withTrace ? [] : undefined;
  let negScope = 0;
  let negIndex = -1;
  let prev = '<s>';
  let butSeen = false;
  let wordIndex = -1;
  for (let i = 0; i < tokens.length; i++) {
    const raw = tokens[i]!;
    if (raw.length === 1 && '!?.,;:'.includes(raw)) {
      // Clause punctuation ends a negation's scope ("nothing, this is bad" keeps "bad" negative).
      if (raw === '!') lex[5]! += 1;
      negScope = 0;
      if (raw === '!' || raw === '?') prev = raw;
      continue;
    }
    const t = raw.replace("'", '');
    wordIndex++;
    const isNegation = NEGATIONS.has(t);
    const word = negScope > 0 ? `NOT_${t}` : t;
    const unigram = hashFeature(`u:${word}`, mask);
    const bigram = hashFeature(`b:${prev}_${t}`, mask);
    hashed.push(unigram, bigram);
    let v = vader.get(t);
    const a = afinn.get(t) ?? afinn.get(raw);
    if (v === undefined && a !== undefined) v = a * 0.8;
    let vaderContribution = 0;
    let boostedBy: number | undefined;
    if (v !== undefined && !isNegation) {
      let s = v;
      const booster = i > 0 ? BOOSTERS.get(tokens[i - 1]!) : undefined;
      if (booster) {
        s += Math.sign(v) * BOOSTER_STEP * booster;
        boostedBy = wordIndex - 1;
      }
      if (negScope > 0) s *= NEGATION_SCALAR;
      if (butSeen) s *= 1.5;
      if (s > 0) lex[0]! += s;
      else lex[1]! += s;
      vaderContribution = s;
    }
    const afinnContribution = a === undefined ? 0 : negScope > 0 ? -a : a;
    lex[2]! += afinnContribution;
    if (trace) {
      trace.push({
        token: raw,
        ...(negScope > 0 ? { negatedBy: negIndex } : {}),
        ...(boostedBy !== undefined ? { boostedBy } : {}),
        unigram,
        bigram,
        vader: vaderContribution,
        afinn: afinnContribution,
      });
    }
    if (t === 'but') {
      // VADER: what comes before "but" counts half.
      lex[0]! *= 0.5;
      lex[1]! *= 0.5;
      butSeen = true;
      if (trace) for (const tr of trace) tr.vader *= 0.5;
    }
    if (isNegation) {
      negScope = 3;
      negIndex = wordIndex;
    } else if (negScope > 0) negScope--;
    prev = t;
  }
  const sum = lex[0]! + lex[1]!;
  lex[3] = sum / Math.sqrt(sum * sum + 15);
  lex[4] = lex[2]! / Math.sqrt(lex[2]! * lex[2]! + 10);
  lex[6] = Math.log1p(tokens.length) / 4;
  lex[7] = 1;
  lex[0]! /= 4;
  lex[1]! /= 4;
  lex[2]! /= 8;
  lex[5] = Math.min(lex[5]!, 3) / 3;
  return { hashed: Uint32Array.from(hashed), lexicon: lex, ...(trace ? { trace } : {}) };
}
