// Sentiment scoring throughput on one core (one Node thread): the served model (logistic regression blend) alone,
// and the whole analysis the plugin runs per text (clean-up, language rule, score, explanation), over the 9,908
// English sentences of packages/plugins/sentiment/data (1,000 warm-up texts, then 5 passes; the median pass counts).
// Usage: npx tsc -b packages/plugins/sentiment && flock -x /tmp/rapport-bench.lock node bench/sentiment-score.bench.mjs
//        (writes bench/results/sentiment-score.json)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { machine } from './lib/machine.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const dist = path.join(ROOT, 'packages/plugins/sentiment/dist');
const { servedModel, analyzeText, normalizeText, vaderCompound } = require(path.join(dist, 'models/index.js'));
const { loadTrainingFiles } = require(path.join(dist, 'eval/training-set.js'));

const texts = loadTrainingFiles().flatMap((f) => f.texts.map((t) => normalizeText(t.text).text));
const model = servedModel();

function passes(fn, list, n = 5) {
  for (const t of list.slice(0, 1000)) fn(t);
  const rates = [];
  for (let p = 0; p < n; p++) {
    const t0 = process.hrtime.bigint();
    for (const t of list) fn(t);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(list.length / s);
  }
  rates.sort((a, b) => a - b);
  return Math.round(rates[Math.floor(rates.length / 2)]);
}

const result = {
  machine: machine(),
  texts: texts.length,
  meanChars: Math.round(texts.reduce((s, t) => s + t.length, 0) / texts.length),
  modelTextsPerSecond: passes((t) => model.logit(t), texts),
  analyzeTextsPerSecond: passes((t) => analyzeText(t), texts),
  vaderPackageTextsPerSecond: passes((t) => vaderCompound(t), texts.slice(0, 3000), 1),
};
fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench/results/sentiment-score.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
