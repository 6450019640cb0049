/**
 * Builds the text of PostgreSQL array parameters for set-based statements (ingestion's, the read
 * audit's), cheaper than `pg`'s generic conversion (which calls `prepareValue` on every element,
 * escapes every string with two regular-expression replaces, and formats every date field by field
 * in local time).
 *
 * Measured on the ingest bench's batches (500 messages), handing a batch's statements to `pg` was
 * the largest single part of the server's own CPU after garbage collection.
 */

const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;

/**
 * A `text[]` literal: every element double-quoted (so empty strings, `NULL`, commas, braces and
 * whitespace are taken as they are), `"` and `\` escaped; `null` and `undefined` are SQL NULL.
 */
export function textArray(values: ReadonlyArray<string | null | undefined>): string {
  // The common case, no NULL and nothing to escape: one join, one string (a loop of `+=` leaves a
  // rope of two nodes and a quoted copy per element for the garbage collector).
  let plain = values.length > 0;
  for (let i = 0; plain && i < values.length; i++) {
    const v = values[i];
    plain = typeof v === 'string' && !NEEDS_ESCAPE.test(v);
  }
  if (plain) return `{"${values.join('","')}"}`;
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else out += NEEDS_ESCAPE.test(v) ? `"${v.replace(ESCAPE, '\\$&')}"` : `"${v}"`;
  }
  return `${out}}`;
}

/**
 * An array literal of values that never need quoting: uuids, integers, and dates as ISO-8601
 * UTC (`toISOString`: digits, `-`, `:`, `.`, `T`, `Z`, years 0001 to 9999). For `uuid[]`,
 * `int[]`, `bigint[]` and `timestamptz[]` parameters; `null` and `undefined` are SQL NULL.
 */
export function plainArray(values: ReadonlyArray<string | number | bigint | Date | null | undefined>): string {
  // The common case for ids, no NULL and no date: one join, one string.
  let plain = true;
  for (let i = 0; plain && i < values.length; i++) plain = typeof values[i] === 'string';
  if (plain) return `{${values.join(',')}}`;
  let out = '{';
  // A batch's dates repeat (every message's receivedAt, most sentAt): each distinct instant is formatted once in a row.
  let lastTime = NaN;
  let lastIso = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else if (v instanceof Date) {
      const t = v.getTime();
      if (t !== lastTime) {
        lastTime = t;
        lastIso = v.toISOString();
      }
      out += lastIso;
    } else out += String(v);
  }
  return `${out}}`;
}

/**
 * JSON documents, one a line, for `string_to_array($n, E'\n')`: `JSON.stringify` never writes a
 * raw line break (it escapes those inside strings), so the documents need no quoting or escaping
 * at all. A `null` document is an empty line (read back with `NULLIF(x, '')`).
 */
export function jsonLines(values: ReadonlyArray<unknown>): string {
  const lines = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    lines[i] = v === null || v === undefined ? '' : JSON.stringify(v);
  }
  return lines.join('\n');
}
