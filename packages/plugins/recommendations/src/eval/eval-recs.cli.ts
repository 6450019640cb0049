#!/usr/bin/env node
/**
 * Offline evaluation of the recommendation models on MovieLens.
 *
 *   npx tsc -b packages/plugins/recommendations
 *   node packages/plugins/recommendations/dist/eval/eval-recs.cli.js [--ratings <file>] [--seed 42] [--json]
 *       [--models most-popular,item-knn,ease,mult-dae] [--backend wasm,cpu]
 *
 * Progress goes to stderr; with --json the LAST stdout line is one JSON object with every figure.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { initTensorflow, type TfBackendName } from '../models/tensorflow';
import { defaultModelSpecs, runEvaluation, type ModelResult } from './evaluate';
import { loadMovieLens } from './movielens.loader';

const DEFAULT_RATINGS = path.resolve(__dirname, '../../../../../data/movielens-latest-small/ratings.csv');
const K = 10;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ratings: { type: 'string', default: DEFAULT_RATINGS },
      seed: { type: 'string', default: '42' },
      json: { type: 'boolean', default: false },
      models: { type: 'string' },
      backend: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: eval-recs [--ratings <file>] [--seed <n>] [--json] [--models a,b] [--backend wasm,cpu]\n');
    return;
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  const log = (msg: string) => process.stderr.write(`${msg}\n`);

  const prefer = values.backend?.split(',').map((s) => s.trim() as TfBackendName);
  const tfHandle = await initTensorflow({
    ...(prefer ? { prefer } : {}),
    logger: { info: (o, m) => log(`[tf] ${m ?? ''} ${JSON.stringify(o)}`), warn: (o, m) => log(`[tf] WARN ${m ?? ''} ${JSON.stringify(o)}`) },
  });

  const ratings = path.resolve(values.ratings!);
  const { matrix, format } = loadMovieLens(ratings);
  log(`loaded ${ratings} (${format}): ${matrix.numUsers} users, ${matrix.numItems} items, ${matrix.nnz} interactions`);

  let specs = defaultModelSpecs(seed);
  if (values.models) {
    const wanted = values.models.split(',').map((s) => s.trim());
    const unknown = wanted.filter((w) => !specs.some((s) => s.name === w));
    if (unknown.length > 0) throw new Error(`unknown model(s): ${unknown.join(', ')}`);
    specs = specs.filter((s) => wanted.includes(s.name));
  }

  const results = await runEvaluation(matrix, specs, {
    seed,
    k: K,
    onProgress: (p) => {
      if (p.message) log(`[${p.model}] ${p.message}`);
      else if (p.epoch !== undefined && (p.epoch + 1) % 10 === 0) log(`[${p.model}] epoch ${p.epoch + 1} loss ${p.loss?.toFixed(3)}`);
    },
  });

  const popular = results.find((r) => r.model === 'most-popular');
  const best = results.filter((r) => r.model !== 'most-popular').sort((a, b) => b.random.ndcg - a.random.ndcg)[0];
  const summary = {
    dataset: { file: ratings, format, users: matrix.numUsers, items: matrix.numItems, interactions: matrix.nnz },
    seed,
    k: K,
    backend: tfHandle.backend,
    ...(tfHandle.reason ? { backendReason: tfHandle.reason } : {}),
    cpus: os.cpus().length,
    protocols: {
      random:
        'per-user seeded random 80/20 hold-out (users with <5 interactions train only); all items outside the user training history are ranked; ' +
        'Precision@10 = hits/10, Recall@10 = hits/min(10,|test|), NDCG@10 binary with ideal = min(10,|test|) hits',
      leaveLastOut: 'latest interaction per user held out (ties broken by the seed); HR@10 and NDCG@10 over all items outside the training history',
    },
    models: results.map(round),
    best: best && {
      model: best.model,
      ndcgRandom: round4(best.random.ndcg),
      ndcgRatioVsMostPopular: popular && popular.random.ndcg > 0 ? round4(best.random.ndcg / popular.random.ndcg) : null,
      trainSeconds: round4(best.trainSeconds.random),
    },
  };

  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const header = ['model', 'P@10', 'R@10', 'NDCG@10', 'HR@10 (LLO)', 'NDCG@10 (LLO)', 'train s (80/20)', 'train s (LLO)'];
  const rows = results.map((r) => [
    r.model,
    r.random.precision.toFixed(4),
    r.random.recall.toFixed(4),
    r.random.ndcg.toFixed(4),
    r.leaveLastOut.hitRate.toFixed(4),
    r.leaveLastOut.ndcg.toFixed(4),
    r.trainSeconds.random.toFixed(1),
    r.trainSeconds.leaveLastOut.toFixed(1),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((s, c) => (c === 0 ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join('  ');
  process.stdout.write(
    [
      `MovieLens ${path.basename(ratings)}: ${matrix.numUsers} users, ${matrix.numItems} items, ${matrix.nnz} interactions; seed ${seed}; tf backend ${tfHandle.backend}; ${os.cpus().length} CPUs`,
      'random 80/20 per user: P@10, R@10 (hits/min(10,|test|)), NDCG@10; leave-last-out (LLO): HR@10, NDCG@10',
      line(header),
      line(widths.map((w) => '-'.repeat(w))),
      ...rows.map(line),
      best ? `best: ${best.model}, NDCG@10 ${summary.best?.ndcgRatioVsMostPopular ?? '?'}x most-popular` : '',
      '',
    ].join('\n'),
  );
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

function round(r: ModelResult): ModelResult {
  return {
    model: r.model,
    random: { precision: round4(r.random.precision), recall: round4(r.random.recall), ndcg: round4(r.random.ndcg), users: r.random.users },
    leaveLastOut: { hitRate: round4(r.leaveLastOut.hitRate), ndcg: round4(r.leaveLastOut.ndcg), users: r.leaveLastOut.users },
    trainSeconds: { random: round4(r.trainSeconds.random), leaveLastOut: round4(r.trainSeconds.leaveLastOut) },
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
