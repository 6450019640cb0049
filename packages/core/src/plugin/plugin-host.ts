import { randomBytes } from 'node:crypto';
import type { Database } from '../database/database';
import type { Logger } from '../logger/logger';
import type { MetricsRegistry } from '../metrics/metrics.registry';
import type { ProfileService } from '../service/profile.service';
import type { DeliveryStatus } from '../delivery/delivery.types';
import type { ExtensionLookup, ExtensionPoint } from './extension-point';
import { consentAllowsSql } from '../consent/consent-sql';
import { PluginConfigError } from './plugin-registry';
import { pluginEvents } from './plugin-events';
import { holdAgainstErasure } from '../consent/erasure-lock';
import { pluginNotify } from './plugin-notify';
import { pluginTraits, type PluginTraitsDeps } from './plugin-traits';
import type { JobsService, PluginConsent, PluginContext, PluginDatabase, PluginProfiles, SqlRunner } from './plugin-services.types';
import type { RapportPlugin } from './plugin.types';

/** What the host builds plugins' services from. */
export interface PluginHostDeps {
  db: Database;
  logger: Logger;
  profiles: ProfileService;
  metrics: MetricsRegistry;
  /** A plugin's jobs (namespaced by plugin). */
  jobsFor(plugin: string): JobsService;
  /** A plugin's delivery status, and waking delivery. */
  deliveryStatus(plugin: string): Promise<DeliveryStatus | null>;
  kickDelivery(): void;
  /** What `ctx.traits` decides and audits with (policies, PII keys, the audit writer). */
  traits: Omit<PluginTraitsDeps, 'db'>;
}

/** The hooks the host dispatches, with the argument each receives. */
type HookArgs = {
  onProfileMerged: Parameters<NonNullable<RapportPlugin['onProfileMerged']>>[0];
  onProfileUnmerged: Parameters<NonNullable<RapportPlugin['onProfileUnmerged']>>[0];
  onConsentChanged: Parameters<NonNullable<RapportPlugin['onConsentChanged']>>[0];
  onEvent: Parameters<NonNullable<RapportPlugin['onEvent']>>[0];
  onInit: undefined;
  onShutdown: undefined;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The plugin host: builds each plugin's typed, narrow context (`db`, `consent`, `traits`, `profiles`,
 * `events`, `jobs`, `notify`, `metrics`, `extensions`), checks the extension points, and dispatches
 * hooks in dependency order. The only place core calls plugins from.
 */
export class PluginHost {
  private readonly contexts = new Map<string, PluginContext>();
  private readonly points = new Map<string, { provider: string; impl: unknown }>();
  private readonly consent: PluginConsent;
  private readonly profiles: PluginProfiles;
  /** This core, as the sender of plugins' messages (it skips its own). */
  private readonly sender = randomBytes(6).toString('hex');

  constructor(
    /** Plugins in dependency order. */
    readonly plugins: readonly RapportPlugin[],
    private readonly deps: PluginHostDeps,
  ) {
    for (const [id, offered] of PluginHost.check(plugins)) this.points.set(id, offered);
    this.consent = consentAccess(deps.db);
    this.profiles = profileAccess(deps.profiles);
  }

  /**
   * Checks the extension points plugins offer (one provider each, with an implementation) and
   * returns them by id. Called before core opens the database, so a bad plugin list fails fast.
   */
  static check(plugins: readonly RapportPlugin[]): Map<string, { provider: string; impl: unknown }> {
    const points = new Map<string, { provider: string; impl: unknown }>();
    for (const p of plugins) {
      for (const { point, impl } of p.extensionPoints ?? []) {
        const other = points.get(point.id);
        if (other) throw new PluginConfigError(`extension point "${point.id}" is offered by both "${other.provider}" and "${p.name}": an extension point has one provider`);
        if (impl === undefined || impl === null) throw new PluginConfigError(`plugin "${p.name}" offers extension point "${point.id}" without an implementation`);
        points.set(point.id, { provider: p.name, impl });
      }
    }
    return points;
  }

  /** The context handed to a plugin's hooks, delivery handler, jobs and loaders. */
  context(p: RapportPlugin): PluginContext {
    let ctx = this.contexts.get(p.name);
    if (!ctx) {
      const { db, logger, metrics } = this.deps;
      const prefix = `rapport_plugin_${p.name.replace(/-/g, '_')}_`;
      ctx = Object.freeze({
        name: p.name,
        logger: logger.child({ plugin: p.name }),
        db: pluginDatabase(db),
        consent: this.consent,
        traits: pluginTraits(p.name, (p.purposes ?? []).map((d) => d.name), { db, ...this.deps.traits }),
        profiles: this.profiles,
        events: pluginEvents(p, this.deps),
        jobs: this.deps.jobsFor(p.name),
        notify: pluginNotify(p.name, () => db.notifications, this.sender),
        metrics: {
          counter: (name: string, help: string) => metrics.counter(prefix + name, help),
          gauge: (name: string, help: string, collect?: () => number) => metrics.gauge(prefix + name, help, collect),
          labelledGauge: <L extends string>(name: string, help: string, labelNames: readonly L[], collect: () => ReadonlyArray<{ labels: Readonly<Record<L, string>>; value: number }>) =>
            void metrics.labelledGauge(prefix + name, help, labelNames, { collect }),
        },
        extensions: this.lookupFor(p),
      });
      this.contexts.set(p.name, ctx);
    }
    return ctx;
  }

  /**
   * Calls `hook` of every plugin that has it, in dependency order (reverse for `onShutdown`), once
   * per argument. A throw is logged with the plugin's name and does not stop the others: what core
   * stored stays stored.
   */
  async dispatch<K extends keyof HookArgs>(hook: K, args: ReadonlyArray<HookArgs[K]> = [undefined as HookArgs[K]]): Promise<void> {
    if (!args.length) return;
    const order = hook === 'onShutdown' ? [...this.plugins].reverse() : this.plugins;
    for (const p of order) {
      const fn = p[hook] as ((arg: unknown, ctx: PluginContext) => unknown) | undefined;
      if (!fn) continue;
      const ctx = this.context(p);
      for (const arg of args) {
        try {
          await (hook === 'onInit' || hook === 'onShutdown' ? (fn as (ctx: PluginContext) => unknown).call(p, ctx) : fn.call(p, arg, ctx));
        } catch (err) {
          if (hook === 'onInit') throw err; // a plugin that cannot start stops the start
          this.deps.logger.error({ err, plugin: p.name, hook }, `${hook} failed`);
        }
      }
    }
  }

  /** Runs every plugin's `onProfileDeleted` inside core's delete transaction; a throw aborts the deletion. */
  async deleted(profileIds: string[], tx: SqlRunner): Promise<void> {
    for (const p of this.plugins) await p.onProfileDeleted?.(profileIds, { ...this.context(p), tx });
  }

  /** What every plugin holds on these profiles, by plugin name, for an export. */
  async exported(profileIds: string[]): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const p of this.plugins) if (p.onExport) out[p.name] = await p.onExport(profileIds, this.context(p));
    return out;
  }

  /** True when some plugin handles events inline (in the request). */
  get hasInlineEventHooks(): boolean {
    return this.plugins.some((p) => p.onEvent);
  }

  private lookupFor(p: RapportPlugin): ExtensionLookup {
    const reachable = new Set<string>();
    const byName = new Map(this.plugins.map((x) => [x.name, x]));
    const walk = (name: string) => {
      for (const d of byName.get(name)?.dependsOn ?? []) if (!reachable.has(d)) (reachable.add(d), walk(d));
    };
    walk(p.name);
    return {
      get: <T>(point: ExtensionPoint<T>): T => {
        const found = this.points.get(point.id);
        if (!found) throw new PluginConfigError(`plugin "${p.name}" uses extension point "${point.id}", which no installed plugin offers`);
        if (found.provider !== p.name && !reachable.has(found.provider)) {
          throw new PluginConfigError(`plugin "${p.name}" uses extension point "${point.id}" of "${found.provider}": add "${found.provider}" to its dependsOn`);
        }
        return found.impl as T;
      },
    };
  }
}

/** A plugin's `ctx.db`: core's pool, without the pool itself. */
function pluginDatabase(db: Database): PluginDatabase {
  return {
    query: (sql, params) => db.query(sql, params),
    transaction: (work) => db.transaction((tx) => work(tx)),
    get available() {
      return db.available;
    },
  };
}

/** `ctx.consent`: the one legal-basis rule, as SQL generated from its table ({@link consentAllowsSql}). */
function consentAccess(db: Database): PluginConsent {
  return {
    async allows(profileIds, purpose) {
      const out = new Map<string, boolean>(profileIds.map((id) => [id, false]));
      const rule = consentAllowsSql('q.id', purpose); // checks the purpose name
      const valid = [...new Set(profileIds.filter((id) => UUID.test(id)))];
      if (!valid.length) return out;
      const rows = await db.query<{ id: string; ok: boolean }>(`SELECT q.id, ${rule} AS ok FROM unnest($1::uuid[]) AS q(id)`, [valid]);
      const byLower = new Map(rows.map((r) => [r.id.toLowerCase(), r.ok]));
      for (const id of profileIds) if (UUID.test(id)) out.set(id, byLower.get(id.toLowerCase()) ?? false);
      return out;
    },
    sql: consentAllowsSql,
  };
}

/** `ctx.profiles`: live ids, no personal data. */
function profileAccess(profiles: ProfileService): PluginProfiles {
  return {
    async resolve(ids) {
      const found = await profiles.byIds(ids);
      return found.map((p, k) => (p ? { id: ids[k], liveId: p.id, createdAt: p.createdAt, updatedAt: p.updatedAt } : null));
    },
    hold: (tx, ids) => holdAgainstErasure(tx, ids),
  };
}
