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
