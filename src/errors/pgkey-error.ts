import { ERROR_CODES, type ErrorCode } from './codes.ts';

export interface PgkeyErrorOptions {
  /** Client-visible message; defaults to the catalogue text. Must not hold secrets. */
  readonly message?: string;
  readonly detail?: string;
  readonly hint?: string;
  /** Short machine reason for audit and metrics (`token_expired`, `jwks_timeout`, …). */
  readonly reason?: string;
  /** Internal diagnostics: never shown to a client. */
  readonly cause?: unknown;
}

/**
 * The one error family. Callers branch on `code`, never on message text. Everything on the
 * instance except `cause` may be shown to the party that caused the error.
 */
export class PgkeyError extends Error {
  override readonly name = 'PgkeyError';
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly reason: string;

  constructor(code: ErrorCode, options: PgkeyErrorOptions = {}) {
    super(options.message ?? ERROR_CODES[code].message, { cause: options.cause });
    this.code = code;
    this.detail = options.detail;
    this.hint = options.hint;
    this.reason = options.reason ?? code.slice(4).toLowerCase();
  }

  get sqlstate(): string {
    return ERROR_CODES[this.code].sqlstate;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get oauthError(): string {
    return ERROR_CODES[this.code].oauth;
  }
}

export function isPgkeyError(value: unknown, code?: ErrorCode): value is PgkeyError {
  return value instanceof PgkeyError && (code === undefined || value.code === code);
}

/** Wraps anything thrown into a PgkeyError without exposing its text. */
export function asPgkeyError(value: unknown): PgkeyError {
  return value instanceof PgkeyError ? value : new PgkeyError('ERR_INTERNAL', { cause: value });
}
