import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PERSON_MATCHING_CONFIG,
  combineDatasets,
  countTruePairs,
  loadFebrlCsv,
  matchRecords,
  pairwiseMetrics,
  type LabelledDataset,
} from '../../src/identity/matching';

const DATA = path.resolve(__dirname, '../../../../data/febrl');

function evaluate(name: string, dataset: LabelledDataset) {
  const started = performance.now();
  const result = matchRecords(dataset.records, DEFAULT_PERSON_MATCHING_CONFIG);
  const seconds = (performance.now() - started) / 1000;
  const metrics = pairwiseMetrics(result.clusters, dataset.clusterOf);
  console.log(
    `[febrl ${name}] records=${dataset.records.length} candidatePairs=${result.candidatePairs} ` +
      `precision=${metrics.precision.toFixed(4)} recall=${metrics.recall.toFixed(4)} f1=${metrics.f1.toFixed(4)} ` +
      `(tp=${metrics.truePositives} predicted=${metrics.predictedPairs} true=${metrics.truePairs}) ` +
      `merges=${result.mergeCount} reviews=${result.reviewCount} lambda=${result.model.lambda.toFixed(4)} ` +
      `emIterations=${result.model.stats.emIterations} seconds=${seconds.toFixed(2)}`,
  );
  return { result, metrics, seconds };
}

describe('FEBRL benchmark (blocking + EM + scoring + thresholding, one config)', () => {
  it('dataset2: 5,000 records, 1,934 true pairs, F1 >= 0.95', () => {
    const dataset = loadFebrlCsv(path.join(DATA, 'dataset2.csv'));
    expect(dataset.records).toHaveLength(5000);
    expect(countTruePairs(dataset.clusterOf)).toBe(1934);
    const { metrics } = evaluate('dataset2', dataset);
    expect(metrics.f1).toBeGreaterThanOrEqual(0.95);
  });

  it('dataset4a + dataset4b: 10,000 records, 5,000 true links, F1 >= 0.95', () => {
    const dataset = combineDatasets(
      loadFebrlCsv(path.join(DATA, 'dataset4a.csv')),
      loadFebrlCsv(path.join(DATA, 'dataset4b.csv')),
    );
    expect(dataset.records).toHaveLength(10000);
    expect(countTruePairs(dataset.clusterOf)).toBe(5000);
    const { metrics } = evaluate('dataset4a+4b', dataset);
    expect(metrics.f1).toBeGreaterThanOrEqual(0.95);
  });
});
