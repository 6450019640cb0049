/**
 * Errors that reach users. Every error names what was wrong, where (the field path)
 * and which rule it broke, and carries the HTTP status it maps to.
 */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'VALIDATION_FAILED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PLUGIN_CONFIG'
  | 'DATABASE_UNAVAILABLE';

const STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PLUGIN_CONFIG: 500,
  DATABASE_UNAVAILABLE: 503,
};

/** Base class of every error Rapport raises on purpose. */
export class RapportError extends Error {
  /** HTTP status this error maps to. */
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Dotted path of the offending field, when there is one (`traits.email`). */
    readonly field?: string,
    /** The rule that was broken (`email`, `required`, `maxBytes`, ...). */
    readonly rule?: string,
  ) {
    super(message);
    this.name = 'RapportError';
    this.status = STATUS[code];
  }

  /** A JSON shape safe to send to clients. */
  toJSON(): { code: ErrorCode; message: string; field?: string; rule?: string } {
    return { code: this.code, message: this.message, field: this.field, rule: this.rule };
  }
}

/** One input field broke one rule. */
export class ValidationError extends RapportError {
  constructor(field: string, rule: string, message: string) {
    super('VALIDATION_FAILED', `${field}: ${message}`, field, rule);
    this.name = 'ValidationError';
  }
}

/** A body or message over its size limit. */
export class PayloadTooLargeError extends RapportError {
  constructor(field: string, limitBytes: number, actualBytes: number) {
    super('PAYLOAD_TOO_LARGE', `${field}: ${actualBytes} bytes is over the limit of ${limitBytes} bytes`, field, 'maxBytes');
    this.name = 'PayloadTooLargeError';
  }
}

/** No key, or a key that is unknown or revoked. */
export class UnauthenticatedError extends RapportError {
  constructor(message = 'A valid API key is required: send it as "Authorization: Bearer <key>"') {
    super('UNAUTHENTICATED', message);
    this.name = 'UnauthenticatedError';
  }
}

/** The caller is known but lacks the permission. */
export class ForbiddenError extends RapportError {
  constructor(permission: string, roles: readonly string[]) {
    super('FORBIDDEN', `this action needs the "${permission}" permission, which roles [${roles.join(', ')}] do not grant`, undefined, permission);
    this.name = 'ForbiddenError';
  }
}

/** A referenced thing does not exist. */
export class NotFoundError extends RapportError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} "${id}" was not found`);
    this.name = 'NotFoundError';
  }
}

/** The action conflicts with the current state (another writer won, or it was already done). */
export class ConflictError extends RapportError {
  constructor(message: string) {
    super('CONFLICT', message);
    this.name = 'ConflictError';
  }
}
