/** What a GraphQL resolver's context holds of plugins' request loaders (`ctx.loaders.plugins`). */
export interface RequestLoaders {
  loaders: { plugins: Record<string, unknown> };
}

/**
 * A typed key for a plugin's request-scoped loaders, typed at both ends: the plugin's `loaders`
 * returns `key.provide({...})` (checked against `L`), and its resolvers read them back with
 * `key.of(ctx)`, typed, instead of casting `ctx.loaders.plugins[name]`.
 */
export interface LoadersKey<L> {
  readonly plugin: string;
  /** In the plugin's `loaders`: this request's loaders, checked against `L`. */
  provide(loaders: L): L;
  /** In a resolver: this request's loaders of the plugin. */
  of(request: RequestLoaders): L;
}

/**
 * Creates the typed key of a plugin's request loaders:
 *
 * ```ts
 * export interface LoyaltyLoaders { account: DataLoader<string, Account | null> }
 * export const loyaltyLoaders = createLoadersKey<LoyaltyLoaders>('loyalty');
 * // plugin:   loaders: (ctx) => loyaltyLoaders.provide({ account: new DataLoader(...) })
 * // resolver: await loyaltyLoaders.of(ctx).account.load(profile.id)
 * ```
 */
export function createLoadersKey<L extends object>(plugin: string): LoadersKey<L> {
  return {
    plugin,
    provide: (loaders) => loaders,
    of(request) {
      const found = request.loaders.plugins[plugin];
      if (!found) throw new Error(`no request loaders of plugin "${plugin}": is it installed, and does its \`loaders\` return them?`);
      return found as L;
    },
  };
}
