/**
 * The evaluation behind `npm run eval:sentiment` (see eval-sentiment.cli.ts for the protocol).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SERVED_MODEL, servedModel } from '../models/analyzer';
import { afinnScore, vaderCompound } from '../models/baseline.models';
import { detectLanguage } from '../models/language';
import { LogisticModel, type LogisticWeightsFile } from '../models/logistic.model';
import { normalizeText } from '../models/text';
import { loadLabelledFile, type LabelledFile, type LabelledFormat } from './labelled-file.loader';
import { accuracy, f1, rocAuc } from './metrics';
import { DATA_DIR, TRAINED_MODELS, TRAINING_FILES, loadTrainingFiles, trainingTexts } from './training-set';

export const ALL_MODELS = ['vader', 'afinn', 'lr-ngram', 'lr-blend'] as const;
export type ModelKey = (typeof ALL_MODELS)[number];

/** The figures of one model on one file. */
export interface ModelFigures {
  model: ModelKey;
  name: string;
  /** `none` (not trained), `shipped` (the committed weights) or `retrained-without-file` (leave-one-file-out). */
  protocol: 'none' | 'shipped' | 'retrained-without-file';
  trainedOn?: string[];
  accuracy: number;
  f1: number;
  rocAuc: number;
  msPer1000: number;
}

/** The figures of one file. */
export interface FileFigures {
  file: string;
  format: LabelledFormat;
  texts: number;
  skipped: LabelledFile['skipped'];
  /** Share of the texts the language rule calls not English. */
  notEnglishRate: number;
  languageMsPer1000: number;
  models: ModelFigures[];
}

/** The whole evaluation (what `--json` prints). */
export interface EvaluationSummary {
  served: { model: ModelKey; name: string };
  threshold: string;
  files: FileFigures[];
}

function timeScores(texts: readonly string[], score: (t: string) => number): { scores: number[]; msPer1000: number } {
  // One warm-up pass over a prefix so the JIT does not bill its compile time to the first model.
  for (const t of texts.slice(0, 200)) score(t);
  const t0 = performance.now();
  const scores = texts.map(score);
  return { scores, msPer1000: ((performance.now() - t0) / Math.max(1, texts.length)) * 1000 };
}

const round = (v: number) => Math.round(v * 10000) / 10000;

/** Evaluates `models` on labelled files (the bundled training files when `paths` is empty). */
export function evaluate(
  paths: readonly string[],
  options: { format?: LabelledFormat; models?: readonly ModelKey[]; log?: (line: string) => void } = {},
): EvaluationSummary {
  const format = options.format;
  const models = options.models ?? ALL_MODELS;
  const log = options.log ?? (() => undefined);
  const files = paths.length > 0 ? paths.map((p) => path.resolve(p)) : TRAINING_FILES.map((f) => path.join(DATA_DIR, f));
  const training = loadTrainingFiles();
  const trainingTextSets = training.map((f) => new Set(f.texts.map((t) => t.text.trim())));
  const shipped = new Map<ModelKey, LogisticModel>();
  for (const key of ['lr-ngram', 'lr-blend'] as const) {
    const file = JSON.parse(fs.readFileSync(path.join(DATA_DIR, TRAINED_MODELS[key].file), 'utf8')) as LogisticWeightsFile;
    shipped.set(key, key === 'lr-blend' ? servedModel() : LogisticModel.fromFile(file));
  }

  const results: FileFigures[] = [];
  for (const file of files) {
    const data = loadLabelledFile(file, format);
    if (data.texts.length === 0) {
      throw new Error(`${file}: no labelled text read as ${data.format} (${data.skipped.malformed} malformed, ${data.skipped.neutral} neutral lines); check --format`);
    }
    const texts = data.texts.map((t) => normalizeText(t.text).text);
    const labels = data.texts.map((t) => t.label);
    const evalSet = new Set(data.texts.map((t) => t.text.trim()));
    // Training files that are this file, or share at least a tenth of its texts, are left out of its fold; the
    // few texts shared with other training files are removed from the fold one by one.
    const shared = training.map((_f, i) => [...evalSet].filter((t) => trainingTextSets[i]!.has(t)).length);
    const overlapping = training.filter((f, i) => f.sha256 === data.sha256 || (shared[i]! > 0 && shared[i]! >= evalSet.size / 10));
    const removedTexts = shared.reduce((s, n, i) => s + (overlapping.includes(training[i]!) ? 0 : n), 0);
    const lang = timeScores(texts, (t) => (detectLanguage(t).english ? 0 : 1));
    const notEnglishRate = lang.scores.reduce((s, v) => s + v, 0) / Math.max(1, texts.length);
    log(`${file} (${data.format}): ${texts.length} texts, ${data.skipped.neutral} neutral left out; not-English rate ${(notEnglishRate * 100).toFixed(2)} %`);
    const figures: ModelFigures[] = [];
    for (const key of models) {
      let score: (t: string) => number;
      let protocol: ModelFigures['protocol'] = 'none';
      let trainedOn: string[] | undefined;
      let name: string = key === 'vader' ? 'vader-sentiment 1.1.3 (compound)' : 'sentiment 5.0.2 AFINN-165 (comparative)';
      if (key === 'vader') score = vaderCompound;
      else if (key === 'afinn') score = afinnScore;
      else {
        let model = shipped.get(key)!;
        protocol = 'shipped';
        trainedOn = training.map((f) => f.file);
        if (overlapping.length > 0 || removedTexts > 0) {
          const keep = training.filter((f) => !overlapping.includes(f));
          const fold = trainingTexts(keep).filter((t) => !evalSet.has(t.text.trim()));
          model = LogisticModel.train(`${TRAINED_MODELS[key].name} (fold)`, fold, TRAINED_MODELS[key].options);
          protocol = 'retrained-without-file';
          trainedOn = keep.map((f) => f.file);
          if (removedTexts > 0) trainedOn.push(`minus ${removedTexts} text(s) also in the evaluated file`);
        }
        name = model.name;
        score = (t) => model.logit(t);
      }
      const { scores, msPer1000 } = timeScores(texts, score);
      const fig: ModelFigures = {
        model: key, name, protocol, ...(trainedOn ? { trainedOn } : {}),
        accuracy: round(accuracy(scores, labels)), f1: round(f1(scores, labels)), rocAuc: round(rocAuc(scores, labels)),
        msPer1000: Math.round(msPer1000 * 100) / 100,
      };
      figures.push(fig);
      log(`  ${key.padEnd(9)} acc ${fig.accuracy.toFixed(3)}  F1 ${fig.f1.toFixed(3)}  AUC ${fig.rocAuc.toFixed(3)}  ${fig.msPer1000.toFixed(1)} ms/1k  ${protocol}${trainedOn ? ` [${trainedOn.join(', ')}]` : ''}`);
    }
    results.push({
      file: path.relative(process.cwd(), file), format: data.format, texts: texts.length, skipped: data.skipped,
      notEnglishRate: round(notEnglishRate), languageMsPer1000: Math.round(lang.msPer1000 * 100) / 100, models: figures,
    });
  }
  return { served: { model: 'lr-blend', name: SERVED_MODEL }, threshold: 'score >= 0 counted positive', files: results };
}
