import { readFileSync } from 'node:fs';
import { InteractionMatrix } from '../models/interaction-matrix';

/** Formats {@link parseMovieLens} understands. */
export type MovieLensFormat = 'csv' | 'tsv' | 'dat';

/**
 * Parses MovieLens ratings: `ratings.csv` (header `userId,movieId,rating,timestamp`), `u.data`
 * (tab-separated `user item rating timestamp`) or `ratings.dat` (`::`-separated), auto-detected.
 * Every rating is one implicit interaction of weight 1; timestamps (seconds) become epoch ms.
 */
export function parseMovieLens(text: string): { matrix: InteractionMatrix; format: MovieLensFormat } {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new Error('no ratings found');
  const first = lines[0];
  const format: MovieLensFormat = first.includes('::') ? 'dat' : first.includes('\t') ? 'tsv' : 'csv';
  const sep = format === 'dat' ? '::' : format === 'tsv' ? '\t' : ',';
  const start = /^[^\d-]/.test(first.trim()) ? 1 : 0; // header line
  const rows: Array<{ user: string; item: string; timestamp: number }> = [];
  for (let i = start; i < lines.length; i++) {
    const f = lines[i].split(sep);
    if (f.length < 4) throw new Error(`line ${i + 1}: expected 4 fields, got ${f.length}`);
    rows.push({ user: f[0].trim(), item: f[1].trim(), timestamp: Number(f[3]) * 1000 });
  }
  return { matrix: InteractionMatrix.fromInteractions(rows), format };
}

/** Reads and parses a MovieLens ratings file (see {@link parseMovieLens}). */
export function loadMovieLens(file: string): { matrix: InteractionMatrix; format: MovieLensFormat } {
  return parseMovieLens(readFileSync(file, 'utf8'));
}

/** A MovieLens movie as a catalog item (what `similarItems` compares by attributes). */
export interface MovieItem {
  id: string;
  title: string;
  /** The first genre, or null for `(no genres listed)`. */
  category: string | null;
  /** `genres` (every genre) and `year` (from the title, when it ends with one). */
  attributes: { genres: string[]; year?: number };
}

/** One CSV line with quoted fields (commas and `""` inside quotes), as in `movies.csv`. */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') out.push(cur), (cur = '');
    else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * Parses MovieLens `movies.csv` (`movieId,title,genres`, genres `|`-separated) into catalog items
 * the way `bench/recs-serve.bench.mjs` loads them into the plugin: category = first genre,
 * attributes = `{ genres, year }`, so attribute similarity compares the tokens `category=<first
 * genre>`, `genres=<each genre>` and `year=<year>`. Ids are the `movieId`s, as in {@link parseMovieLens}.
 */
export function parseMovies(text: string): MovieItem[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const start = lines.length > 0 && /^movieId,/i.test(lines[0]) ? 1 : 0;
  return lines.slice(start).map((line, k) => {
    const f = csvFields(line);
    if (f.length < 3) throw new Error(`movies line ${k + start + 1}: expected 3 fields, got ${f.length}`);
    const [id, title, genres] = [f[0].trim(), f[1].trim(), f[f.length - 1].trim()];
    const g = genres === '(no genres listed)' || genres === '' ? [] : genres.split('|');
    const year = /\((\d{4})\)\s*$/.exec(title)?.[1];
    return { id, title, category: g[0] ?? null, attributes: { genres: g, ...(year ? { year: Number(year) } : {}) } };
  });
}

/** Reads and parses MovieLens `movies.csv` (see {@link parseMovies}). */
export function loadMovies(file: string): MovieItem[] {
  return parseMovies(readFileSync(file, 'utf8'));
}
