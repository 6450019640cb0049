import type { RoleRegistry } from './auth/roles';
import type { IngestionPipeline } from './ingestion/ingestion.pipeline';
import type { ApiKeyService } from './service/api-key.service';
import type { EventService } from './service/event.service';
import type { EventPageCoalescer } from './service/event-page.coalescer';
import type { ProfileBundleReader } from './service/profile-bundle.reader';
import type { ReadAuditWriter } from './consent/read-audit.writer';
import type { ProfileService } from './service/profile.service';
import type { ProfileMerger } from './identity/resolution/profile-merger';
import type { ConsentService } from './consent/consent.service';
import type { FieldPolicyService } from './consent/field-policy.service';
import type { DataSubjectService, ProfileExport } from './consent/data-subject.service';
import type { ConsentDecision, ConsentRecord } from './consent/consent.types';
import type { ResolutionService } from './identity/resolution/resolution.service';
import type { EventDelivery } from './delivery/event-delivery.service';

/** The core services, as plugins and the GraphQL layer reach them. */
export interface RapportServices {
  profiles: ProfileService;
  /** A profile with the child reads a query asks for, in one statement (the `profile(id:)` query reads through it). */
  profileBundles: ProfileBundleReader;
  events: EventService;
  /** Events pages, concurrent requests' reads sharing one statement (the GraphQL loaders read through it). */
  eventPages: EventPageCoalescer;
  keys: ApiKeyService;
  ingestion: IngestionPipeline;
  roles: RoleRegistry;
  /** Merges and unmerges of stored profiles. Call through `resolution`/GraphQL to reach plugin hooks. */
  merger: ProfileMerger;
  /** Probabilistic matching, review queue, manual merge and unmerge. */
  resolution: ResolutionService;
  /** Merges by hand (hooks included). */
  mergeProfiles(ids: string[], reason: string, actor: string): Promise<{ survivorId: string; mergedIds: string[] }>;
  /** Purposes and consents. */
  consent: ConsentService;
  /** Field policies (who may read what, for which purpose). */
  policies: FieldPolicyService;
  /** Records a consent decision (hooks included). */
  setConsent(profileId: string, decision: ConsentDecision, actor: string): Promise<ConsentRecord>;
  /** The audit log's entries for reads of personal data (concurrent requests share one write). */
  readAudit: ReadAuditWriter;
  /** Data subject requests (raw; use exportProfile/deleteProfile for plugin data and hooks). */
  subjects: DataSubjectService;
  /** Everything held on a person, plugins included; audited. */
  exportProfile(id: string, actor: { keyId: string | null; name: string }): Promise<ProfileExport>;
  /** Hard-deletes a person (plugins included) and suppresses their identities; audited. */
  deleteProfile(id: string, actor: { keyId: string | null; name: string }): Promise<{ profileIds: string[]; suppressed: number }>;
  /** Plugins' durable event delivery: status, dead letters, replay. */
  delivery: EventDelivery;
  /** Undoes a merge (hooks included). */
  unmergeProfile(id: string, actor: string): Promise<{ restoredId: string; survivorId: string }>;
}
