import type { EventRecord } from '../service/event.service';
import type { SurvivorshipRule } from '../identity/survivorship';
import type { DeliverySubscription } from '../delivery/delivery.types';
import type { ProvidedExtension } from './extension-point';
import type { PluginContext, SqlRunner } from './plugin-services.types';

export type { PluginContext } from './plugin-services.types';

/** A merge, as hooks see it. */
export interface ProfileMergedEvent {
  survivorId: string;
  mergedId: string;
  /** `alias`, `shared_identity`, `manual` or `probabilistic`. */
  rule: string;
  messageId?: string;
}

/**
 * A purpose a plugin's data serves (consent), declared so admins can see and govern it. It is
 * created at start when no purpose of that name exists; an existing one (an admin's edit) is kept.
 */
export interface PurposeDeclaration {
  name: string;
  description: string;
  /** `consent` (the default), `contract`, `legal_obligation` or `legitimate_interest`. */
  legalBasis?: string;
}

/** A field a plugin adds to a GraphQL type, the purposes its data serves and who may read it. */
export interface FieldDeclaration {
  type: string;
  field: string;
  purposes: string[];
  /** True when the field holds personal data. */
  pii?: boolean;
  /** Roles that may read the field (default: any role with the permission to reach it). */
  roles?: string[];
  /**
   * The data elements the field's value is derived from (`events`, `identities`, `traits`,
   * `trait:<key>`, `identity:<type>`, `event:<name>.<properties|context>.<path>`). The guard denies
   * the field (null, with the element's error) whenever a request may not read one of them, so a
   * policy on the data covers what is computed from it. The same can be declared on the resolver
   * with type-graphql's `@Extensions({ derivesFrom: [...] })`.
   */
  derivesFrom?: string[];
}

/** A message as a plugin's {@link RapportPlugin.checkEvent} sees it: validated, not stored yet. */
export interface CheckedEvent {
  /** `track`, `page`, `identify`, ... */
  type: string;
  /** The event name (`track`), or the page or screen name; null otherwise. */
  name: string | null;
  /** The message's `properties` as sent (`{}` when it had none). Do not change them. */
  properties: Readonly<Record<string, unknown>>;
}

/**
 * Something a plugin will not use as sent, told to the sender in the ingestion response's
 * `warnings` as `<field path>: <message> (<plugin>: <rule>)`, e.g.
 * `batch[2].properties.price: "1,99" is not a number; the item's price was left empty (recommendations: number)`.
 */
export interface EventWarning {
  /** Path of the value inside the message, e.g. `properties.products[0].price`. */
  field: string;
  /** Short name of the rule it breaks, e.g. `number`, `array`. */
  rule: string;
  /** What is wrong and what the plugin does instead, without the field path. */
  message: string;
}

/**
 * A plugin: a plain object of optional parts and hooks. Make one with {@link definePlugin}.
 * Hooks run in `dependsOn` order; a hook that throws is logged and does not undo what core stored.
 */
export interface RapportPlugin {
  /** Unique, kebab-case (`loyalty`, `recommendations`). */
  name: string;
  /** The plugin's own version, for logs and the health query. */
  version?: string;
  /** Semver range of `@rapport/core` it was built for; a mismatch warns (or fails with `strictCompatibility`). */
  compatibility?: string;
  /** Plugins that must be set up before this one. */
  dependsOn?: string[];
  /** TypeORM entities the plugin owns (tables come from its migrations, never `synchronize`). */
  entities?: Function[];
  /** TypeORM migrations creating and changing the plugin's tables. Timestamps in class names order them. */
  migrations?: Function[];
  /**
   * type-graphql resolver classes; a `@Resolver(() => Profile)` with `@FieldResolver` adds a field to Profile, and a
   * `@Subscription` whose `subscribe` returns a `subscriptionStream` (from `@rapport/schema`) adds a subscription,
   * served over WebSocket (docs/plugins.md#subscriptions).
   */
  resolvers?: Function[];
  /** Roles the plugin adds or extends: role -> permissions. */
  permissions?: Record<string, string[]>;
  /** Purposes the plugin's data serves; created at start when missing (an admin's later edits win). */
  purposes?: PurposeDeclaration[];
  /**
   * Extension points this plugin offers to others (`provide(point, impl)`); a plugin using one
   * lists this plugin in `dependsOn` and calls `ctx.extensions.get(point)`. Two plugins offering
   * one point fail the start.
   */
  extensionPoints?: ProvidedExtension[];
  /** Survivorship rules the plugin supplies for trait keys (e.g. a function for `loyaltyTier`). */
  survivorship?: Record<string, SurvivorshipRule>;
  /**
   * Fields the plugin adds, the purposes their data serves and the data elements they derive from:
   * the field's default policy, enforced by the guard when no admin policy names the field (an
   * admin policy wins); `derivesFrom` holds whatever the policy. The same as `@Governed` on the
   * field resolver (from `@rapport/schema`), which can also declare a fallback.
   */
  fields?: FieldDeclaration[];
  /**
   * Request-scoped loaders (DataLoader instances, or anything with per-request caches), created
   * for every GraphQL request. Type them with a {@link createLoadersKey} key: return
   * `key.provide({...})` here and read `key.of(ctx)` in resolvers.
   */
  loaders?(ctx: PluginContext): object;
  /**
   * Reports values of a message this plugin will not use as sent (a price it cannot read, a
   * `products` that is not a list), as warnings in the ingestion response. Called for every valid
   * message during validation, before anything is stored, by `/v1/*` and the ingest mutations.
   * It must be synchronous, fast and pure (no I/O, no state): it can only add warnings, never
   * reject or change a message; a throw is logged and ignored.
   */
  checkEvent?(event: CheckedEvent): readonly EventWarning[] | void;
  /**
   * What the plugin wants the `health` query to show about it (`plugins { status }`): a small JSON
   * object, e.g. which model serves and when the next training runs. Called on every `health`
   * query; keep it cheap. A throw shows `{ error }` instead.
   */
  status?(ctx: PluginContext): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Called once at start, after migrations, in dependency order. */
  onInit?(ctx: PluginContext): void | Promise<void>;
  /**
   * Durable, batched delivery of what core stores (events, merges, unmerges, consent decisions):
   * at-least-once, off the request path, in commit order, retried and dead-lettered, resumed after a
   * crash, and optionally from the start of history. The way to react to data; see docs/plugins.md.
   */
  delivery?: DeliverySubscription<PluginContext>;
  /**
   * Inline: called for each stored event (not for duplicates), after the transaction committed and
   * before the response, in the request. Not durable (a crash between commit and hook loses it; a
   * throw is logged and dropped) and it slows ingestion: use `delivery` unless the effect must be
   * visible to the very next request.
   */
  onEvent?(event: EventRecord, ctx: PluginContext): void | Promise<void>;
  /** Called after one profile was merged into another. */
  onProfileMerged?(merge: ProfileMergedEvent, ctx: PluginContext): void | Promise<void>;
  /** Called after a merge was undone: `restoredId` is live again, split from `survivorId`. */
  onProfileUnmerged?(unmerge: { survivorId: string; restoredId: string; actor: string }, ctx: PluginContext): void | Promise<void>;
  /** Returns what the plugin holds on these profiles (the person and their merged profiles), for `exportProfile`. */
  onExport?(profileIds: string[], ctx: PluginContext): unknown | Promise<unknown>;
  /**
   * Deletes what the plugin holds on these profiles, inside core's delete transaction (use `tx`).
   * A throw aborts the whole deletion.
   */
  onProfileDeleted?(profileIds: string[], ctx: PluginContext & { tx: SqlRunner }): void | Promise<void>;
  /** Called after a profile's consent for a purpose changed. */
  onConsentChanged?(change: { profileId: string; purpose: string; granted: boolean }, ctx: PluginContext): void | Promise<void>;
  /**
   * Trains the plugin's models, run by `rapport train <plugin name>` in its own process (never in
   * a request). Returns a summary printed as JSON. Report progress through `onProgress`.
   */
  train?(ctx: PluginContext, options: { args: string[]; onProgress: (message: string) => void }): Promise<Record<string, unknown>>;
  /** Called once at shutdown, in reverse dependency order. */
  onShutdown?(ctx: PluginContext): void | Promise<void>;
}

/** A plugin factory: call it (with options, or none) to get the plugin value. */
export type PluginFactory<O> = (options?: O) => RapportPlugin;

/**
 * Defines a plugin as a factory, so options can be added later without breaking users:
 *
 * ```ts
 * export const loyaltyPlugin = definePlugin((opts: { goldAt?: number } = {}) => ({
 *   name: 'loyalty',
 *   entities: [LoyaltyAccount],
 *   migrations: [CreateLoyalty1763900000000],
 *   resolvers: [LoyaltyResolver],
 *   delivery: { kinds: ['event'], handle: async (changes, ctx) => { ... } },
 * }));
 * // rapport.config: plugins: [loyaltyPlugin({ goldAt: 500 })]
 * ```
 */
export function definePlugin<O = void>(factory: (options: O) => RapportPlugin): PluginFactory<O> {
  return (options?: O) => factory((options ?? {}) as O);
}
