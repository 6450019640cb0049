import type { RoleRegistry } from './auth/roles';
import type { IngestionPipeline } from './ingestion/ingestion.pipeline';
import type { ApiKeyService } from './service/api-key.service';
import type { EventService } from './service/event.service';
import type { ProfileService } from './service/profile.service';

/** The core services, as plugins and the GraphQL layer reach them. */
export interface RapportServices {
  profiles: ProfileService;
  events: EventService;
  keys: ApiKeyService;
  ingestion: IngestionPipeline;
  roles: RoleRegistry;
}
