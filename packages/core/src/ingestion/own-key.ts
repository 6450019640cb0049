/**
 * Reads and writes of records keyed by what a message sends (traits, properties, consent
 * categories, identity types): any string is a key, `__proto__`, `constructor` and
 * `hasOwnProperty` included. `record[key]` would read a member of `Object.prototype` for a key the
 * record lacks, and `record[key] = value` with `__proto__` would replace the record's prototype
 * instead of storing the key; these helpers see own keys only.
 */

/** The value of `key` when it is an own key of `record`, else undefined. */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Stores `value` under `key` as an own, enumerable data property (`__proto__` stays an ordinary key). */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  // Only `__proto__` is an accessor on Object.prototype: every other key is stored by assignment
  // (an own data property, and far cheaper than defining one, which can also turn the object into
  // a slow dictionary).
  if (key === '__proto__') Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}
