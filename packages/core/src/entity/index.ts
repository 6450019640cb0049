import { ApiKeyEntity } from './api-key.entity';
import { EventEntity } from './event.entity';
import { IdentityEntity } from './identity.entity';
import { MergeEntity } from './merge.entity';
import { ProfileEntity } from './profile.entity';

export { ApiKeyEntity, EventEntity, IdentityEntity, MergeEntity, ProfileEntity };
export type { TraitSource } from './profile.entity';

/** The entities core owns. */
export const coreEntities: Function[] = [ProfileEntity, IdentityEntity, EventEntity, MergeEntity, ApiKeyEntity];
