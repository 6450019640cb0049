// Scoring one history against dense EASE weights: float32 rows against int8 rows (one scale per
// row), on WebAssembly SIMD and on the JavaScript fallback. 3,650 x 3,650 weights (the learned
// items of MovieLens-small), histories of 50 to 2,698 items (the heaviest MovieLens-small user),
// 64 different random histories per length so that rows come from main memory as in serving.
// Usage: npm run build && node bench/recs-score.bench.mjs   (writes bench/results/recs-score.json)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { machine } from './lib/machine.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { DenseItemWeights } = require(path.join(ROOT, 'packages/plugins/recommendations/dist/models/dense-item-weights.js'));
const { useSimd } = require(path.join(ROOT, 'packages/plugins/recommendations/dist/models/axpy-kernel.js'));

const N = 3650;
const LENGTHS = [50, 165, 600, 2698];
let seed = 42;
const random = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
const weights = Float32Array.from({ length: N * N }, () => (random() - 0.5) * 0.1);
const items = Int32Array.from({ length: N }, (_, i) => i);

function timeIt(table, histories, reps) {
  for (let r = 0; r < Math.min(reps, 64); r++) table.accumulateColumns(histories[r % 64]); // warm-up
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < reps; r++) table.accumulateColumns(histories[r % 64]);
  return Number(process.hrtime.bigint() - t0) / 1e6 / reps;
}

const results = [];
for (const simd of [true, false]) {
  useSimd(simd);
  const tables = { float32: new DenseItemWeights(N, items, weights, 'float32'), int8: new DenseItemWeights(N, items, weights, 'int8') };
  for (const length of LENGTHS) {
    const histories = Array.from({ length: 64 }, () => Array.from({ length }, () => ({ item: Math.floor(random() * N), weight: 1 })));
    const reps = Math.max(simd ? 100 : 20, Math.round((simd ? 200_000 : 20_000) / length));
    const ms = { float32: timeIt(tables.float32, histories, reps), int8: timeIt(tables.int8, histories, reps) };
    results.push({ path: simd ? 'wasm-simd' : 'javascript', historyLength: length, msFloat32: Number(ms.float32.toFixed(4)), msInt8: Number(ms.int8.toFixed(4)), speedup: Number((ms.float32 / ms.int8).toFixed(2)) });
    console.error(`${simd ? 'wasm-simd ' : 'javascript'} history ${String(length).padStart(4)}: float32 ${ms.float32.toFixed(3)} ms, int8 ${ms.int8.toFixed(3)} ms`);
  }
}
useSimd(true);
const result = { bench: 'recs-score', date: new Date().toISOString(), machine: machine(), items: N, results };
fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench/results/recs-score.json'), JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));
