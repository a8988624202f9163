/**
 * Authenticator data (WebAuthn L3 §6.1), read strictly from untrusted bytes: every field is
 * bounds-checked, embedded CBOR (the credential public key, extensions) is walked by the
 * guard, and nothing may trail. The ceremonies read the flags from here, so BE/BS and
 * signCount decisions never depend on how a library derived them.
 */
import { createHash } from 'node:crypto';
import { cborItemEnd } from './cbor-guard.ts';
import { refuse } from './refusal.ts';

export interface AuthenticatorFlags {
  /** User Present (bit 0). */
  readonly up: boolean;
  /** User Verified (bit 2). */
  readonly uv: boolean;
  /** Backup Eligible (bit 3): the credential may be synced; fixed at creation. */
  readonly be: boolean;
  /** Backup State (bit 4): the credential is currently backed up. */
  readonly bs: boolean;
  /** Attested credential data included (bit 6). */
  readonly at: boolean;
  /** Extension data included (bit 7). */
  readonly ed: boolean;
}

export interface AttestedCredential {
  /** Lower-case hyphenated UUID. */
  readonly aaguid: string;
  readonly credentialId: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface AuthenticatorData {
  readonly rpIdHash: Uint8Array;
  readonly flags: AuthenticatorFlags;
  readonly signCount: number;
  readonly attested: AttestedCredential | undefined;
}

/** WebAuthn L3 §7.1 step 25: RPs refuse longer credential ids. */
export const MAX_CREDENTIAL_ID_BYTES = 1023;

function formatUuid(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function readAuthenticatorData(bytes: Uint8Array): AuthenticatorData {
  if (bytes.length < 37) refuse('response_malformed');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bits = view.getUint8(32);
  const flags: AuthenticatorFlags = {
    up: (bits & 0x01) !== 0,
    uv: (bits & 0x04) !== 0,
    be: (bits & 0x08) !== 0,
    bs: (bits & 0x10) !== 0,
    at: (bits & 0x40) !== 0,
    ed: (bits & 0x80) !== 0,
  };
  let at = 37;
  let attested: AttestedCredential | undefined;
  if (flags.at) {
    // §6.5.2 attested credential data: aaguid (16) ‖ L (2) ‖ credentialId (L) ‖ COSE key
    if (bytes.length < at + 18) refuse('response_malformed');
    const aaguid = formatUuid(bytes.subarray(at, at + 16));
    const idLength = view.getUint16(at + 16);
    at += 18;
    if (idLength > MAX_CREDENTIAL_ID_BYTES) refuse('credential_id_too_long');
    if (idLength === 0 || at + idLength > bytes.length) refuse('response_malformed');
    const credentialId = bytes.subarray(at, at + idLength);
    at += idLength;
    const keyEnd = cborItemEnd(bytes, at);
    attested = { aaguid, credentialId, publicKey: bytes.subarray(at, keyEnd) };
    at = keyEnd;
  }
  if (flags.ed) at = cborItemEnd(bytes, at);
  if (at !== bytes.length) refuse('response_malformed');
  return {
    rpIdHash: bytes.subarray(0, 32),
    flags,
    signCount: view.getUint32(33),
    attested,
  };
}

/** WebAuthn L3 §7.1 step 13 / §7.2 step 14: rpIdHash is SHA-256 of our RP ID. */
export function rpIdHashMatches(data: AuthenticatorData, rpId: string): boolean {
  const expected = createHash('sha256').update(rpId, 'utf8').digest();
  return Buffer.from(data.rpIdHash).equals(expected);
}
