/**
 * What a verified assertion proves, as OpenID `acr` and `amr` values (fido-oidc.md §1–§2):
 *
 * - `acr` (OpenID Connect EAP ACR Values 1.0): every WebAuthn login is phishing resistant
 *   (`phr`: the signature is bound to our RP ID and origin). `phrh` adds that the key lives
 *   in hardware, which we claim only when the authenticator is device-bound (BE=0, so the
 *   key cannot be synced) *and* its attestation chained to a trusted root (so the model is
 *   proven, not self-asserted). NIST SP 800-63B-4 AAL3 asks for the same: a non-exportable
 *   key, and syncable authenticators SHALL NOT be used.
 * - `amr` (RFC 8176 + EAP): `pop` always; `hwk` for that same proven hardware key; `swk`
 *   for a synced (BE=1) key, whose material exists outside any one device; neither when a
 *   device-bound key is unattested (we cannot tell). `user` for the presence test (UP,
 *   always required); `mfa` when the authenticator verified the user (UV: PIN/biometric
 *   plus possession — NIST's multi-factor cryptographic authenticator).
 */

export type Acr = 'phr' | 'phrh';

export interface KeyEvidence {
  readonly userVerified: boolean;
  /** BE=0: a single-device credential. */
  readonly deviceBound: boolean;
  /** The attestation chained to MDS roots or configured roots. */
  readonly attested: boolean;
}

export interface Assurance {
  readonly acr: Acr;
  readonly amr: readonly string[];
}

export function assuranceOf(evidence: KeyEvidence): Assurance {
  const provenHardware = evidence.deviceBound && evidence.attested;
  const amr = ['pop'];
  if (provenHardware) amr.push('hwk');
  else if (!evidence.deviceBound) amr.push('swk');
  amr.push('user');
  if (evidence.userVerified) amr.push('mfa');
  return { acr: provenHardware ? 'phrh' : 'phr', amr };
}
