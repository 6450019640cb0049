/**
 * The two lexicon baselines, as published packages compute them: VADER (`vader-sentiment`, compound -1..1) and
 * AFINN-165 (`sentiment`, comparative score). Both are explainable by construction; VADER's explanation is the
 * change of its compound when each lexicon phrase (a word with its negation and intensifier) is left out.
 */
import Sentiment from 'sentiment';
import { BOOSTERS, NEGATIONS, loadVaderLexicon } from './lexicon';
import type { Contribution } from './logistic.model';

// vader-sentiment ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const vader = require('vader-sentiment') as {
  SentimentIntensityAnalyzer: { polarity_scores(text: string): { compound: number; pos: number; neg: number; neu: number } };
};

/** VADER's compound score (-1..1) of a text. */
export function vaderCompound(text: string): number {
  return vader.SentimentIntensityAnalyzer.polarity_scores(text).compound;
}

/**
 * VADER's compound with the phrases that moved it: each lexicon word, with the negation within three words before it
 * and the intensifier right before it, weighed by how much the compound changes when the phrase is left out.
 */
export function explainVader(text: string, limit = 8): { compound: number; contributions: Contribution[] } {
  const compound = vaderCompound(text);
  const lexicon = loadVaderLexicon();
  const words = text.split(/\s+/).filter(Boolean).slice(0, 200);
  const bare = words.map((w) => w.toLowerCase().replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}']+$/gu, ''));
  const contributions: Contribution[] = [];
  bare.forEach((w, i) => {
    if (!lexicon.has(w) || NEGATIONS.has(w.replace("'", ''))) return;
    const parts = [i];
    const boosted = i > 0 && BOOSTERS.has(bare[i - 1]!);
    if (boosted) parts.unshift(i - 1);
    let negated = false;
    for (let j = Math.max(0, i - 3); j < i; j++) {
      const b = bare[j]!.replace("'", '');
      if (NEGATIONS.has(b) || bare[j]!.endsWith("n't")) {
        if (!parts.includes(j)) parts.unshift(j);
        negated = true;
        break;
      }
    }
    parts.sort((a, b) => a - b);
    const without = words.filter((_w, k) => !parts.includes(k)).join(' ');
    const weight = compound - vaderCompound(without);
    if (Math.abs(weight) > 1e-6) {
      contributions.push({ phrase: parts.map((k) => bare[k]).join(' '), weight: Math.round(weight * 1000) / 1000, negated, intensified: boosted });
    }
  });
  contributions.sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
  return { compound, contributions: contributions.slice(0, limit) };
}

const afinn = new Sentiment();

/** AFINN-165 comparative score (sum of word valences over the number of words). */
export function afinnScore(text: string): number {
  return afinn.analyze(text).comparative;
}
