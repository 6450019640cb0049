import { RapportError, ValidationError, type ApiKeyRecord, type RapportCore } from '@rapport/core/internal';

/** The header (and `connection_init` payload key) naming the purpose a request acts for. */
export const PURPOSE_HEADER = 'x-rapport-purpose';

/**
 * The purpose a request acts for: the one it names (the `X-Rapport-Purpose` header, or the same key
 * in a WebSocket's `connection_init` payload), else the key's only purpose, else none. A purpose
 * that does not exist is a VALIDATION_FAILED error (HTTP 400); one the key may not act for is
 * FORBIDDEN (403); `admin` keys may name any.
 */
export async function purposeFor(core: RapportCore, named: unknown, key: ApiKeyRecord): Promise<string | null> {
  const name = typeof named === 'string' && named.trim() ? named.trim() : null;
  if (!name) return key.purposes.length === 1 ? key.purposes[0] : null;
  const known = await core.services.consent.purposeNames();
  if (!known.has(name)) {
    throw new ValidationError(PURPOSE_HEADER, 'enum', `"${name}" is not a purpose; purposes are ${[...known].sort().join(', ')}`);
  }
  if (!key.purposes.includes(name) && !key.roles.includes('admin')) {
    const may = key.purposes.length ? `may act for [${key.purposes.join(', ')}]` : 'may act for no purpose (create keys with --purpose)';
    throw new RapportError('FORBIDDEN', `${PURPOSE_HEADER}: this key ${may}, not "${name}"`, PURPOSE_HEADER, 'purpose');
  }
  return name;
}
