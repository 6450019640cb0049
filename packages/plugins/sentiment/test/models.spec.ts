import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeText, detectLanguage, explainVader, LogisticModel, MAX_ANALYSED_CHARS, SERVED_MODEL, VADER_MODEL } from '../src';
import { detectFormat, loadLabelledFile } from '../src/eval/labelled-file.loader';
import { accuracy, f1, rocAuc } from '../src/eval/metrics';
import { DATA_DIR, TRAINED_MODELS, loadTrainingFiles, trainingTexts } from '../src/eval/training-set';

describe('the served model explains its score', () => {
  it('reads negation: "not good" pulls towards negative and is reported as the phrase', () => {
    const r = analyzeText('The food was not good.');
    expect(r.label).toBe('negative');
    expect(r.model).toBe(SERVED_MODEL);
    const term = r.explanation.find((t) => t.phrase === 'not good');
    expect(term).toMatchObject({ negated: true });
    expect(term!.weight).toBeLessThan(0);
    expect(analyzeText('The food was good.').label).toBe('positive');
  });

  it('reads intensifiers: "extremely rude" is reported with its intensifier and weighs more than "rude"', () => {
    const boosted = analyzeText('The staff was extremely rude.');
    const plain = analyzeText('The staff was rude.');
    expect(boosted.label).toBe('negative');
    const b = boosted.explanation.find((t) => t.phrase === 'extremely rude');
    const p = plain.explanation.find((t) => t.phrase === 'rude');
    expect(b).toMatchObject({ intensified: true, negated: false });
    expect(b!.weight).toBeLessThan(p!.weight);
    expect(boosted.polarity).toBeLessThan(plain.polarity);
  });

  it('reads an intensifier before a word no lexicon knows: "extremely slow" is one phrase, weighing more than "slow"', () => {
    const boosted = analyzeText('The delivery was extremely slow.');
    const plain = analyzeText('The delivery was slow.');
    const b = boosted.explanation.find((t) => t.phrase === 'extremely slow');
    const p = plain.explanation.find((t) => t.phrase === 'slow');
    expect(b).toMatchObject({ intensified: true, negated: false });
    expect(boosted.explanation.find((t) => t.phrase === 'extremely')).toBeUndefined();
    expect(b!.weight).toBeLessThan(p!.weight);
    expect(boosted.polarity).toBeLessThan(plain.polarity);
  });

  it('gives a confidence and a polarity in range, and a neutral label to a plain statement', () => {
    const r = analyzeText('Great product, works perfectly, highly recommended!');
    expect(r.label).toBe('positive');
    expect(r.polarity).toBeGreaterThan(0.3);
    expect(r.confidence).toBeGreaterThan(0.5);
    expect(r.confidence).toBeLessThanOrEqual(1);
  });
});

describe('the VADER baseline explains its score too', () => {
  it('reports lexicon words with their negation and intensifier, weighed by leaving the phrase out', () => {
    expect(explainVader('The food was not good.').contributions).toEqual([{ phrase: 'not good', weight: -0.341, negated: true, intensified: false }]);
    const rude = explainVader('The staff was extremely rude.');
    expect(rude.contributions[0]).toMatchObject({ phrase: 'extremely rude', intensified: true });
    expect(rude.contributions[0]!.weight).toBeCloseTo(rude.compound, 2);
    // "want" ends in "nt" but is not a negation.
    expect(explainVader('I want a good phone.').contributions[0]).toMatchObject({ phrase: 'good', negated: false });
  });
  it('analyzeText(text, "vader") names VADER as the model and uses its cut-offs', () => {
    const r = analyzeText('The food was not good.', 'vader');
    expect(r).toMatchObject({ model: VADER_MODEL, label: 'negative', polarity: -0.3412 });
    expect(analyzeText('Bonjour, le produit est cassé et je suis très déçu.', 'vader')).toMatchObject({ label: 'unsupported' });
  });
});

describe('bad input gets a clear result, never a crash', () => {
  it('empty and white space: neutral, reason empty', () => {
    expect(analyzeText('')).toMatchObject({ label: 'neutral', polarity: 0, confidence: 0, reason: 'empty' });
    expect(analyzeText('   \n\t ')).toMatchObject({ reason: 'empty' });
  });
  it('1 MB of text: the first 5,000 characters are analysed, and the result says so', () => {
    const big = 'This is terrible. '.repeat(60_000);
    expect(big.length).toBeGreaterThan(1_000_000);
    const r = analyzeText(big);
    expect(r.truncated).toBe(true);
    expect(r.label).toBe('negative');
    expect(analyzeText('This is terrible.').truncated).toBe(false);
    expect(MAX_ANALYSED_CHARS).toBe(5000);
  });
  it('binary junk is unsupported (binary), never scored', () => {
    const junk = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 37) % 256)).toString('utf8');
    expect(analyzeText(junk)).toMatchObject({ label: 'unsupported', reason: 'binary', polarity: 0 });
  });
  it('emoji only: scored from the emoji ratings, explained by the emoji', () => {
    const r = analyzeText('😡😡😡');
    expect(r.label).toBe('negative');
    expect(r.explanation[0]!.phrase).toBe('😡');
    expect(r.language).toBe('und');
    expect(analyzeText('😍🎉').label).toBe('positive');
  });
  it('HTML: tags and scripts are removed before the analysis', () => {
    const r = analyzeText('<p>The service was <b>awful</b></p><script>var great = "excellent wonderful";</script>');
    expect(r.label).toBe('negative');
    expect(r.explanation.map((t) => t.phrase)).not.toContain('excellent');
  });
});

describe('language: not English is unsupported, never guessed', () => {
  const nonEnglish = fs.readFileSync(path.join(__dirname, 'fixtures/non-english.txt'), 'utf8').split('\n').filter(Boolean);
  it('labels every sentence of the non-English fixture unsupported', () => {
    const scored = nonEnglish.filter((t) => analyzeText(t).label !== 'unsupported');
    expect(scored).toEqual([]);
    expect(analyzeText('Le service était vraiment très lent et le personnel désagréable.')).toMatchObject({ language: 'fr', reason: 'not-english' });
  });
  it('calls under 0.5 % of the 9,908 English sentences of the bundled data not English', () => {
    const texts = loadTrainingFiles().flatMap((f) => f.texts.map((t) => t.text));
    const notEnglish = texts.filter((t) => !detectLanguage(t).english);
    expect(texts.length).toBeGreaterThan(9800);
    expect(notEnglish.length / texts.length).toBeLessThan(0.005);
  });
  it('keeps short English texts English', () => {
    for (const t of ['Great charger.', 'Bad Quality.', 'Great choice!', 'ok', 'Not good', 'lol']) expect(detectLanguage(t).english).toBe(true);
  });
});

describe('training and evaluation', () => {
  it('the shipped weights are what the training script produces from the bundled data', () => {
    const files = loadTrainingFiles();
    const spec = TRAINED_MODELS['lr-blend'];
    const model = LogisticModel.train(spec.name, trainingTexts(files), spec.options);
    const trainedOn = files.map((f) => ({ file: f.file, sha256: f.sha256, texts: f.texts.length }));
    const committed = fs.readFileSync(path.join(DATA_DIR, spec.file), 'utf8');
    expect(`${JSON.stringify(model.toFile(spec.options, trainedOn))}\n`).toBe(committed);
  });

  it.each([
    ['uci/amazon_cells_labelled.txt', 0.85],
    ['uci/yelp_labelled.txt', 0.85],
  ])('held out: trained without %s (and without its texts), the blend reaches %s accuracy on it', (file, bar) => {
    const files = loadTrainingFiles();
    const test = files.find((f) => f.file === file)!;
    const testTexts = new Set(test.texts.map((t) => t.text.trim()));
    const train = trainingTexts(files.filter((f) => f !== test)).filter((t) => !testTexts.has(t.text.trim()));
    const model = LogisticModel.train('fold', train, TRAINED_MODELS['lr-blend'].options);
    const scores = test.texts.map((t) => model.logit(t.text));
    expect(accuracy(scores, test.texts.map((t) => t.label))).toBeGreaterThanOrEqual(bar);
  });

  it('metrics: accuracy, F1 and ROC-AUC on a hand-computed example', () => {
    const scores = [0.9, 0.8, -0.1, 0.3, -0.7];
    const labels = [1, 1, 1, 0, 0];
    expect(accuracy(scores, labels)).toBeCloseTo(3 / 5);
    expect(f1(scores, labels)).toBeCloseTo((2 * 2) / (2 * 2 + 1 + 1));
    // Positive-negative pairs ranked right: (0.9>0.3, 0.9>-0.7, 0.8>0.3, 0.8>-0.7, -0.1>-0.7) = 5 of 6.
    expect(rocAuc(scores, labels)).toBeCloseTo(5 / 6);
  });

  it('reads both formats and leaves neutral VADER gold out', () => {
    expect(detectFormat(['Good.\t1', 'Bad.\t0'])).toBe('uci');
    expect(detectFormat(['1\t2.5\tGood.', '2\t-1\tBad.'])).toBe('vader');
    expect(() => detectFormat(['no tabs here'])).toThrow(/--format/);
    const f = loadLabelledFile(path.join(DATA_DIR, 'vader/amazonReviewSnippets_GroundTruth.txt'));
    expect(f.format).toBe('vader');
    expect(f.skipped.neutral).toBe(98);
    expect(f.texts.length).toBe(3610);
  });
});
