/**
 * Loader for FEBRL-style CSV benchmark files (rec_id, given_name, surname, street_number,
 * address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id) into match
 * records with Segment-style trait keys, plus ground-truth cluster ids.
 */
import { readFileSync } from 'node:fs';
import type { MatchRecord } from './matching.types';
import { ownValue, setOwn } from '../../ingestion/own-key';

/** FEBRL column → trait path. */
export const FEBRL_COLUMN_TRAITS: Readonly<Record<string, string>> = {
  given_name: 'firstName',
  surname: 'lastName',
  street_number: 'address.streetNumber',
  address_1: 'address.street',
  address_2: 'address.line2',
  suburb: 'address.city',
  postcode: 'address.postalCode',
  state: 'address.state',
  date_of_birth: 'birthday',
  soc_sec_id: 'nationalId',
};

/** Column names recognised as an explicit ground-truth cluster id when no option names one. */
export const CLUSTER_COLUMN_CANDIDATES = ['cluster_id', 'cluster', 'entity_id', 'true_id'];

/** Options of the FEBRL parser. */
export interface FebrlParseOptions {
  /** Column holding the ground-truth cluster id; default: auto-detected, else derived from `rec_id`. */
  clusterColumn?: string;
  /** Column holding the record id (default `rec_id`). */
  idColumn?: string;
  /** Column → trait path, added to (or replacing) the FEBRL mapping, e.g. `{ first: 'firstName' }`. */
  columns?: Record<string, string>;
  /** Prefix added to every record id (to combine files whose ids could clash). */
  idPrefix?: string;
}

/** Records plus their ground-truth cluster ids. */
export interface LabelledDataset {
  /** Parsed records. */
  records: MatchRecord[];
  /** Record id → ground-truth cluster id (records without one are absent). */
  clusterOf: Map<string, string>;
}

/** Parses CSV text (comma-separated, optional double quotes, CRLF or LF) into rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell.length > 0 || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows.filter((r) => r.length > 1 || (r.length === 1 && r[0].trim().length > 0));
}

/** Entity number of a FEBRL record id (`rec-<entity>-org` / `rec-<entity>-dup-<k>`), or null. */
export function febrlEntityOf(recId: string): string | null {
  const m = /^rec-(\d+)-(?:org|dup-\d+)$/.exec(recId.trim());
  return m ? m[1] : null;
}

function setPath(target: Record<string, unknown>, path: string, value: string): void {
  const parts = path.split('.');
  let cur = target;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = ownValue(cur, parts[i]);
    if (next === undefined || next === null || typeof next !== 'object') setOwn(cur, parts[i], {});
    cur = cur[parts[i]] as Record<string, unknown>;
  }
  setOwn(cur, parts[parts.length - 1], value);
}

/** Parses FEBRL CSV text; cells are trimmed and empty cells are omitted (missing). */
export function parseFebrlCsv(text: string, options: FebrlParseOptions = {}): LabelledDataset {
  const rows = parseCsv(text);
  if (rows.length === 0) return { records: [], clusterOf: new Map() };
  const header = rows[0].map((h) => h.trim().toLowerCase());
  const idName = (options.idColumn ?? 'rec_id').trim().toLowerCase();
  const idCol = header.indexOf(idName);
  if (idCol < 0) throw new Error(`the CSV has no "${idName}" column (name the id column with idColumn)`);
  const mapping: Record<string, string> = { ...FEBRL_COLUMN_TRAITS };
  for (const [col, path] of Object.entries(options.columns ?? {})) setOwn(mapping, col.trim().toLowerCase(), path);
  const clusterName = options.clusterColumn?.trim().toLowerCase() ?? CLUSTER_COLUMN_CANDIDATES.find((c) => header.includes(c));
  const clusterCol = clusterName === undefined ? -1 : header.indexOf(clusterName);
  if (options.clusterColumn && clusterCol < 0) throw new Error(`FEBRL CSV has no column "${options.clusterColumn}"`);
  const prefix = options.idPrefix ?? '';
  const records: MatchRecord[] = [];
  const clusterOf = new Map<string, string>();
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r];
    const rawId = (row[idCol] ?? '').trim();
    if (!rawId) continue;
    const id = prefix + rawId;
    const traits: Record<string, unknown> = {};
    header.forEach((col, c) => {
      const path = ownValue(mapping, col); // a column may be called `constructor`
      const value = (row[c] ?? '').trim();
      if (path && value.length > 0) setPath(traits, path, value);
    });
    records.push({ id, traits });
    const cluster = clusterCol >= 0 ? (row[clusterCol] ?? '').trim() || null : idName === 'rec_id' ? febrlEntityOf(rawId) : null;
    if (cluster !== null) clusterOf.set(id, cluster);
  }
  return { records, clusterOf };
}

/** Reads and parses a FEBRL CSV file. */
export function loadFebrlCsv(path: string, options: FebrlParseOptions = {}): LabelledDataset {
  return parseFebrlCsv(readFileSync(path, 'utf8'), options);
}

/**
 * Combines datasets (e.g. FEBRL 4a + 4b) into one: records are concatenated and records
 * with equal cluster ids across files are the same entity. Throws on duplicate record ids.
 */
export function combineDatasets(...datasets: LabelledDataset[]): LabelledDataset {
  const records: MatchRecord[] = [];
  const clusterOf = new Map<string, string>();
  const ids = new Set<string>();
  for (const ds of datasets) {
    for (const r of ds.records) {
      if (ids.has(r.id)) throw new Error(`duplicate record id "${r.id}" (use idPrefix)`);
      ids.add(r.id);
      records.push(r);
    }
    for (const [id, c] of ds.clusterOf) clusterOf.set(id, c);
  }
  return { records, clusterOf };
}
