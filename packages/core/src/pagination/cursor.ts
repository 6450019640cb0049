import { ValidationError } from '../errors/rapport-error';

/** Encodes a keyset position as an opaque cursor. */
export function encodeCursor(parts: Array<string | number>): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** Decodes a cursor made by {@link encodeCursor}; a malformed one is a validation error on `field`. */
export function decodeCursor(cursor: string, field = 'after'): Array<string | number> {
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(parts) && parts.every((p) => typeof p === 'string' || typeof p === 'number')) return parts;
  } catch {
    /* fall through */
  }
  throw new ValidationError(field, 'cursor', `"${cursor}" is not a cursor this API issued`);
}

/** Checks a page size: 0 < first <= max. */
export function checkFirst(first: number, max: number, field = 'first'): number {
  if (!Number.isInteger(first) || first < 1 || first > max) {
    throw new ValidationError(field, 'range', `must be an integer from 1 to ${max}, got ${first}`);
  }
  return first;
}

/** One page of a keyset-paginated list. */
export interface Page<T> {
  nodes: T[];
  cursors: string[];
  hasNextPage: boolean;
}
