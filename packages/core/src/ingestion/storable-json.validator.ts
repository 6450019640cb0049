import { ValidationError } from '../errors/rapport-error';

// ES2024 string methods (Node 20 has them; the repository's `lib` is ES2023).
declare global {
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

/**
 * Objects and arrays nest at most this many levels in one message, counting the message itself.
 * PostgreSQL's jsonb refuses somewhere above 5,000 levels and a recursive walk (JSON.stringify)
 * overflows the stack above about 10,000; real Segment messages stay under 10.
 */
export const MAX_MESSAGE_DEPTH = 64;

/** What {@link checkStorableJson} found that it did not reject. */
export interface StorableJsonReport {
  /** How many strings hold a lone surrogate (ill-formed UTF-16) in free text, where U+FFFD may replace it. */
  illFormedText: number;
  /**
   * An upper bound of the UTF-8 bytes of `JSON.stringify(message)` (Infinity when a value could
   * serialise to more than its own keys show, such as an object with `toJSON`). Below a size
   * limit, it spares serialising a message only to measure it.
   */
  maxJsonBytes: number;
}

// Most UTF-8 bytes JSON.stringify writes per UTF-16 unit of a string (a control character or a
// lone surrogate is escaped as \uXXXX), and for a finite number ("-1.2345678901234567e-308").
const BYTES_PER_UNIT = 6;
const NUMBER_BYTES = 24;

/** `properties.list[1].deep`, after an optional prefix (`batch[3]`). */
function pathOf(prefix: string | undefined, path: ReadonlyArray<string | number>): string {
  let out = prefix ?? '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${key}` : key;
  return out || 'body';
}

/**
 * Fields whose strings identify someone or something (ids, identity values): replacing a lone
 * surrogate there with U+FFFD would make distinct values equal (`u-\udc01` and `u-\udc02` would
 * become one person), so an ill-formed string there is rejected instead.
 */
function isIdentifierPath(p: ReadonlyArray<string | number>): boolean {
  if (p.length === 1) return ['userId', 'anonymousId', 'previousId', 'groupId', 'messageId', 'type'].includes(p[0] as string);
  if (p.length === 2 && p[0] === 'traits') return p[1] === 'email' || p[1] === 'phone';
  if (p.length === 3 && p[0] === 'context' && p[1] === 'traits') return p[2] === 'email' || p[2] === 'phone';
  return p.length === 4 && p[0] === 'context' && p[1] === 'externalIds' && (p[3] === 'id' || p[3] === 'type');
}

const NUL_RULE = 'contains a NUL character (\\u0000), which PostgreSQL cannot store; encode binary data (base64, for example)';

/** The walk of {@link checkStorableJson}: one shared path (pushed and popped), so a value costs no allocation. */
class StorableWalk {
  readonly path: Array<string | number> = [];
  illFormedText = 0;
  bound = 0;

  constructor(private readonly prefix: string | undefined) {}

  /** Checks `value` at `this.path`, `depth` levels down (the message is 1); at most MAX_MESSAGE_DEPTH + 1 frames deep. */
  visit(value: unknown, depth: number): void {
    this.bound += 1; // the comma (or colon) after it
    if (typeof value === 'string') {
      this.bound += BYTES_PER_UNIT * value.length + 2;
      if (value.includes('\u0000')) throw new ValidationError(pathOf(this.prefix, this.path), 'nul', NUL_RULE);
      if (!value.isWellFormed()) {
        if (this.path.length && isIdentifierPath(this.path)) {
          throw new ValidationError(pathOf(this.prefix, this.path), 'unicode', 'contains a lone surrogate (ill-formed UTF-16), which cannot be stored as sent; an identifier must be exact');
        }
        this.illFormedText++;
      }
    } else if (typeof value === 'number') {
      this.bound += NUMBER_BYTES;
      if (!Number.isFinite(value)) throw new ValidationError(pathOf(this.prefix, this.path), 'number', 'is a number too large for a double (it would be stored as null)');
    } else if (typeof value === 'object' && value !== null) {
      if (depth > MAX_MESSAGE_DEPTH) {
        throw new ValidationError(pathOf(this.prefix, this.path), 'maxDepth', `objects and arrays nest over ${MAX_MESSAGE_DEPTH} levels (counting the message)`);
      }
      this.bound += 2;
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') this.bound = Infinity;
      const path = this.path;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          path.push(i);
          this.visit(value[i], depth + 1);
          path.pop();
        }
      } else {
        const keys = Object.keys(value);
        // Every key of an object is checked before any of its values (the order errors are reported in).
        for (const key of keys) {
          this.bound += BYTES_PER_UNIT * key.length + 3;
          if (key.includes('\u0000')) throw new ValidationError(pathOf(this.prefix, path), 'nul', `the key ${JSON.stringify(key)} ${NUL_RULE}`);
          if (!key.isWellFormed()) {
            throw new ValidationError(pathOf(this.prefix, path), 'unicode', `the key ${JSON.stringify(key)} contains a lone surrogate (ill-formed UTF-16); keys must be exact`);
          }
        }
        for (const key of keys) {
          path.push(key);
          this.visit((value as Record<string, unknown>)[key], depth + 1);
          path.pop();
        }
      }
    } else if (typeof value === 'boolean' || value === null) {
      this.bound += 5;
    } else if (value !== undefined) {
      this.bound = Infinity; // bigint, function, symbol: not JSON from a parser; measured by serialising
    }
  }
}

/**
 * Checks that PostgreSQL will store a message as sent. Throws a {@link ValidationError} naming
 * the field path and the rule on the first value it cannot store (an object's keys before its
 * values, values in order):
 * - `nul`: a NUL character in a string or an object key (jsonb and text refuse it);
 * - `unicode`: a lone surrogate in an object key or in an identifier ({@link isIdentifierPath});
 * - `maxDepth`: objects and arrays nested over {@link MAX_MESSAGE_DEPTH} levels;
 * - `number`: a number that is not finite (`1e400` parses as Infinity and would be stored as null).
 * Lone surrogates in free text are counted in the report, for {@link toWellFormedJson}. The walk
 * recurses at most {@link MAX_MESSAGE_DEPTH} + 1 levels, whatever the message's depth, and
 * allocates nothing per value (it runs on every message ingested).
 * @param message The parsed message.
 * @param prefix Error path prefix (`batch[3]`), if any.
 */
export function checkStorableJson(message: unknown, prefix?: string): StorableJsonReport {
  const walk = new StorableWalk(prefix);
  walk.visit(message, 1);
  return { illFormedText: walk.illFormedText, maxJsonBytes: walk.bound };
}

/**
 * A copy of `value` with every lone surrogate in its strings replaced by U+FFFD, as every UTF-8
 * encoder does. Call it only on a value {@link checkStorableJson} accepted: its depth is bounded,
 * so the recursion is too.
 */
export function toWellFormedJson<T>(value: T): T {
  if (typeof value === 'string') return value.toWellFormed() as T;
  if (Array.isArray(value)) return value.map((v) => toWellFormedJson(v)) as T;
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    // defineProperty: a "__proto__" key stays a plain key.
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: toWellFormedJson(v), enumerable: true, writable: true, configurable: true });
    return out as T;
  }
  return value;
}
