import { X509Certificate as NodeX509, createPrivateKey, generateKeyPair } from 'node:crypto';
import type { KeyObject, webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import { cryptoRandom, type Random } from '../runtime/random.ts';
import { assertAbsent, assertPrivateFileMode, readPemFile, writePemFile } from './pem-files.ts';
import { x509, type X509Certificate } from './x509.ts';

/** Where the upstream CA lives (config `upstream.ca`). */
export interface UpstreamCaFiles {
  readonly cert: string;
  readonly key: string;
}

/** A loaded, validated upstream CA: everything the issuer needs to sign leaves. */
export interface UpstreamCa {
  readonly certPem: string;
  readonly certificate: X509Certificate;
  readonly signingKey: webcrypto.CryptoKey;
  /** Subject key identifier (hex); leaves carry it as authority key identifier. */
  readonly keyId: string;
  readonly subject: string;
  /** SHA-256 fingerprint, colon-separated hex, as `openssl x509 -fingerprint -sha256`. */
  readonly fingerprint: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface GenerateCaOptions {
  readonly commonName?: string;
  readonly validityMs?: number;
  readonly clock?: Clock;
  readonly random?: Random;
}

export const DEFAULT_CA_VALIDITY_MS = 3652 * 24 * 3600 * 1000; // 10 years
/** Backdating absorbs clock skew between pgkey and PostgreSQL. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
const P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const generateEcKeyPair = promisify(generateKeyPair);

/** Generates a self-signed ECDSA P-256 CA; nothing touches the disk. */
export async function generateUpstreamCa(
  options: GenerateCaOptions = {},
): Promise<{ certPem: string; keyPem: string }> {
  const now = (options.clock ?? systemClock).now();
  const random = options.random ?? cryptoRandom;
  const day = new Date(now).toISOString().slice(0, 10);
  // A distinct subject per CA keeps issuer lookup unambiguous while two CAs are trusted
  // during a rotation (RFC 5280 §4.1.2.6); the key identifiers below do the same.
  const commonName =
    options.commonName ?? `pgkey upstream CA ${day} ${random.bytes(3).toString('hex')}`;
  const name = new x509.Name([{ CN: [{ utf8String: commonName }] }]);
  const { publicKey, privateKey } = await generateEcKeyPair('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const signingKey = privateKey.toCryptoKey(P256, false, ['sign']);
  const ski = await x509.SubjectKeyIdentifierExtension.create(spki);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: positiveSerial(random),
    subject: name,
    issuer: name,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + (options.validityMs ?? DEFAULT_CA_VALIDITY_MS)),
    publicKey: spki,
    signingKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      // RFC 5280 §4.2.1.9: cA MUST be set and the extension critical for a CA; pathLen 0
      // because this CA signs leaves only. §4.2.1.3: keyCertSign (and cRLSign), critical.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      ski, // RFC 5280 §4.2.1.2: MUST appear in CA certificates.
    ],
  });
  return {
    certPem: cert.toString('pem'),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Validates a CA from PEM text; `names` are the files the PEM came from, for messages. */
export async function parseUpstreamCa(
  pem: { readonly certPem: string; readonly keyPem: string },
  options: { readonly clock?: Clock; readonly names?: UpstreamCaFiles } = {},
): Promise<UpstreamCa> {
  const names = options.names ?? { cert: 'the CA certificate', key: 'the CA key' };
  const bad = (file: string, message: string, cause?: unknown): PgkeyError =>
    new PgkeyError('ERR_CONFIG', {
      message: `${file}: ${message}`,
      reason: 'upstream_ca_invalid',
      cause,
    });
  let nodeCert: NodeX509;
  let certificate: X509Certificate;
  let key: KeyObject;
  try {
    nodeCert = new NodeX509(pem.certPem);
    certificate = new x509.X509Certificate(nodeCert.raw);
  } catch (cause) {
    throw bad(names.cert, 'not a PEM X.509 certificate', cause);
  }
  try {
    key = createPrivateKey(pem.keyPem);
  } catch (cause) {
    throw bad(names.key, 'not a PEM private key (PKCS#8 or SEC1, unencrypted)', cause);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw bad(names.key, 'the upstream CA key must be ECDSA P-256');
  }
  if (!nodeCert.checkPrivateKey(key)) {
    throw bad(names.key, `does not match the certificate in ${names.cert}`);
  }
  // RFC 5280 §4.2.1.9 / §4.2.1.3: only a cA=true certificate allowed to sign certificates
  // may anchor client certificates; OpenSSL (PostgreSQL) rejects leaves signed by others.
  const usage = certificate.getExtension(x509.KeyUsagesExtension);
  if (!nodeCert.ca || (usage && !(usage.usages & x509.KeyUsageFlags.keyCertSign))) {
    throw bad(names.cert, 'is not a CA certificate (basicConstraints cA and keyCertSign)');
  }
  // PostgreSQL does not accept partial chains: ssl_ca_file needs the self-signed root.
  if (!nodeCert.checkIssued(nodeCert) || !nodeCert.verify(nodeCert.publicKey)) {
    throw bad(names.cert, 'is not self-signed; the upstream CA must be a root');
  }
  const now = (options.clock ?? systemClock).now();
  const notAfter = certificate.notAfter.getTime();
  if (notAfter <= now) {
    throw new PgkeyError('ERR_CONFIG', {
      message: `${names.cert}: the upstream CA expired on ${certificate.notAfter.toISOString()}`,
      hint: 'Rotate to a new CA (prepare, install the bundle in PostgreSQL, activate, finish).',
      reason: 'upstream_ca_expired',
    });
  }
  const ski = certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId =
    ski?.keyId ?? (await x509.SubjectKeyIdentifierExtension.create(certificate.publicKey)).keyId;
  return {
    certPem: certificate.toString('pem'),
    certificate,
    signingKey: key.toCryptoKey(P256, false, ['sign']),
    keyId,
    subject: certificate.subject,
    fingerprint: nodeCert.fingerprint256,
    notBefore: certificate.notBefore.getTime(),
    notAfter,
  };
}

/** Reads and validates the CA files, refusing a key others can read. */
export async function loadUpstreamCa(
  files: UpstreamCaFiles,
  options: { readonly clock?: Clock } = {},
): Promise<UpstreamCa> {
  const hint =
    'Create the upstream CA with `pgkey upstream init`, or fix `upstream.ca` in the config.';
  await assertPrivateFileMode(files.key, hint);
  const [cert, key] = await Promise.all([
    readPemFile(files.cert, hint),
    readPemFile(files.key, hint),
  ]);
  return parseUpstreamCa({ certPem: cert, keyPem: key }, { clock: options.clock, names: files });
}

/** Generates a CA and writes it (`pgkey upstream init`); refuses to overwrite unless `force`. */
export async function initUpstreamCa(
  files: UpstreamCaFiles,
  options: GenerateCaOptions & { readonly force?: boolean } = {},
): Promise<UpstreamCa> {
  const force = options.force ?? false;
  if (!force) for (const path of [files.key, files.cert]) await assertAbsent(path);
  const generated = await generateUpstreamCa(options);
  // Certificate first: its directory (0755) stays readable when the key shares it.
  await writePemFile(files.cert, generated.certPem, { mode: 0o644, force });
  await writePemFile(files.key, generated.keyPem, { mode: 0o600, force });
  return parseUpstreamCa(generated, { ...options, names: files });
}

/** RFC 5280 §4.1.2.2: positive, at most 20 octets; 16 random bytes, top bit cleared. */
export function positiveSerial(random: Random): string {
  const bytes = random.bytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40; // positive and always 16 octets long
  return bytes.toString('hex');
}
