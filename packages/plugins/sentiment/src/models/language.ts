/**
 * Is a text English? Only English texts are scored; any other language is labelled `unsupported`, never guessed.
 *
 * tinyld alone calls 6 % of the English sentences in the bundled data something else ("Great charger." is Irish to
 * it), so a text counts as not English only when:
 * - it has letters and none of them is Latin (Cyrillic, CJK, Arabic, ...), or
 * - it has at least two words, under a third of them are known English words (stop words, VADER or AFINN), and
 *   either tinyld names another language with accuracy >= 0.8 or at least two common function words of another
 *   Latin-script language outnumber the English ones.
 * On the 9,908 English sentences of data/ this calls 28 (0.28 %, mostly product codes and tweets of names and links)
 * not English; it catches all 30 non-English sentences of test/fixtures/non-english.txt (measured by
 * `npm run eval:sentiment`, which prints the rate).
 */
import { detectAll } from 'tinyld';
import { loadAfinnLexicon, loadVaderLexicon } from './lexicon';

const ENGLISH_STOP_WORDS = new Set(
  `a about above after again against all am an and any are as at be because been before being below between both but
  by can could did do does doing down during each few for from further had has have having he her here hers herself
  him himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or
  other our ours ourselves out over own same she should so some such than that the their theirs them themselves then
  there these they this those through to too under until up very was we were what when where which while who whom
  why will with would you your yours yourself yourselves im ive dont didnt i'm i've don't didn't can't cant won't wont
  isn't isnt wasn't wasnt get got one also really great good bad like us much well even back way`.split(/\s+/),
);
const FOREIGN_FUNCTION_WORDS = new Set(
  `el la los las es una por que con para del muy le les est une des du et je ne pas très der die das und ist nicht ich
  mit ein eine sehr il di che non sono è het een niet ik zijn o os um uma muito não e ao og er ikke jeg är och att
  inte`.split(/\s+/),
);

/** The verdict on a text's language. */
export interface LanguageVerdict {
  english: boolean;
  /** ISO 639-1 code of the language tinyld names first, or `und` when it has no guess. */
  detected: string;
}

/** Decides whether a (normalised) text is English; see the module comment for the rule. */
export function detectLanguage(text: string): LanguageVerdict {
  const cleaned = text.slice(0, 1000).replace(/https?:\/\/\S+|[@#]\w+/g, ' ');
  const letters = cleaned.match(/\p{L}+/gu) ?? [];
  if (letters.length === 0) return { english: true, detected: 'und' };
  const latin = letters.filter((w) => /^\p{Script=Latin}+$/u.test(w));
  // tinyld is the slow part (about 0.2 ms a text): it is asked only when the cheap checks cannot decide.
  const guess = () => detectAll(cleaned)[0];
  if (latin.length === 0) return { english: false, detected: guess()?.lang ?? 'und' };
  const words = cleaned.toLowerCase().match(/[a-z]+(?:'[a-z]+)?/g) ?? [];
  if (words.length < 2) return { english: true, detected: 'en' };
  const vader = loadVaderLexicon();
  const afinn = loadAfinnLexicon();
  const englishStop = words.filter((w) => ENGLISH_STOP_WORDS.has(w)).length;
  const known = words.filter((w) => ENGLISH_STOP_WORDS.has(w) || vader.has(w) || afinn.has(w)).length;
  if (known / words.length >= 0.34) return { english: true, detected: 'en' };
  const top = guess();
  const detected = top?.lang ?? 'und';
  const foreign = letters.filter((w) => FOREIGN_FUNCTION_WORDS.has(w.toLowerCase())).length;
  if (foreign >= 2 && foreign > englishStop) return { english: false, detected };
  if (top && top.lang !== 'en' && top.accuracy >= 0.8) return { english: false, detected };
  return { english: true, detected: 'en' };
}
