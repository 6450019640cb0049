import { resolveConfig } from './config/default-config';
import type { RapportConfig, RapportConfigInput } from './config/rapport-config';
import { Database } from './database/database';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './database/embedded-postgres';
import { RoleRegistry } from './auth/roles';
import { IngestionPipeline } from './ingestion/ingestion.pipeline';
import { IngestionService, type IngestOutcome } from './ingestion/ingestion.service';
import { MergeProtection } from './identity/merge-protection';
import { createLogger, type Logger } from './logger/logger';
import { checkCompatibility, orderPlugins } from './plugin/plugin-registry';
import type { RapportPlugin } from './plugin/plugin.types';
import type { PluginContext } from './plugin/plugin-services.types';
import { PluginHost } from './plugin/plugin-host';
import { MetricsRegistry } from './metrics/metrics.registry';
import { deliveryMetrics, ingestionMetrics, registerDatabaseMetrics } from './metrics/core.metrics';
import { JobRunner } from './jobs/job-runner.service';
import type { RapportServices } from './rapport.types';
import { ApiKeyService } from './service/api-key.service';
import { EventService, type EventRecord } from './service/event.service';
import { EventPageCoalescer } from './service/event-page.coalescer';
import { ProfileBundleReader } from './service/profile-bundle.reader';
import { ReadAuditWriter } from './consent/read-audit.writer';
import { ProfileService } from './service/profile.service';
import { Survivorship, type SurvivorshipRule } from './identity/survivorship';
import { setOwn } from './ingestion/own-key';
import { ProfileMerger } from './identity/resolution/profile-merger';
import { ResolutionService } from './identity/resolution/resolution.service';
import { ConsentService } from './consent/consent.service';
import { FieldPolicyService } from './consent/field-policy.service';
import { DataSubjectService } from './consent/data-subject.service';
import { EventDelivery } from './delivery/event-delivery.service';
import { RequestLoad } from './delivery/request-load';

import { CORE_VERSION } from './core-version';

/** A started Rapport core: database, services and plugins, without any server. */
export interface RapportCore {
  config: RapportConfig;
  logger: Logger;
  db: Database;
  services: RapportServices;
  /** Plugins in dependency order. */
  plugins: RapportPlugin[];
  /** Context handed to a plugin's hooks. */
  pluginContext(plugin: RapportPlugin): PluginContext;
  /** Builds plugins' contexts and dispatches their hooks. */
  host: PluginHost;
  /** Counters and gauges of core and plugins. */
  metrics: MetricsRegistry;
  /** Background jobs and cluster-wide schedules (pg-boss). */
  jobs: JobRunner;
  /**
   * This process's request path: the HTTP server marks each request it answers; plugins' deliveries step back while
   * it is saturated (`delivery.stepBackShare`). A program that embeds the core and answers requests marks its own.
   */
  requestLoad: RequestLoad;
  /** Runs shutdown hooks, closes the pool and stops an embedded PostgreSQL this process started. */
  close(): Promise<void>;
}

export interface CreateRapportOptions {
  /** Fail instead of warn when a plugin declares another core version. */
  strictCompatibility?: boolean;
  /** Skip migrations (the `migrate` CLI command runs them itself). */
  migrate?: boolean;
  /**
   * Run plugins' event delivery and work jobs in this process (default true). One-shot commands
   * (the CLI's `train`, `keys`, `resolve`, ...) pass false: servers do that work. Plugins' `onInit`
   * still runs; their `jobs.work`, `schedule` and `unschedule` do nothing then, `send` still enqueues.
   */
  background?: boolean;
}

/**
 * Starts Rapport's core: orders and checks plugins (before touching the database, so a bad plugin
 * list fails fast), opens PostgreSQL (embedded unless `database.url` is set), applies core and plugin
 * migrations, builds the services and runs each plugin's `onInit`.
 */
export async function createRapport(input: RapportConfigInput = {}, options: CreateRapportOptions = {}): Promise<RapportCore> {
  const config = resolveConfig(input);
  const logger = config.logger ?? createLogger();
  config.logger = logger;
  const plugins = orderPlugins(config.plugins);
  PluginHost.check(plugins); // extension points, before the database opens
  checkCompatibility(plugins, CORE_VERSION, options.strictCompatibility ?? input.strictCompatibility ?? false, logger);

  let embedded: EmbeddedPostgresHandle | undefined;
  let url = config.database.url;
  if (!url) {
    embedded = await startEmbeddedPostgres({ ...config.database.embedded, logger });
    url = embedded.url;
  }
  const db = new Database({
    url, poolSize: config.database.poolSize, poolMin: config.database.poolMin, idleTimeoutMs: config.database.idleTimeoutMs, logger,
    acquireTimeoutMs: config.database.acquireTimeoutMs,
    statementTimeoutMs: config.database.statementTimeoutMs,
    lockTimeoutMs: config.database.lockTimeoutMs,
    queryTimeoutMs: config.database.queryTimeoutMs,
    preparedStatements: config.database.preparedStatements,
    entities: plugins.flatMap((p) => p.entities ?? []),
    migrations: plugins.flatMap((p) => p.migrations ?? []),
  });
  try {
    await db.connect({ migrate: options.migrate });
  } catch (err) {
    await db.close().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw err;
  }

  const roles = new RoleRegistry(config.roles);
  for (const p of plugins) for (const [role, perms] of Object.entries(p.permissions ?? {})) roles.define(role, perms);
  const protection = new MergeProtection(config.identity);
  // Own keys only (a plugin's rule may be keyed like an Object.prototype member: Object.assign would set the prototype).
  const pluginRules: Record<string, SurvivorshipRule> = {};
  for (const p of plugins) for (const [key, rule] of Object.entries(p.survivorship ?? {})) setOwn(pluginRules, key, rule);
  const survivorship = new Survivorship({ ...config.identity.survivorship, traits: { ...pluginRules, ...config.identity.survivorship.traits } });
  const profiles = new ProfileService(db, config.identity);
  const events = new EventService(db);
  const keys = new ApiKeyService(db, roles);
  const services = { profiles, profileBundles: new ProfileBundleReader(db), events, eventPages: new EventPageCoalescer(events), keys, roles } as RapportServices;
  const background = options.background ?? true;
  const metrics = new MetricsRegistry();
  registerDatabaseMetrics(metrics, db);
  const jobs = new JobRunner(db, logger.child({ component: 'jobs' }), config.jobs);
  let delivery: EventDelivery | undefined;
  const requestLoad = new RequestLoad();
  const host = new PluginHost(plugins, {
    db, logger, profiles, metrics,
    // Without background work (one-shot CLI commands) nothing runs here and schedules are left as
    // the servers set them: a command run with another config must not change the cluster's.
    jobsFor: (name) =>
      background ? jobs.forPlugin(name) : { ...jobs.forPlugin(name), work: async () => undefined, schedule: async () => undefined, unschedule: async () => undefined },
    deliveryStatus: async (name) => (await delivery?.status())?.find((s) => s.consumer === name) ?? null,
    kickDelivery: () => delivery?.kick(),
    // The policy service and the audit writer are built below; plugins read traits only once started.
    traits: {
      policies: () => services.policies.all(),
      piiTraits: config.consent.piiTraits,
      audit: (entries) => services.readAudit.record(entries),
    },
  });
  const pluginContext = (p: RapportPlugin): PluginContext => host.context(p);
  const merger = new ProfileMerger(db, config.identity, survivorship);
  const notifyMerged = (m: { survivorId: string; mergedId: string; rule: string }) => host.dispatch('onProfileMerged', [m]);
  const resolution = new ResolutionService(db, config.identity, merger, notifyMerged, logger);
  const after = async (outcome: IngestOutcome) => {
    if (outcome.stored.length || outcome.merges.length || outcome.consents.length) delivery?.kick();
    await host.dispatch('onProfileMerged', outcome.merges);
    if (host.hasInlineEventHooks) await host.dispatch('onEvent', outcome.stored.map(toEventRecord));
    if (outcome.consents.length) {
      await notifyConsent(outcome.consents.map((c) => ({ profileId: c.profileId, purpose: c.decision.purpose, granted: c.decision.granted })));
    }
    const identified = outcome.stored.filter((s) => s.message.type === 'identify').map((s) => s.profileId);
    if (identified.length) resolution.enqueue([...new Set(identified)]);
  };
  const consent = new ConsentService(db);
  const subjects = new DataSubjectService(db);
  const notifyConsent = (changes: Array<{ profileId: string; purpose: string; granted: boolean }>) => host.dispatch('onConsentChanged', changes);
  services.ingestion = new IngestionPipeline(
    config, new IngestionService(db, protection, survivorship, consent, config.consent.categoryMapping, subjects, logger), after, logger,
    plugins.flatMap((p) => (p.checkEvent ? [{ plugin: p.name, check: p.checkEvent.bind(p) }] : [])),
  );
  services.ingestion.countWith(ingestionMetrics(metrics));
  services.consent = consent;
  services.policies = new FieldPolicyService(db, consent, roles);
  services.subjects = subjects;
  services.readAudit = new ReadAuditWriter(db);
  services.exportProfile = async (id, actor) => {
    const out = await subjects.export(id, actor);
    const ids = [String(out.profile.id), ...out.mergedProfiles];
    Object.assign(out.plugins, await host.exported(ids));
    return out;
  };
  services.deleteProfile = (id, actor) =>
    subjects.delete(id, actor, (tx, ids) => host.deleted(ids, tx));
  services.setConsent = async (profileId, decision, actor) => {
    const r = await consent.set(profileId, decision, actor);
    delivery?.kick();
    await notifyConsent([{ profileId: r.profileId, purpose: r.purpose, granted: r.granted }]);
    return r;
  };
  services.merger = merger;
  services.resolution = resolution;
  services.mergeProfiles = async (ids, reason, actor) => {
    const r = await merger.merge(ids, { rule: 'manual', actor, reason: { note: reason }, enforceLimits: 'all' });
    delivery?.kick();
    for (const m of r.mergedIds) await notifyMerged({ survivorId: r.survivorId, mergedId: m, rule: 'manual' });
    return r;
  };
  services.unmergeProfile = async (id, actor) => {
    const r = await merger.unmerge(id, actor);
    delivery?.kick();
    await host.dispatch('onProfileUnmerged', [{ survivorId: r.survivorId, restoredId: r.restoredId, actor }]);
    return r;
  };

  try {
    delivery = new EventDelivery(
      db,
      plugins.filter((p) => p.delivery).map((p) => ({ name: p.name, subscription: p.delivery!, ctx: pluginContext(p) })),
      logger.child({ component: 'delivery' }),
      config.delivery,
      config.delivery.transport?.(db),
      requestLoad,
    );
    services.delivery = delivery;
    delivery.countWith(deliveryMetrics(metrics, () => delivery!.status()));
    await declarePurposes(plugins, consent);
    await jobs.start();
    await host.dispatch('onInit');
    if (background) await delivery.start();
  } catch (err) {
    await delivery?.stop(0).catch(() => undefined);
    await jobs.stop(0).catch(() => undefined);
    await db.close().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw err;
  }
  logger.info({ plugins: plugins.map((p) => p.name), database: embedded ? 'embedded' : 'external' }, 'rapport core ready');

  return {
    config, logger, db, services, plugins, pluginContext, host, metrics, jobs, requestLoad,
    async close() {
      await delivery?.stop();
      requestLoad.close();
      await jobs.stop();
      await resolution.drain();
      await host.dispatch('onShutdown');
      await db.close();
      await embedded?.stop();
    },
  };
}

/**
 * Creates the purposes plugins declare that do not exist yet. An existing purpose is left as it is,
 * so an admin's later edit (description, legal basis) wins over the declaration.
 */
async function declarePurposes(plugins: RapportPlugin[], consent: ConsentService): Promise<void> {
  const known = await consent.purposeNames();
  for (const p of plugins) {
    for (const d of p.purposes ?? []) {
      if (known.has(d.name)) continue;
      try {
        await consent.definePurpose({ name: d.name, description: d.description, legalBasis: d.legalBasis ?? 'consent' });
      } catch (err) {
        throw new Error(`plugin ${p.name} declares purpose "${d.name}": ${(err as Error).message}`);
      }
      known.add(d.name);
    }
  }
}

/** A stored message as `onEvent` receives it. */
function toEventRecord({ message: m, profileId, originProfileId, eventId }: IngestOutcome['stored'][number]): EventRecord {
  return {
    id: eventId, messageId: m.messageId, profileId, originProfileId, type: m.type, name: m.name, groupId: m.groupId, category: m.category, userId: m.userId,
    anonymousId: m.anonymousId, properties: m.properties, traits: m.traits, context: m.context, timestamp: m.timestamp,
    originalTimestamp: m.originalTimestamp, sentAt: m.sentAt, receivedAt: m.receivedAt,
  } as EventRecord;
}
