import { InitialSchema1763800000000 } from './1763800000000-initial-schema';
import { IdentityResolution1763800000001 } from './1763800000001-identity-resolution';
import { Consent1763800000002 } from './1763800000002-consent';
import { FieldPolicies1763800000003 } from './1763800000003-field-policies';
import { Suppression1763800000004 } from './1763800000004-suppression';
import { Outbox1763800000010 } from './1763800000010-outbox';
import { FlatReads1763800000013 } from './1763800000013-flat-reads';
import { IngestBatchRead1763800000020 } from './1763800000020-ingest-batch-read';
import { ReadAuditFunction1763800000021 } from './1763800000021-read-audit-function';
import { ErasureHold1763800000022 } from './1763800000022-erasure-hold';
import { EventNameIndex1763800000023 } from './1763800000023-event-name-index';
import { EventNewestFunction1763800000024 } from './1763800000024-event-newest-function';
import { AuditTimeIndex1763800000025 } from './1763800000025-audit-time-index';

/** Core migrations, oldest first. */
export const coreMigrations: Function[] = [InitialSchema1763800000000, IdentityResolution1763800000001, Consent1763800000002, FieldPolicies1763800000003, Suppression1763800000004, Outbox1763800000010, FlatReads1763800000013,
  IngestBatchRead1763800000020, ReadAuditFunction1763800000021, ErasureHold1763800000022, EventNameIndex1763800000023,
  EventNewestFunction1763800000024, AuditTimeIndex1763800000025];
