import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../src/eval/evaluate';
import { DATA_DIR } from '../src/eval/training-set';

describe('eval:sentiment', () => {
  it('never scores a trained model on a file it was trained on: it retrains without the file and says so', () => {
    const s = evaluate([path.join(DATA_DIR, 'uci/yelp_labelled.txt')], { models: ['afinn', 'lr-blend'] });
    expect(s.served).toEqual({ model: 'lr-blend', name: 'rapport-lr-blend-v1' });
    const [file] = s.files;
    expect(file!.format).toBe('uci');
    const blend = file!.models.find((m) => m.model === 'lr-blend')!;
    expect(blend.protocol).toBe('retrained-without-file');
    expect(blend.trainedOn).not.toContain('uci/yelp_labelled.txt');
    expect(blend.trainedOn).toContain('uci/amazon_cells_labelled.txt');
    expect(blend.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(file!.models.find((m) => m.model === 'afinn')).toMatchObject({ protocol: 'none', accuracy: 0.696 });
  });

  it('removes single shared texts from the fold of another file (the Amazon sentence in both Amazon files)', () => {
    const s = evaluate([path.join(DATA_DIR, 'uci/amazon_cells_labelled.txt')], { models: ['lr-blend'] });
    expect(s.files[0]!.models[0]!.trainedOn).toEqual([
      'uci/yelp_labelled.txt', 'vader/amazonReviewSnippets_GroundTruth.txt', 'vader/tweets_GroundTruth.txt', 'minus 1 text(s) also in the evaluated file',
    ]);
  });

  it('scores a file the model never saw with the shipped weights, in either format, and refuses a wrong format', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-sentiment-'));
    const uci = path.join(dir, 'unseen.txt');
    fs.writeFileSync(uci, 'A gripping, beautifully acted film.\t1\nThe plot is a tedious mess.\t0\nA charming and funny little movie.\t1\nThe dialogue is clumsy and the pacing drags.\t0\n');
    const vader = path.join(dir, 'unseen-gold.txt');
    fs.writeFileSync(vader, '1\t2.5\tWonderful service, thank you!\n2\t0\tIt is a phone.\n3\t-3.1\tAwful, it broke in a day.\n');
    const s = evaluate([uci, vader], { models: ['lr-blend'] });
    expect(s.files.map((f) => [f.format, f.texts, f.models[0]!.protocol])).toEqual([['uci', 4, 'shipped'], ['vader', 2, 'shipped']]);
    expect(s.files[1]!.skipped.neutral).toBe(1);
    expect(() => evaluate([uci], { format: 'vader', models: ['lr-blend'] })).toThrow(/no labelled text read as vader/);
  });
});
