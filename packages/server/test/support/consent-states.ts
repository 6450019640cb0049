import { expect } from 'vitest';
import type { TestEnvironment } from '@rapport/testing';

/** A person's decision for a purpose, as reads see it (`none`: never decided). */
export type ConsentStateName = 'none' | 'granted' | 'expired' | 'denied';

/** Every consent state, in the order the specs read them. */
export const CONSENT_STATES: ConsentStateName[] = ['none', 'granted', 'expired', 'denied'];

/** Defines each purpose with its legal basis (`definePurpose`), as an admin. */
export async function definePurposes(env: TestEnvironment, bases: Record<string, string>): Promise<void> {
  for (const [name, legalBasis] of Object.entries(bases)) {
    const r = await env.graphql(`mutation($n: String!, $b: String!) { definePurpose(input: { name: $n, description: "test", legalBasis: $b }) { name } }`, { n: name, b: legalBasis });
    expect(r.body.errors).toBeUndefined();
  }
}

/**
 * Puts the person `userId` in `state` for each purpose, through a `Consent Updated` track (an expired grant
 * expired in 2001). `none` records nothing.
 */
export async function recordConsent(env: TestEnvironment, userId: string, purposes: string[], state: ConsentStateName): Promise<void> {
  if (state === 'none') return;
  for (const purpose of purposes) {
    await env.post('/v1/track', {
      userId, event: 'Consent Updated',
      properties: { purpose, granted: state !== 'denied', ...(state === 'expired' ? { expiresAt: '2001-01-01T00:00:00Z' } : {}) },
    });
  }
}
