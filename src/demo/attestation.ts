/**
 * Attestation for the software authenticator (WebAuthn L3 §8.2 `packed`): self attestation,
 * or an x5c chain from an attestation CA like a vendor's, with the certificate requirements
 * of §8.2.1.1. The CA here is a throwaway made at run time; it proves nothing about real
 * hardware, which is why the demo enrolls keys with attestation `none`.
 */
import {
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
  type webcrypto,
} from 'node:crypto';
import { x509 } from '../pki/x509.ts';
import { aaguidBytes, ES256 } from './authenticator-data.ts';

export type AttestationMode = 'none' | 'packed-self' | 'packed-x5c';

/** Issues the x5c chain (leaf first) for an authenticator's attestation key. */
export interface AttestationIssuer {
  certify(key: AttestationKey, aaguid: string): Promise<Uint8Array[]>;
}

export interface AttestationKey {
  readonly spki: Uint8Array;
  readonly signingKey: webcrypto.CryptoKey;
}

export interface AttestationCa extends AttestationIssuer {
  readonly certPem: string;
  /** Base64 DER, the form MDS statements use for `attestationRootCertificates`. */
  readonly certBase64: string;
}

export type AttestationStatement = Map<string, number | Uint8Array | Uint8Array[]>;

const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const VALIDITY = {
  notBefore: new Date(Date.UTC(2020, 0, 1)),
  notAfter: new Date(Date.UTC(2045, 0, 1)),
};
const ATTESTATION_SUBJECT =
  'C=XX, O=pgkey tests, OU=Authenticator Attestation, CN=Soft Authenticator';
const serial = (): string => `01${randomBytes(15).toString('hex')}`;

/** id-fido-gen-ce-aaguid: the AAGUID, as a DER OCTET STRING (§8.2.1.1). */
const aaguidExtension = (aaguid: string): x509.Extension =>
  new x509.Extension(
    '1.3.6.1.4.1.45724.1.1.4',
    false,
    Buffer.concat([Buffer.from([0x04, 0x10]), aaguidBytes(aaguid)]),
  );

/** A batch attestation key pair: the public half for the certificate, the private to sign. */
export function newAttestationKey(): { key: AttestationKey; privateKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signingKey = privateKey.toCryptoKey(P256, false, ['sign']);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return { key: { spki, signingKey }, privateKey };
}

/**
 * The `attStmt` map. `signed` is authData ‖ SHA-256(clientDataJSON); `credentialKey` signs
 * self attestation, `attestation` (key and issuer) an x5c one.
 */
export async function attestationStatement(
  mode: AttestationMode,
  signed: Buffer,
  credentialKey: KeyObject,
  attestation: () => Promise<{ privateKey: KeyObject; x5c: Uint8Array[] }>,
): Promise<AttestationStatement> {
  switch (mode) {
    case 'none':
      return new Map();
    case 'packed-self': // §8.2: signed by the credential key itself, no x5c
      return new Map<string, number | Uint8Array>([
        ['alg', ES256],
        ['sig', sign('sha256', signed, credentialKey)],
      ]);
    case 'packed-x5c': {
      const { privateKey, x5c } = await attestation();
      return new Map<string, number | Uint8Array | Uint8Array[]>([
        ['alg', ES256],
        ['sig', sign('sha256', signed, privateKey)],
        ['x5c', x5c],
      ]);
    }
    default:
      throw new TypeError(`unknown attestation mode ${String(mode satisfies never)}`);
  }
}

async function leafCertificate(
  key: AttestationKey,
  aaguid: string,
  issuer: string,
  signingKey: webcrypto.CryptoKey,
): Promise<Uint8Array> {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: ATTESTATION_SUBJECT,
    issuer,
    ...VALIDITY,
    publicKey: new x509.PublicKey(key.spki),
    signingKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      aaguidExtension(aaguid),
    ],
  });
  return new Uint8Array(cert.rawData);
}

/** A root CA that certifies batch attestation keys, like a vendor's attestation root. */
export async function createAttestationCa(
  commonName = 'pgkey test attestation root',
): Promise<AttestationCa> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signingKey = privateKey.toCryptoKey(P256, false, ['sign']);
  const name = `CN=${commonName}, O=pgkey tests, C=XX`;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name,
    ...VALIDITY,
    keys: { publicKey: publicKey.toCryptoKey(P256, true, ['verify']), privateKey: signingKey },
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  return {
    certPem: cert.toString('pem'),
    certBase64: Buffer.from(cert.rawData).toString('base64'),
    certify: async (key, aaguid) => [await leafCertificate(key, aaguid, cert.subject, signingKey)],
  };
}

/** An attestation certificate signed by its own key: verifies, chains to nothing (D26). */
export const selfSignedAttestation: AttestationIssuer = {
  certify: async (key, aaguid) => [
    await leafCertificate(key, aaguid, ATTESTATION_SUBJECT, key.signingKey),
  ],
};
