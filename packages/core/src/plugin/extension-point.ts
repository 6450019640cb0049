/**
 * Extension points: a plugin offers a typed interface that other plugins extend (journeys offers
 * stages to segments), modelled on Backstage's `createExtensionPoint`. The offering plugin lists
 * `provide(point, impl)` in its `extensionPoints`; a plugin using it names the offering plugin in
 * `dependsOn` and calls `ctx.extensions.get(point)` (in `onInit` or later).
 */

/** A typed key for an extension point. `T` is the interface the offering plugin implements. */
export interface ExtensionPoint<T> {
  readonly id: string;
  /** Carries `T` for type inference only; never set. */
  readonly implementation?: T;
}

/** An extension point with its implementation, as a plugin offers it. */
export interface ProvidedExtension<T = unknown> {
  point: ExtensionPoint<T>;
  impl: T;
}

/** What `ctx.extensions` offers a plugin. */
export interface ExtensionLookup {
  /**
   * The implementation of `point`. Throws when no plugin offers it, or when the offering plugin
   * is not in this plugin's `dependsOn` (it may not be initialised yet).
   */
  get<T>(point: ExtensionPoint<T>): T;
}

const ID = /^[a-z][a-z0-9-]*(\.[a-z][a-zA-Z0-9-]*)+$/;

/**
 * Creates an extension point. `id` is `<plugin>.<name>` (`journeys.stages`), unique in a deployment.
 *
 * ```ts
 * export const stagesExtensionPoint = createExtensionPoint<{ addStage(stage: StageDefinition): void }>('journeys.stages');
 * ```
 */
export function createExtensionPoint<T>(id: string): ExtensionPoint<T> {
  if (!ID.test(id)) throw new RangeError(`an extension point id is "<plugin>.<name>" in lower case (journeys.stages), got "${id}"`);
  return { id };
}

/** Offers `impl` as the implementation of `point`, for a plugin's `extensionPoints`. */
export function provide<T>(point: ExtensionPoint<T>, impl: T): ProvidedExtension<T> {
  return { point, impl };
}
