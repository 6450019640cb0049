/**
 * The served analysis: normalise, check the language, score with the shipped blend, explain.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { explainVader } from './baseline.models';
import { detectLanguage } from './language';
import { LogisticModel, type LogisticWeightsFile } from './logistic.model';
import { normalizeText, MAX_ANALYSED_CHARS } from './text';

/** The name of the model the plugin serves (the blend: logistic regression with lexicon features). */
export const SERVED_MODEL = 'rapport-lr-blend-v1';
/** Where the served weights live (in the package, beside `dist/` and `src/`). */
export const SERVED_WEIGHTS_FILE = path.resolve(__dirname, '../../data/model/sentiment-lr-blend.json');

/** `positive`, `neutral`, `negative`, or `unsupported` (not English: never guessed). */
export type SentimentLabel = 'positive' | 'neutral' | 'negative' | 'unsupported';

/** One word or phrase that moved a score. */
export interface ExplanationTerm {
  phrase: string;
  /** How much it moved the log-odds of "positive" (negative values pull towards negative). */
  weight: number;
  negated: boolean;
  intensified: boolean;
}

/** The analysis of one text. */
export interface SentimentResult {
  /** -1..1 (2 p - 1, p the model's probability of positive); 0 when unsupported or empty. */
  polarity: number;
  label: SentimentLabel;
  /** 0..1: how sure the model is of the label (max(p, 1 - p)); 0 when unsupported or empty. */
  confidence: number;
  /** The words that moved the score most, strongest first (at most 8). */
  explanation: ExplanationTerm[];
  model: string;
  /** tinyld's guess when the text is not English, else `en` (or `und` with no letters). */
  language: string;
  /** True when only the first {@link MAX_ANALYSED_CHARS} characters were analysed. */
  truncated: boolean;
  /** Why the result is what it is when it is not a plain score: `empty`, `no-words`, `binary`, `not-english`. */
  reason?: string;
}

/** Below this |polarity| a text is `neutral` (p within 0.5 +- 0.15). */
export const NEUTRAL_BAND = 0.3;

let served: LogisticModel | undefined;

/** The served model, loaded once from {@link SERVED_WEIGHTS_FILE}. */
export function servedModel(): LogisticModel {
  served ??= LogisticModel.fromFile(JSON.parse(fs.readFileSync(SERVED_WEIGHTS_FILE, 'utf8')) as LogisticWeightsFile);
  return served;
}

/** The name `analyzeText` gives VADER's scores. */
export const VADER_MODEL = 'vader-sentiment-1.1.3';

/**
 * Analyses a text with the served model, or with the VADER baseline (`'vader'`: polarity is VADER's compound, the
 * label uses VADER's own cut-offs of +-0.05, confidence is |compound|). Never throws on odd input; the result says
 * what happened.
 */
export function analyzeText(raw: string, model: LogisticModel | 'vader' = servedModel()): SentimentResult {
  if (model === 'vader') return analyzeWithVader(raw);
  const n = normalizeText(raw);
  const base = { model: model.name, truncated: n.truncated };
  const none = (reason: string, language: string, label: SentimentLabel = 'neutral'): SentimentResult => ({
    ...base, polarity: 0, label, confidence: 0, explanation: [], language, reason,
  });
  if (n.junkRatio > 0.1) return none('binary', 'und', 'unsupported');
  if (n.text.length === 0) return none('empty', 'und');
  const lang = detectLanguage(n.text);
  if (!lang.english) return none('not-english', lang.detected, 'unsupported');
  const { logit, contributions } = model.explain(n.text);
  if (contributions.length === 0) return none('no-words', lang.detected === 'und' ? 'und' : 'en');
  const p = 1 / (1 + Math.exp(-logit));
  const polarity = 2 * p - 1;
  const label: SentimentLabel = Math.abs(polarity) < NEUTRAL_BAND ? 'neutral' : polarity > 0 ? 'positive' : 'negative';
  // Merge repeats of the same phrase and keep the strongest.
  const merged = new Map<string, ExplanationTerm>();
  for (const c of contributions) {
    const m = merged.get(c.phrase);
    if (m) m.weight += c.weight;
    else merged.set(c.phrase, { ...c });
  }
  const explanation = [...merged.values()]
    .filter((c) => Math.abs(c.weight) >= 0.05)
    .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight))
    .slice(0, 8)
    .map((c) => ({ ...c, weight: Math.round(c.weight * 1000) / 1000 }));
  return {
    ...base,
    polarity: Math.round(polarity * 1e4) / 1e4,
    label,
    confidence: Math.round(Math.max(p, 1 - p) * 1e4) / 1e4,
    explanation,
    language: lang.detected === 'und' ? 'und' : 'en',
  };
}

function analyzeWithVader(raw: string): SentimentResult {
  const n = normalizeText(raw);
  const base = { model: VADER_MODEL, truncated: n.truncated, explanation: [] as ExplanationTerm[], polarity: 0, confidence: 0 };
  if (n.junkRatio > 0.1) return { ...base, label: 'unsupported', language: 'und', reason: 'binary' };
  if (n.text.length === 0) return { ...base, label: 'neutral', language: 'und', reason: 'empty' };
  const lang = detectLanguage(n.text);
  if (!lang.english) return { ...base, label: 'unsupported', language: lang.detected, reason: 'not-english' };
  const { compound, contributions } = explainVader(n.text);
  const label: SentimentLabel = compound >= 0.05 ? 'positive' : compound <= -0.05 ? 'negative' : 'neutral';
  return {
    ...base,
    polarity: Math.round(compound * 1e4) / 1e4,
    label,
    confidence: Math.round(Math.abs(compound) * 1e4) / 1e4,
    explanation: contributions,
    language: lang.detected === 'und' ? 'und' : 'en',
  };
}
