#!/usr/bin/env node
/**
 * Trains the shipped sentiment weights from the bundled data, deterministically (seeded shuffle, fixed order).
 *
 *   npm run train:sentiment            # writes data/model/sentiment-lr-{blend,ngram}.json
 *   npm run train:sentiment -- --check # retrains in memory and fails if the committed files differ
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { LogisticModel } from '../models/logistic.model';
import { DATA_DIR, TRAINED_MODELS, loadTrainingFiles, trainingTexts } from './training-set';

function main(): void {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  const files = loadTrainingFiles();
  const texts = trainingTexts(files);
  const trainedOn = files.map((f) => ({ file: f.file, sha256: f.sha256, texts: f.texts.length }));
  let differs = false;
  for (const spec of Object.values(TRAINED_MODELS)) {
    const t0 = performance.now();
    const model = LogisticModel.train(spec.name, texts, spec.options);
    const json = `${JSON.stringify(model.toFile(spec.options, trainedOn))}\n`;
    const out = path.join(DATA_DIR, spec.file);
    if (values.check) {
      const same = fs.existsSync(out) && fs.readFileSync(out, 'utf8') === json;
      process.stderr.write(`${spec.name}: ${same ? 'identical to' : 'DIFFERS from'} ${out}\n`);
      differs ||= !same;
    } else {
      fs.writeFileSync(out, json);
      process.stderr.write(`${spec.name}: ${texts.length} texts, ${(performance.now() - t0).toFixed(0)} ms -> ${out} (${json.length} bytes)\n`);
    }
  }
  if (differs) process.exitCode = 1;
}

main();
