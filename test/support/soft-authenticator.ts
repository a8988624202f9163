/**
 * The software WebAuthn authenticator lives in src/demo/ (`pgkey demo --selftest` drives
 * the real enrollment and login with it); tests import it from here.
 */
export {
  createAttestationCa,
  selfSignedAttestation,
  type AttestationCa,
  type AttestationIssuer,
  type AttestationKey,
  type AttestationMode,
} from '../../src/demo/attestation.ts';
export type {
  CeremonyOverrides,
  CreateOverrides,
  GetOverrides,
} from '../../src/demo/ceremony-overrides.ts';
export {
  SOFT_AAGUID,
  SoftAuthenticator,
  type SoftAuthenticatorOptions,
  type SoftCredential,
} from '../../src/demo/soft-authenticator.ts';
