/**
 * What a caller of the software authenticator may change about one ceremony: the origin the
 * "browser" reports, and everything a forged or broken response could differ in (another
 * RP ID, a wrong type or challenge, missing UP/UV, flipped backup flags, a rewound counter,
 * a foreign user handle, a bad signature). The selftest passes only `origin`.
 */
import type { AttestationMode } from './attestation.ts';

export interface CeremonyOverrides {
  /** The page's origin, as the browser would report it. */
  readonly origin: string;
  /** Hash this RP ID into authData instead of the one in the options. */
  readonly rpId?: string;
  readonly type?: string;
  readonly challenge?: string;
  readonly crossOrigin?: boolean;
  readonly topOrigin?: string;
  readonly userPresent?: boolean;
  readonly userVerified?: boolean;
  readonly backupEligible?: boolean;
  readonly backupState?: boolean;
}

export interface CreateOverrides extends CeremonyOverrides {
  /** Use this credential id (base64url) with a fresh key: a takeover attempt. */
  readonly credentialId?: string;
  readonly aaguid?: string;
  readonly attestation?: AttestationMode;
  readonly ignoreExcludeCredentials?: boolean;
}

export interface GetOverrides extends CeremonyOverrides {
  /** Which credential to use (base64url); default: the first one allowed. */
  readonly credentialId?: string;
  /** Report exactly this counter (a clone, a rewind). */
  readonly signCount?: number;
  /** Send this user handle instead of the credential's; `null` sends none. */
  readonly userHandle?: string | null;
  readonly corruptSignature?: boolean;
}
