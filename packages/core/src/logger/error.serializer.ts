import pino from 'pino';

/**
 * Properties of database errors that quote the data: PostgreSQL's `detail` (`Key (type,
 * value)=(email, ada@example.com) already exists.`) and the statement parameters TypeORM attaches.
 * Logs keep the error's class, message, SQLSTATE, table and constraint, never these.
 */
export const REDACTED_ERROR_FIELDS = ['detail', 'parameters'] as const;

const REDACTED = '[Redacted]';

/**
 * Pino serializer for `err` and `error`: pino's standard error serializer, then every
 * {@link REDACTED_ERROR_FIELDS} property replaced, at any depth (wrapped errors such as TypeORM's
 * `driverError`, aggregate errors). Walks with an explicit stack, visits each object once and at
 * most 1,000 objects, and copies plain objects before changing them (the error itself is untouched).
 */
export function redactingErrorSerializer(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown;
  if (typeof out !== 'object' || out === null) return out;
  const serialized = Object.getPrototypeOf(out); // what pino's serializer makes: fresh objects
  const seen = new Set<unknown>([out]);
  const stack: Array<Record<string, unknown>> = [out as Record<string, unknown>];
  let visits = 0;
  while (stack.length && visits++ < 1000) {
    const node = stack.pop()!;
    for (const key of Object.keys(node)) {
      const value = node[key];
      if ((REDACTED_ERROR_FIELDS as readonly string[]).includes(key) && value !== undefined && value !== null) {
        node[key] = REDACTED;
        continue;
      }
      if (typeof value !== 'object' || value === null || seen.has(value)) continue;
      seen.add(value);
      const proto = Object.getPrototypeOf(value);
      if (proto === serialized) stack.push(value as Record<string, unknown>);
      else if (Array.isArray(value)) stack.push((node[key] = [...value]) as unknown as Record<string, unknown>);
      else if (proto === Object.prototype || proto === null) stack.push((node[key] = { ...(value as Record<string, unknown>) }));
    }
  }
  return out;
}
