import { generateKeyPair, randomBytes, type webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import { x509, type Extension, type Name } from '../../src/pki/x509.ts';

/**
 * Throwaway certificates for tests: TLS server certificates for the gateway and the test
 * PostgreSQL, and deliberately bad client certificates (wrong CA, expired) that the
 * production issuer would never produce.
 */
export interface TestCa {
  readonly certPem: string;
  readonly keyPem: string;
  issueServer(options?: IssueServerOptions): Promise<{ certPem: string; keyPem: string }>;
  issueClient(
    commonName: string,
    options?: IssueClientOptions,
  ): Promise<{ certPem: string; keyPem: string }>;
}

export interface IssueServerOptions {
  readonly commonName?: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
}

export interface IssueClientOptions {
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

const generateEcKeyPair = promisify(generateKeyPair);
const HOUR = 3600 * 1000;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

interface KeyPair {
  readonly spki: Buffer;
  readonly keyPem: string;
  readonly signingKey: webcrypto.CryptoKey;
}

async function newKeyPair(): Promise<KeyPair> {
  const { publicKey, privateKey } = await generateEcKeyPair('ec', { namedCurve: 'P-256' });
  return {
    spki: publicKey.export({ type: 'spki', format: 'der' }),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    signingKey: privateKey.toCryptoKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']),
  };
}

const nameOf = (commonName: string): Name => new x509.Name([{ CN: [{ utf8String: commonName }] }]);
const serial = (): string => `40${randomBytes(15).toString('hex')}`;

export async function createTestCa(commonName: string): Promise<TestCa> {
  const caKeys = await newKeyPair();
  const caName = nameOf(commonName);
  const ski = await x509.SubjectKeyIdentifierExtension.create(caKeys.spki);
  const now = Date.now();
  const caCert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: caName,
    issuer: caName,
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + 30 * 24 * HOUR),
    publicKey: caKeys.spki,
    signingKey: caKeys.signingKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      ski,
    ],
  });

  const issue = async (
    subject: string,
    validity: { notBefore: Date; notAfter: Date },
    extensions: Extension[],
  ): Promise<{ certPem: string; keyPem: string }> => {
    const keys = await newKeyPair();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: nameOf(subject),
      issuer: caName,
      ...validity,
      publicKey: keys.spki,
      signingKey: caKeys.signingKey,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.AuthorityKeyIdentifierExtension(ski.keyId),
        ...extensions,
      ],
    });
    return { certPem: cert.toString('pem'), keyPem: keys.keyPem };
  };

  return {
    certPem: caCert.toString('pem'),
    keyPem: caKeys.keyPem,
    issueServer(options = {}) {
      const dns = options.dnsNames ?? ['localhost'];
      const ips = options.ipAddresses ?? ['127.0.0.1'];
      return issue(
        options.commonName ?? 'localhost',
        { notBefore: new Date(now - HOUR), notAfter: new Date(now + 7 * 24 * HOUR) },
        [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension([
            ...dns.map((value) => ({ type: 'dns' as const, value })),
            ...ips.map((value) => ({ type: 'ip' as const, value })),
          ]),
        ],
      );
    },
    issueClient(cn, options = {}) {
      const at = Date.now();
      return issue(
        cn,
        {
          notBefore: options.notBefore ?? new Date(at - HOUR),
          notAfter: options.notAfter ?? new Date(at + HOUR),
        },
        [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        ],
      );
    },
  };
}
