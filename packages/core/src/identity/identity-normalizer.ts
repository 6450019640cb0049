import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import type { IdentityConfig } from './identity.config';

/** A practical email check: something@domain.tld, no spaces, one @. */
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
/** Values made only of zeros and separators (`0`, `0000`, `00000000-0000-0000-0000-000000000000`). */
const ALL_ZEROS = /^[0\s\-_.:]+$/;

/** Lower-cases and trims an email address; returns null when it is not one. */
export function normalizeEmail(value: string): string | null {
  const v = value.trim().toLowerCase();
  return EMAIL.test(v) ? v : null;
}

/** Formats a phone number as E.164 (`+441632960961`); returns null when it cannot be parsed as a valid number. */
export function normalizePhone(value: string, defaultRegion?: string): string | null {
  const parsed = parsePhoneNumberFromString(value.trim(), defaultRegion as CountryCode | undefined);
  return parsed && parsed.isValid() ? parsed.number : null;
}

/** Lower snake case for identity type names from `context.externalIds` (`GA Client ID` -> `ga_client_id`). */
export function normalizeIdentityType(type: string): string {
  return type.trim().replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

/**
 * True when a value must never link anything: empty, all zeros, or one of the configured
 * placeholder values (compared case-insensitively).
 */
export function isBlockedValue(value: string, config: Pick<IdentityConfig, 'blockedValues'>): boolean {
  const v = value.trim().toLowerCase();
  if (v === '' || ALL_ZEROS.test(v)) return true;
  return config.blockedValues.some((b) => b.toLowerCase() === v);
}

/** Normalises a value for an identity type; null when it is not a valid value of that type. */
export function normalizeIdentityValue(type: string, value: string, config: Pick<IdentityConfig, 'defaultPhoneRegion'>): string | null {
  switch (type) {
    case 'email':
      return normalizeEmail(value);
    case 'phone':
      return normalizePhone(value, config.defaultPhoneRegion);
    default: {
      const v = value.trim();
      return v === '' ? null : v;
    }
  }
}
