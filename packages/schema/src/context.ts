import type { ApiKeyRecord, RapportCore, RapportServices, Logger } from '@rapport/core';
import { ForbiddenError } from '@rapport/core';
import type { Loaders } from './loaders/loaders';

/** Who is calling: the API key behind the request. */
export interface Caller {
  keyId: string;
  name: string;
  roles: string[];
  /** Purposes this key may act for (consent). */
  purposes: string[];
}

/** The per-request GraphQL context every resolver receives. */
export interface RapportContext {
  requestId: string;
  caller: Caller;
  /** The purpose the request acts for, when it names one. */
  purpose: string | null;
  core: RapportCore;
  services: RapportServices;
  /** Request-scoped DataLoaders: every child read is batched through them. */
  loaders: Loaders;
  logger: Logger;
  /** True when the caller's roles grant the permission. */
  can(permission: string): boolean;
  /** Throws FORBIDDEN unless the caller's roles grant the permission. */
  require(permission: string): void;
}

/** Builds a context for a verified key. */
export function createContext(args: {
  core: RapportCore;
  key: ApiKeyRecord;
  requestId: string;
  purpose: string | null;
  loaders: (ctx: Omit<RapportContext, 'loaders'>) => Loaders;
  logger: Logger;
}): RapportContext {
  const { core, key } = args;
  const caller: Caller = { keyId: key.id, name: key.name, roles: key.roles, purposes: key.purposes };
  const base = {
    requestId: args.requestId,
    caller,
    purpose: args.purpose,
    core,
    services: core.services,
    logger: args.logger,
    can: (p: string) => core.services.roles.can(caller.roles, p),
    require: (p: string) => {
      if (!core.services.roles.can(caller.roles, p)) throw new ForbiddenError(p, caller.roles);
    },
  };
  return Object.assign(base, { loaders: args.loaders(base) });
}
