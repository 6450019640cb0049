#!/usr/bin/env node
/**
 * Offline evaluation of the recommendation models on MovieLens.
 *
 *   npx tsc -b packages/plugins/recommendations
 *   node packages/plugins/recommendations/dist/eval/eval-recs.cli.js [--ratings <file>] [--seed 42] [--json]
 *       [--models most-popular,item-knn,ease,mult-dae] [--backend wasm,cpu]
 *       [--similar [--movies <movies.csv>] [--similar-seeds 1]]
 *
 * `--similar` adds the item-to-item evaluation of `similarItems` (src/eval/similar-items.ts: the
 * plugin's own ranking function, with and without the places kept for unlearned items); `--models=`
 * (empty) skips the user-recommendation models.
 * Progress goes to stderr; with --json the LAST stdout line is one JSON object with every figure.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { initTensorflow, type TfBackendName } from '../models/tensorflow';
import { DEFAULT_EASE } from '../plugin/options';
import { NEW_ITEM_SLOTS } from '../plugin/ranking';
import { defaultModelSpecs, runEvaluation, type ModelResult } from './evaluate';
import { loadMovieLens, loadMovies } from './movielens.loader';
import { runSimilarItemsEvaluation, type SimilarItemsComparison, type SimilarItemsReport } from './similar-items';

const DEFAULT_RATINGS = path.resolve(__dirname, '../../../../../data/movielens-latest-small/ratings.csv');
const MOVIES_NEXT_TO = (ratings: string) => path.join(path.dirname(ratings), 'movies.csv');
const K = 10;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ratings: { type: 'string', default: DEFAULT_RATINGS },
      seed: { type: 'string', default: '42' },
      json: { type: 'boolean', default: false },
      models: { type: 'string' },
      backend: { type: 'string' },
      similar: { type: 'boolean', default: false },
      movies: { type: 'string' },
      'similar-seeds': { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: eval-recs [--ratings <file>] [--seed <n>] [--json] [--models a,b] [--backend wasm,cpu] [--similar [--movies <file>] [--similar-seeds <n>]]\n',
    );
    return;
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  const seedsPerUser = Number(values['similar-seeds']);
  if (!Number.isInteger(seedsPerUser) || seedsPerUser < 1) throw new Error(`--similar-seeds must be an integer >= 1, got ${values['similar-seeds']}`);
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
  if (values.models !== undefined) {
    const wanted = values.models.split(',').map((s) => s.trim()).filter((s) => s !== '');
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

  const movies = values.similar ? path.resolve(values.movies ?? MOVIES_NEXT_TO(ratings)) : null;
  const similar = movies
    ? await runSimilarItemsEvaluation(matrix, loadMovies(movies), { ease: DEFAULT_EASE, seed, k: K, seedsPerUser, onProgress: (m) => log(`[similarItems] ${m}`) })
    : null;

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
    ...(similar && {
      similarItems: {
        protocol:
          `for every user with held-out items, seed = the user's ${seedsPerUser === 1 ? 'most recent training item' : `${seedsPerUser} most recent training items`} ` +
          `(ties in a seeded order); list = similarItems(first: ${K}) of the seed, computed by rankSimilar of src/plugin/ranking.ts (nothing of the user's is left out, ` +
          `as served); relevance = the user's held-out items; NDCG@${K} and HR@${K} as above, averaged over lists. Model: EASE with the plugin's default ` +
          `options (${JSON.stringify(DEFAULT_EASE)}), fitted on each training part; unlearned = every catalog item outside its learned items. ` +
          `Catalog: ${movies} as bench/recs-serve.bench.mjs loads it (category = first genre, attributes = genres and year)`,
        keptPlaces: { ...NEW_ITEM_SLOTS },
        seedsPerUser,
        random: roundSimilar(similar.random),
        leaveLastOut: roundSimilar(similar.leaveLastOut),
      },
    }),
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
      ...(rows.length
        ? [
            'random 80/20 per user: P@10, R@10 (hits/min(10,|test|)), NDCG@10; leave-last-out (LLO): HR@10, NDCG@10',
            line(header),
            line(widths.map((w) => '-'.repeat(w))),
            ...rows.map(line),
          ]
        : []),
      best ? `best: ${best.model}, NDCG@10 ${summary.best?.ndcgRatioVsMostPopular ?? '?'}x most-popular` : '',
      ...(similar ? similarLines(similar) : []),
      '',
    ].join('\n'),
  );
}

function similarLines(c: { random: SimilarItemsComparison; leaveLastOut: SimilarItemsComparison }): string[] {
  const row = (name: string, r: SimilarItemsReport) =>
    `  ${name.padEnd(22)} NDCG@10 ${r.ndcg.toFixed(4)}  HR@10 ${r.hitRate.toFixed(4)}  lists with an unlearned item ${(100 * r.unlearnedExposure).toFixed(1)}% ` +
    `(of learned seeds ${(100 * r.unlearnedExposureLearnedSeeds).toFixed(1)}%)  ` +
    `unlearned per list ${r.unlearnedPerList.toFixed(3)}  unlearned hits ${(100 * r.unlearnedHitRate).toFixed(2)}%`;
  const block = (name: string, x: SimilarItemsComparison) => [
    `similarItems, ${name}: ${x.served.lists} lists (${x.served.learnedSeeds} of learned seeds), ${x.learnedItems} learned of ${x.catalogItems} catalog items`,
    row(`kept places (served)`, x.served),
    row('without kept places', x.withoutKeptPlaces),
    `  NDCG@10 change ${x.ndcgChange >= 0 ? '+' : ''}${x.ndcgChange.toFixed(4)}`,
  ];
  return [...block('random 80/20', c.random), ...block('leave-last-out', c.leaveLastOut)];
}

function roundSimilar(x: SimilarItemsComparison): SimilarItemsComparison {
  const r = (s: SimilarItemsReport): SimilarItemsReport => ({
    lists: s.lists,
    learnedSeeds: s.learnedSeeds,
    ndcg: round4(s.ndcg),
    hitRate: round4(s.hitRate),
    unlearnedExposure: round4(s.unlearnedExposure),
    unlearnedExposureLearnedSeeds: round4(s.unlearnedExposureLearnedSeeds),
    unlearnedPerList: round4(s.unlearnedPerList),
    unlearnedHitRate: round4(s.unlearnedHitRate),
  });
  return { learnedItems: x.learnedItems, catalogItems: x.catalogItems, served: r(x.served), withoutKeptPlaces: r(x.withoutKeptPlaces), ndcgChange: round4(x.ndcgChange) };
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
