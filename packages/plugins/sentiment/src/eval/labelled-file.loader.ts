/**
 * Reads labelled sentence files in the two formats of the bundled data:
 * - `uci`: `sentence<TAB>0|1`
 * - `vader`: `id<TAB>mean rating<TAB>text`; rating > 0 positive, < 0 negative, exactly 0 left out.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { LabelledText } from '../models/labelled-text';

export type LabelledFormat = 'uci' | 'vader';

/** A loaded file. */
export interface LabelledFile {
  file: string;
  format: LabelledFormat;
  sha256: string;
  texts: LabelledText[];
  /** Lines left out (neutral gold, or unparseable) and why. */
  skipped: { neutral: number; malformed: number };
}

/** Guesses the format from the first lines. */
export function detectFormat(lines: readonly string[]): LabelledFormat {
  const sample = lines.slice(0, 20);
  if (sample.every((l) => /\t[01]\s*$/.test(l))) return 'uci';
  if (sample.every((l) => /^[^\t]*\t-?\d+(\.\d+)?\t/.test(l))) return 'vader';
  throw new Error('cannot tell the format: expected "sentence<TAB>0|1" (uci) or "id<TAB>rating<TAB>text" (vader); pass --format');
}

/** Loads one file; `format` is detected when not given. */
export function loadLabelledFile(file: string, format?: LabelledFormat): LabelledFile {
  const content = fs.readFileSync(file);
  const lines = content.toString('utf8').split(/\r?\n/).filter((l) => l.trim().length > 0);
  const f = format ?? detectFormat(lines);
  const texts: LabelledText[] = [];
  const skipped = { neutral: 0, malformed: 0 };
  for (const line of lines) {
    const parts = line.split('\t');
    if (f === 'uci') {
      const label = parts.pop()?.trim();
      if (label !== '0' && label !== '1') {
        skipped.malformed++;
        continue;
      }
      texts.push({ text: parts.join('\t'), label: label === '1' ? 1 : 0 });
    } else {
      const rating = Number(parts[1]);
      if (parts.length < 3 || !Number.isFinite(rating)) {
        skipped.malformed++;
        continue;
      }
      if (rating === 0) {
        skipped.neutral++;
        continue;
      }
      texts.push({ text: parts.slice(2).join("\t"), label: rating > 0 ? 1 : 0, rating });
    }
  }
  return { file, format: f, sha256: createHash('sha256').update(content).digest('hex'), texts, skipped };
}
