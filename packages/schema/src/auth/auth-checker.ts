import type { AuthChecker } from 'type-graphql';
import type { RapportContext } from '../context';

/**
 * `@Authorized('profiles:read')` names permissions, not roles: the caller's roles must grant every
 * one listed. A refusal is a FORBIDDEN error that says which permission was missing.
 */
export const permissionAuthChecker: AuthChecker<RapportContext> = ({ context }, permissions) => {
  for (const p of permissions) context.require(p);
  return true;
};
