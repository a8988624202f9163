/**
 * Why a WebAuthn ceremony was refused. The client sees one of four stable PgkeyError codes
 * whose texts never say whether a user or a credential exists (no enumeration: an unknown
 * credential, a revoked one, a flagged one, a disabled owner and a bad signature all read
 * the same). The precise reason travels in `cause` as a WebAuthnRefusal, for the audit
 * trail and for tests; it is never rendered to the client.
 */
import type { ErrorCode } from '../../errors/codes.ts';
import { PgkeyError } from '../../errors/pgkey-error.ts';

export const REFUSALS = [
  // The request itself
  'response_too_large',
  'response_malformed',
  'challenge_unknown',
  'challenge_purpose',
  // Client data (WebAuthn L3 §7.1 steps 5–10, §7.2 steps 8–13)
  'client_data_type',
  'challenge_mismatch',
  'origin_mismatch',
  'cross_origin',
  'top_origin',
  // Authenticator data (§7.1 steps 13–19, §7.2 steps 14–18)
  'rp_id_mismatch',
  'user_not_present',
  'user_not_verified',
  'backup_flags_invalid',
  'credential_id_mismatch',
  'credential_id_too_long',
  'attestation_invalid',
  // Registration policy and storage (§7.1 steps 21–27)
  'attestation_untrusted',
  'aaguid_not_allowed',
  'authenticator_status',
  'credential_exists',
  // Who is signing in (§7.2 steps 5–6) and the credential's state
  'user_unknown',
  'user_disabled',
  'credential_unknown',
  'credential_not_allowed',
  'credential_revoked',
  'credential_flagged',
  'user_handle_missing',
  'user_handle_mismatch',
  // The assertion (§7.2 steps 18–24)
  'signature_invalid',
  'backup_eligibility_changed',
  'sign_count_regression',
  'concurrent_use',
] as const;

export type Refusal = (typeof REFUSALS)[number];

/** The internal reason, kept in `PgkeyError.cause`; never shown to the client. */
export class WebAuthnRefusal extends Error {
  override readonly name = 'WebAuthnRefusal';
  readonly refusal: Refusal;

  constructor(refusal: Refusal, cause?: unknown) {
    super(refusal, cause === undefined ? undefined : { cause });
    this.refusal = refusal;
  }
}

const CHALLENGE_REFUSALS: ReadonlySet<Refusal> = new Set([
  'challenge_unknown',
  'challenge_purpose',
]);
const POLICY_REFUSALS: ReadonlySet<Refusal> = new Set([
  'attestation_untrusted',
  'aaguid_not_allowed',
  'authenticator_status',
]);

/** Steps throw this; the ceremony turns it into the client-facing error. */
export function refuse(refusal: Refusal, cause?: unknown): never {
  throw new WebAuthnRefusal(refusal, cause);
}

/**
 * The client-facing error for a failed registration. Challenge problems say "start again";
 * an authenticator the policy does not allow says so (it is about the key model, not about
 * an account); every other refusal reads the same. Store errors pass through unchanged
 * (an outage is not a bad key); anything unexpected becomes ERR_INTERNAL.
 */
export function registrationError(error: unknown): PgkeyError {
  if (!(error instanceof WebAuthnRefusal)) return passThrough(error);
  const { refusal } = error;
  const code: ErrorCode = CHALLENGE_REFUSALS.has(refusal)
    ? 'ERR_WEBAUTHN_CHALLENGE'
    : POLICY_REFUSALS.has(refusal)
      ? 'ERR_WEBAUTHN_NOT_ALLOWED'
      : 'ERR_WEBAUTHN_REGISTRATION';
  return new PgkeyError(code, {
    cause: error,
    ...(code === 'ERR_WEBAUTHN_NOT_ALLOWED'
      ? { hint: 'Ask your administrator which security keys are approved.' }
      : {}),
  });
}

/**
 * The client-facing error for a failed sign-in. Only a challenge problem is told apart (it
 * is settled before anything is looked up, so it reveals nothing); every other refusal is
 * the same error whatever the credential, its owner or the signature.
 */
export function authenticationError(error: unknown): PgkeyError {
  if (!(error instanceof WebAuthnRefusal)) return passThrough(error);
  const code: ErrorCode = CHALLENGE_REFUSALS.has(error.refusal)
    ? 'ERR_WEBAUTHN_CHALLENGE'
    : 'ERR_WEBAUTHN_AUTHENTICATION';
  return new PgkeyError(code, { cause: error });
}

function passThrough(error: unknown): PgkeyError {
  return error instanceof PgkeyError ? error : new PgkeyError('ERR_INTERNAL', { cause: error });
}

/** The internal reason behind a ceremony error, for the audit trail; undefined otherwise. */
export function refusalOf(error: unknown): Refusal | undefined {
  return error instanceof PgkeyError && error.cause instanceof WebAuthnRefusal
    ? error.cause.refusal
    : undefined;
}
