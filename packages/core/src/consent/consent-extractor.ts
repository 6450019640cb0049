import { ownValue } from '../ingestion/own-key';
import type { NormalizedMessage } from '../ingestion/segment-message.types';
import type { ConsentDecision } from './consent.types';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Purpose name for a Segment consent category (`Advertising` -> `advertising`, `Functional Cookies` -> `functional_cookies`). */
export function purposeOfCategory(category: string): string {
  return category.trim().replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

/**
 * Consent decisions a message carries: Segment's `context.consent.categoryPreferences`
 * (`{ Advertising: false, Analytics: true }`) on any message, and a `Consent Updated` track event
 * with `properties.purpose` + `properties.granted` (and optional `expiresAt`) or its own
 * `properties.categoryPreferences`. Category names map to purposes through `mapping` first,
 * then by lower snake case (a category such as `constructor` is a category like any other).
 */
export function consentDecisionsOf(m: NormalizedMessage, mapping: Record<string, string> = {}): ConsentDecision[] {
  const out: ConsentDecision[] = [];
  const fromPreferences = (prefs: unknown, source: string) => {
    if (!isObject(prefs)) return;
    for (const [category, value] of Object.entries(prefs)) {
      if (typeof value !== 'boolean') continue;
      out.push({ purpose: ownValue(mapping, category) ?? purposeOfCategory(category), granted: value, source, at: m.timestamp, messageId: m.messageId });
    }
  };
  const consent = m.context.consent;
  if (isObject(consent)) fromPreferences(consent.categoryPreferences, 'segment:context.consent');
  if (m.type === 'track' && m.name === 'Consent Updated') {
    const p = m.properties;
    fromPreferences(p.categoryPreferences, 'track:Consent Updated');
    if (typeof p.purpose === 'string' && typeof p.granted === 'boolean') {
      const expires = typeof p.expiresAt === 'string' ? new Date(p.expiresAt) : null;
      out.push({
        purpose: ownValue(mapping, p.purpose) ?? purposeOfCategory(p.purpose), granted: p.granted, source: 'track:Consent Updated', at: m.timestamp,
        expiresAt: expires && !Number.isNaN(expires.getTime()) ? expires : null, messageId: m.messageId,
      });
    }
  }
  return out;
}
