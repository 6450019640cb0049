/**
 * The word lists the models share: VADER's lexicon (MIT, read from the `vader-sentiment` package), AFINN-165 and
 * its emoji ratings (MIT, from the `sentiment` package), negations and intensifiers (VADER's lists, extended).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Word -> valence, VADER scale (-4..4). */
export type Lexicon = ReadonlyMap<string, number>;

let vaderLexicon: Map<string, number> | undefined;
let afinnLexicon: Map<string, number> | undefined;

/** VADER's lexicon (7,500 words and emoticons, valence -4..4), loaded once. */
export function loadVaderLexicon(): Lexicon {
  if (!vaderLexicon) {
    const file = path.join(path.dirname(require.resolve('vader-sentiment/package.json')), 'vader_lexicon.txt');
    vaderLexicon = new Map();
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const [word, value] = line.split('\t');
      if (word && value !== undefined) vaderLexicon.set(word, Number(value));
    }
  }
  return vaderLexicon;
}

/** AFINN-165 (words, -5..5) plus the `sentiment` package's emoji ratings, loaded once. */
export function loadAfinnLexicon(): Lexicon {
  if (!afinnLexicon) {
    const dir = path.dirname(require.resolve('sentiment/package.json'));
    const words = JSON.parse(fs.readFileSync(path.join(dir, 'languages/en/labels.json'), 'utf8')) as Record<string, number>;
    const emoji = JSON.parse(fs.readFileSync(path.join(dir, 'build/emoji.json'), 'utf8')) as Record<string, number>;
    afinnLexicon = new Map([...Object.entries(words), ...Object.entries(emoji)]);
  }
  return afinnLexicon;
}

/** Words that negate the sentiment of the next three words (apostrophes removed). */
export const NEGATIONS: ReadonlySet<string> = new Set([
  'aint', 'arent', 'cannot', 'cant', 'couldnt', 'darent', 'didnt', 'doesnt', 'dont', 'hadnt', 'hasnt', 'havent',
  'isnt', 'mightnt', 'mustnt', 'neither', 'neednt', 'never', 'no', 'none', 'nope', 'nor', 'not', 'nothing',
  'nowhere', 'oughtnt', 'shant', 'shouldnt', 'wasnt', 'werent', 'without', 'wont', 'wouldnt', 'rarely', 'seldom',
  'hardly', 'lack', 'lacks', 'lacked',
]);

/** Intensifiers (+1) and dampeners (-1, or a fraction) of the next word's valence. */
export const BOOSTERS: ReadonlyMap<string, number> = new Map(Object.entries({
  absolutely: 1, amazingly: 1, awfully: 1, completely: 1, considerably: 1, decidedly: 1, deeply: 1, enormously: 1,
  entirely: 1, especially: 1, exceptionally: 1, extremely: 1, fabulously: 1, fully: 1, fucking: 1, greatly: 1,
  hella: 1, highly: 1, hugely: 1, incredibly: 1, intensely: 1, majorly: 1, more: 1, most: 1, particularly: 1,
  purely: 1, quite: 1, really: 1, remarkably: 1, so: 1, substantially: 1, thoroughly: 1, totally: 1,
  tremendously: 1, unbelievably: 1, unusually: 1, utterly: 1, very: 1, too: 1, super: 1, almost: -1, barely: -1,
  kinda: -1, less: -1, little: -1, marginally: -1, occasionally: -1, partly: -1, scarcely: -1, slightly: -1,
  somewhat: -1, sorta: -1, pretty: 0.5, fairly: -0.5, rather: -0.5,
}));

/** VADER's booster step: an intensifier adds this much valence in the word's direction. */
export const BOOSTER_STEP = 0.293;
/** VADER's negation scalar. */
export const NEGATION_SCALAR = -0.74;
