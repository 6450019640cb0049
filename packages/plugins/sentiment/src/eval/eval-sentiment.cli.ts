#!/usr/bin/env node
/**
 * Evaluation of the sentiment models on labelled sentence files.
 *
 *   npm run eval:sentiment -- [--json] [--format uci|vader] [--models vader,afinn,lr-ngram,lr-blend] [<file>...]
 *
 * With no file, the four bundled files (data/) are evaluated. Per file and model it prints binary accuracy, F1 (of
 * the positive class), ROC-AUC and the scoring time per 1,000 texts; per file also the share of texts the language
 * rule would call not English (all of the bundled data is English, so this is the false-unsupported rate).
 *
 * A trained model is never scored on a file or a text it was trained on: when a file is one of the shipped model's
 * training files (same SHA-256, or a tenth of its texts shared), the model is retrained (same seed and settings) on
 * the other training files,
 * and the output names them (`protocol: "retrained-without-file"`); a text of the evaluated file that also appears in
 * another training file (one Amazon sentence is in both Amazon files) is removed from the fold too. Files with no overlap are scored with the
 * shipped weights (`protocol: "shipped"`). The lexicon baselines are not trained, so `protocol: "none"`.
 * Progress goes to stderr; with --json the LAST stdout line is one JSON object with every figure and `served`.
 */
import { parseArgs } from 'node:util';
import { ALL_MODELS, evaluate, type ModelKey } from './evaluate';
import type { LabelledFormat } from './labelled-file.loader';
import { SERVED_MODEL } from '../models/analyzer';

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      format: { type: 'string' },
      models: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: eval:sentiment [--json] [--format uci|vader] [--models vader,afinn,lr-ngram,lr-blend] [<file>...]\n');
    return;
  }
  if (values.format && values.format !== 'uci' && values.format !== 'vader') {
    throw new Error(`--format must be uci or vader, got ${values.format}`);
  }
  const models = (values.models?.split(',').map((s) => s.trim()) ?? [...ALL_MODELS]) as ModelKey[];
  const unknown = models.filter((m) => !ALL_MODELS.includes(m));
  if (unknown.length > 0) throw new Error(`unknown model(s): ${unknown.join(', ')}; known: ${ALL_MODELS.join(', ')}`);
  const summary = evaluate(positionals, {
    ...(values.format ? { format: values.format as LabelledFormat } : {}),
    models,
    log: (m: string) => process.stderr.write(`${m}\n`),
  });
  const results = summary.files;
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    for (const r of results) {
      process.stdout.write(`\n${r.file} (${r.format}, ${r.texts} texts)\n`);
      for (const m of r.models) {
        process.stdout.write(`  ${m.model.padEnd(9)} accuracy ${m.accuracy.toFixed(3)}  F1 ${m.f1.toFixed(3)}  ROC-AUC ${m.rocAuc.toFixed(3)}  ${m.msPer1000.toFixed(1)} ms/1,000  (${m.protocol})\n`);
      }
    }
    process.stdout.write(`\nserved: ${SERVED_MODEL} (lr-blend)\n`);
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`eval:sentiment: ${(err as Error).message}\n`);
  process.exitCode = 2;
}
