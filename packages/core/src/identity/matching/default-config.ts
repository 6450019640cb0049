/** Default matching configuration for person profiles with Segment-style traits. */
import type { MatchingConfig } from './matching.types';

/**
 * Default person matching configuration: names (with swapped first/last), birthday,
 * national id, email, phone and postal address; blocking on strong identifiers, phonetic
 * names and address fragments. Thresholds: auto-merge at probability >= 0.999, review at
 * >= 0.8. Treat as read-only; spread it to derive a variant.
 */
export const DEFAULT_PERSON_MATCHING_CONFIG: MatchingConfig = {
  autoMergeVetoes: [['firstName', 'lastName']],
  comparisons: [
    { name: 'firstName', kind: 'name', paths: ['firstName'], swapPaths: ['lastName'] },
    { name: 'lastName', kind: 'name', paths: ['lastName'], swapPaths: ['firstName'] },
    { name: 'birthday', kind: 'date', paths: ['birthday'] },
    { name: 'nationalId', kind: 'numeric-string', paths: ['nationalId'] },
    { name: 'email', kind: 'email', paths: ['email'] },
    { name: 'phone', kind: 'phone', paths: ['phone'] },
    { name: 'streetNumber', kind: 'numeric-string', paths: ['address.streetNumber'] },
    { name: 'street', kind: 'address', paths: ['address.street'] },
    { name: 'addressLine2', kind: 'address', paths: ['address.line2'] },
    { name: 'city', kind: 'address', paths: ['address.city'] },
    { name: 'postalCode', kind: 'postcode', paths: ['address.postalCode'] },
    { name: 'state', kind: 'exact', paths: ['address.state'] },
  ],
  blocking: [
    { name: 'email', keys: [{ path: 'email', transform: 'email' }] },
    { name: 'phone', keys: [{ path: 'phone', transform: 'digits', length: 9 }] },
    { name: 'nationalId', keys: [{ path: 'nationalId', transform: 'alnum' }] },
    { name: 'birthday', keys: [{ path: 'birthday', transform: 'date' }] },
    { name: 'names-soundex', keys: [{ path: 'firstName lastName', transform: 'soundexSorted' }] },
    {
      name: 'postcode-streetNumber',
      keys: [
        { path: 'address.postalCode', transform: 'alnum' },
        { path: 'address.streetNumber', transform: 'alnum' },
      ],
    },
    {
      name: 'street-streetNumber',
      keys: [
        { path: 'address.street', transform: 'alnum' },
        { path: 'address.streetNumber', transform: 'alnum' },
      ],
    },
  ],
  maxBlockSize: 300,
  thresholds: { autoMerge: 0.999, review: 0.8 },
  training: { uSampleSize: 100_000, seed: 42, maxIterations: 100, tolerance: 1e-6, epsilon: 1e-6, initialLambda: 0.05, mPseudoCount: 1 },
};
