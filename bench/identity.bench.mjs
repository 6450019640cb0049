// Identity resolution on FEBRL through the public ingestion path: pairwise precision, recall, F1,
// candidate pairs and seconds from the first ingested record to the last merge, for dataset2
// (5,000 records) and dataset4a+4b (10,000 records), with the default thresholds.
// Usage: npm run build && node bench/identity.bench.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine } from './lib/machine.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EVAL = path.join(ROOT, 'packages/server/dist/eval/eval-identity.cli.js');
const runs = [
  ['dataset2', ['data/febrl/dataset2.csv']],
  ['dataset4a+4b', ['data/febrl/dataset4a.csv', 'data/febrl/dataset4b.csv']],
];
const rows = [];
// The default (a pair whose first and last names both disagree goes to review, not auto-merge),
// then without that veto.
for (const variant of [[], ['--no-vetoes']]) {
  for (const [name, files] of runs) {
    const out = execFileSync('node', [EVAL, ...files.map((f) => path.join(ROOT, f)), '--json', ...variant], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } });
    const r = JSON.parse(out.trim().split('\n').at(-1));
    rows.push({ dataset: name, variant: variant.length ? 'no vetoes' : 'default', ...r });
    console.error(`${name} (${variant.length ? 'no vetoes' : 'default'}): F1 ${r.f1} (P ${r.precision}, R ${r.recall}), ${r.candidatePairs} pairs, ${r.merged} merged, ${r.queuedForReview} to review, ${r.seconds.total} s`);
  }
}
const result = { bench: 'identity', date: new Date().toISOString(), machine: machine(), database: process.env.DATABASE_URL ? 'external' : 'embedded', rows };
fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench/results/identity.json'), JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));
