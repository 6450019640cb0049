/** Permissions core checks. Plugins may define their own (`<plugin>:<action>`). */
export const Permission = {
  /** Read profiles, identities, events and everything plugins hang on a profile. */
  ProfilesRead: 'profiles:read',
  /** Send events (HTTP tracking API and GraphQL ingestion mutations). */
  EventsWrite: 'events:write',
  /** Create, list and revoke API keys. */
  KeysManage: 'keys:manage',
  /** Merge and unmerge profiles by hand. */
  ProfilesMerge: 'profiles:merge',
  /** Record a person's consent decisions. */
  ConsentWrite: 'consent:write',
  /** Define purposes. */
  PurposesManage: 'purposes:manage',
  /** Export and delete a person's data (data subject requests). */
  ProfilesErase: 'profiles:erase',
  /** Edit field policies and read the audit log. */
  PoliciesManage: 'policies:manage',
  /** See plugins' event delivery (lag, errors, dead letters) and replay dead letters. */
  PluginsManage: 'plugins:manage',
  /** Scrape the Prometheus metrics at `/metrics` (no personal data: counts, latencies, pool state). */
  MetricsRead: 'metrics:read',
} as const;

/** The built-in roles. `admin` holds every permission, including those plugins add. */
export const BUILTIN_ROLES: Record<string, string[]> = {
  admin: ['*'],
  app: [Permission.ProfilesRead],
  ingest: [Permission.EventsWrite, Permission.ConsentWrite],
  /** For a Prometheus scraper: `/metrics` and nothing else. */
  metrics: [Permission.MetricsRead],
};

/** Roles and what they grant: the built-ins plus any configured or added by plugins. */
export class RoleRegistry {
  private readonly roles = new Map<string, Set<string>>();

  constructor(extra: Record<string, string[]> = {}) {
    for (const [role, perms] of Object.entries({ ...BUILTIN_ROLES })) this.define(role, perms);
    for (const [role, perms] of Object.entries(extra)) this.define(role, perms);
  }

  /** Adds a role, or more permissions to an existing one. */
  define(role: string, permissions: string[]): void {
    let set = this.roles.get(role);
    if (!set) this.roles.set(role, (set = new Set()));
    for (const p of permissions) set.add(p);
  }

  /** True when the role exists. */
  has(role: string): boolean {
    return this.roles.has(role);
  }

  /** Every role name. */
  names(): string[] {
    return [...this.roles.keys()].sort();
  }

  /** True when any of the roles grants the permission. Unknown roles grant nothing. */
  can(roles: readonly string[], permission: string): boolean {
    return roles.some((r) => {
      const set = this.roles.get(r);
      return !!set && (set.has('*') || set.has(permission));
    });
  }
}
