import type { TestEnvironment } from '@rapport/testing';

export const CONSENTED = { consent: { categoryPreferences: { personalization: true } } };

/** A Segment track message. */
export const track = (userId: string, event: string, properties: Record<string, unknown>, context: Record<string, unknown> = {}) => ({
  type: 'track', userId, event, properties, context,
});

/**
 * Sends messages as one batch with the admin key, waits for the plugins' delivery to count them
 * (it runs off the request path), and returns the profile id of each.
 */
export async function send(env: TestEnvironment, batch: unknown[]): Promise<string[]> {
  const r = await env.post('/v1/batch', { batch }, { key: env.keys.admin });
  if (r.status !== 200) throw new Error(`batch failed: ${r.status} ${JSON.stringify(r.body)}`);
  await env.settle();
  return r.body.results.map((x: { profileId: string }) => x.profileId);
}

export async function setConsent(env: TestEnvironment, profileId: string, granted: boolean): Promise<void> {
  const r = await env.graphql(
    `mutation($id: ID!, $g: Boolean!) { setConsent(input: { profileId: $id, purpose: "personalization", granted: $g }) { granted } }`,
    { id: profileId, g: granted },
  );
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
}

export const RECS = `query($id: ID!, $first: Int, $ctx: RecommendationContext) {
  profile(id: $id) { recommendations(first: $first, context: $ctx) { item { id title category available } score model reason } } }`;

/**
 * Headers of a request acting for `personalization`, the purpose `Profile.recommendations`
 * declares: without them a request gets popularity (the field's fallback), whatever the consent.
 */
export const PERSONAL = { 'x-rapport-purpose': 'personalization' };

/** Creates an `app` key that may act for `personalization` (its one purpose). */
export async function personalKey(env: TestEnvironment): Promise<string> {
  const r = await env.graphql(`mutation { createApiKey(input: { roles: ["app"], purposes: ["personalization"] }) { key } }`);
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
  return r.body.data.createApiKey.key;
}

/** Reads recommendations acting for `personalization` (admin key by default; another key must be allowed that purpose). */
export async function recs(env: TestEnvironment, id: string, first = 10, ctx?: Record<string, unknown>, key?: string) {
  const r = await env.graphql(RECS, { id, first, ctx }, { ...(key ? { key } : {}), headers: PERSONAL });
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
  return r.body.data.profile.recommendations as Array<{ item: { id: string; title: string; category: string }; score: number; model: string; reason: string }>;
}

export async function waitFor<T>(what: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
