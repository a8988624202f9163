/**
 * A stand-in FIDO Metadata Service for tests: a root CA, a blob-signing certificate under
 * it, and blobs signed like the real one (a JWS with the signing chain in `x5c`, MDS3
 * §3.1.7). Also builds MdsMetadata values directly, for ceremony tests that need loaded
 * statements without going through a blob.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import type { MdsEntry, MdsMetadata } from '../../../src/idp/webauthn/mds-blob.ts';
import { x509 } from '../../../src/pki/x509.ts';

const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const VALIDITY = {
  notBefore: new Date(Date.UTC(2020, 0, 1)),
  notAfter: new Date(Date.UTC(2045, 0, 1)),
};
const serial = (): string => `02${randomBytes(15).toString('hex')}`;
const ecKeys = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const cryptoKeys = (keys: { publicKey: KeyObject; privateKey: KeyObject }) => ({
  publicKey: keys.publicKey.toCryptoKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']),
  privateKey: keys.privateKey.toCryptoKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']),
});

export interface TestMds {
  readonly rootPem: string;
  /** Signs `payload` as an MDS blob; `selfSigned` uses a signer that chains to nothing. */
  blob(payload: unknown, options?: { selfSigned?: boolean }): Promise<string>;
}

export async function createTestMds(): Promise<TestMds> {
  const rootKeys = ecKeys();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=pgkey test MDS root, C=XX',
    ...VALIDITY,
    keys: cryptoKeys(rootKeys),
    signingAlgorithm: SIGNING,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const signerKeys = ecKeys();
  const signer = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=mds.pgkey.test, C=XX',
    issuer: root.subject,
    ...VALIDITY,
    publicKey: cryptoKeys(signerKeys).publicKey,
    signingKey: cryptoKeys(rootKeys).privateKey,
    signingAlgorithm: SIGNING,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  const rogueKeys = ecKeys();
  const rogue = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=mds.pgkey.test, C=XX',
    ...VALIDITY,
    keys: cryptoKeys(rogueKeys),
    signingAlgorithm: SIGNING,
  });
  return {
    rootPem: root.toString('pem'),
    async blob(payload, options = {}) {
      const [cert, key] = options.selfSigned ? [rogue, rogueKeys] : [signer, signerKeys];
      return new CompactSign(Buffer.from(JSON.stringify(payload)))
        .setProtectedHeader({
          alg: 'ES256',
          typ: 'JWT',
          x5c: [Buffer.from(cert.rawData).toString('base64')],
        })
        .sign(key.privateKey);
    },
  };
}

export interface EntryInput {
  readonly aaguid: string;
  readonly description?: string;
  readonly roots?: readonly string[];
  readonly statusReports?: readonly { status: string; effectiveDate?: string }[];
}

/** An MDS3 payload entry as the service publishes it (fields we do not read omitted). */
export function mdsEntry(input: EntryInput): Record<string, unknown> {
  return {
    aaguid: input.aaguid,
    statusReports: input.statusReports ?? [{ status: 'FIDO_CERTIFIED_L1' }],
    timeOfLastStatusChange: '2025-01-01',
    metadataStatement: {
      aaguid: input.aaguid,
      description: input.description ?? 'Test Key',
      protocolFamily: 'fido2',
      attestationTypes: ['basic_full'],
      attestationRootCertificates: input.roots ?? [],
    },
  };
}

/** Loaded metadata, built directly (no blob). */
export function mdsMetadata(entries: readonly EntryInput[]): MdsMetadata {
  return {
    serial: 1,
    nextUpdate: '2030-01-01',
    stale: false,
    warnings: [],
    entries: new Map(
      entries.map((e): [string, MdsEntry] => [
        e.aaguid,
        {
          aaguid: e.aaguid,
          description: e.description ?? 'Test Key',
          attestationRootCertificates: e.roots ?? [],
          statusReports: (e.statusReports ?? []).map((r) => ({
            status: r.status,
            effectiveDate: r.effectiveDate,
          })),
        },
      ]),
    ),
  };
}
