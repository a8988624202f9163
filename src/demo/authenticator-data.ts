/**
 * The bytes a WebAuthn authenticator and client produce, for the software authenticator:
 * authenticator data (WebAuthn L3 §6.1), clientDataJSON (§5.8.1) and the COSE public key
 * of attested credential data (§6.5.1, RFC 9053 §7.1.1 EC2).
 */
import { createHash, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/** Authenticator data flags (WebAuthn L3 §6.1, table "flags"). */
export const FLAG = { up: 0x01, uv: 0x04, be: 0x08, bs: 0x10, at: 0x40 } as const;

/** COSE algorithm ES256 (RFC 9053 §2.1). */
export const ES256 = -7;

export const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

export const sha256 = (data: Uint8Array | string): Buffer =>
  createHash('sha256').update(data).digest();

export const aaguidBytes = (aaguid: string): Buffer =>
  Buffer.from(aaguid.replaceAll('-', ''), 'hex');

/** What the client puts in clientDataJSON besides type and challenge. */
export interface ClientDataFields {
  readonly origin: string;
  readonly type?: string;
  readonly challenge?: string;
  readonly crossOrigin?: boolean;
  readonly topOrigin?: string;
}

/** clientDataJSON (§5.8.1); `fields.type` and `fields.challenge` override the real ones. */
export function clientDataJSON(type: string, challenge: string, fields: ClientDataFields): Buffer {
  return Buffer.from(
    JSON.stringify({
      type: fields.type ?? type,
      challenge: fields.challenge ?? challenge,
      origin: fields.origin,
      crossOrigin: fields.crossOrigin ?? false,
      ...(fields.topOrigin === undefined ? {} : { topOrigin: fields.topOrigin }),
    }),
  );
}

/** rpIdHash (32) ‖ flags (1) ‖ signCount (4, big-endian) ‖ attested credential data */
export function authenticatorData(
  rpId: string,
  flags: number,
  signCount: number,
  attested?: Buffer,
): Buffer {
  const counter = Buffer.alloc(4);
  counter.writeUInt32BE(signCount >>> 0);
  return Buffer.concat([sha256(rpId), Buffer.from([flags]), counter, attested ?? Buffer.alloc(0)]);
}

/** aaguid (16) ‖ credentialIdLength (2) ‖ credentialId ‖ credentialPublicKey (§6.5.1) */
export function attestedCredentialData(
  aaguid: string,
  credentialId: Buffer,
  publicKey: KeyObject,
): Buffer {
  return Buffer.concat([
    aaguidBytes(aaguid),
    Buffer.from([credentialId.length >> 8, credentialId.length & 0xff]),
    credentialId,
    coseEc2Key(publicKey),
  ]);
}

function coseEc2Key(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  return isoCBOR.encode(
    new Map<number, number | Uint8Array>([
      [1, 2], // kty: EC2
      [3, ES256], // alg
      [-1, 1], // crv: P-256
      [-2, Buffer.from(jwk.x ?? '', 'base64url')],
      [-3, Buffer.from(jwk.y ?? '', 'base64url')],
    ]),
  );
}
