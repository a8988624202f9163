/**
 * The demo's own TLS: one local CA (ECDSA P-256, kept in the demo directory so clients can
 * keep its file as `sslrootcert`) and server certificates for `localhost` that it signs at
 * every start, for the gateway's listener and for the throwaway PostgreSQL. The CA is made
 * and checked by the same code as the upstream CA (src/pki/upstream-ca.ts): a self-signed
 * root that signs leaves only.
 */
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { exists } from '../pki/pem-files.ts';
import {
  CLOCK_SKEW_MS,
  initUpstreamCa,
  loadUpstreamCa,
  positiveSerial,
  type UpstreamCa,
  type UpstreamCaFiles,
} from '../pki/upstream-ca.ts';
import { x509 } from '../pki/x509.ts';
import { cryptoRandom } from '../runtime/random.ts';

export interface ServerCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface DemoCa {
  /** The CA certificate file: the client's `sslrootcert`, PostgreSQL's server trust. */
  readonly certFile: string;
  readonly certPem: string;
  /** A fresh certificate for `localhost`, 127.0.0.1 and ::1. */
  issueServer(commonName: string): Promise<ServerCertificate>;
}

const SERVER_VALIDITY_MS = 90 * 24 * 3600 * 1000;
const generateEcKeyPair = promisify(generateKeyPair);

/** Loads the demo CA from `files`, creating it on first use. */
export async function openDemoCa(files: UpstreamCaFiles): Promise<DemoCa> {
  const ca = (await exists(files.cert))
    ? await loadUpstreamCa(files)
    : await initUpstreamCa(files, {
        commonName: `pgkey demo CA ${cryptoRandom.bytes(3).toString('hex')}`,
      });
  return {
    certFile: files.cert,
    certPem: ca.certPem,
    issueServer: (commonName) => issueServer(ca, commonName),
  };
}

async function issueServer(ca: UpstreamCa, commonName: string): Promise<ServerCertificate> {
  const { publicKey, privateKey } = await generateEcKeyPair('ec', { namedCurve: 'P-256' });
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: positiveSerial(cryptoRandom),
    subject: new x509.Name([{ CN: [{ utf8String: commonName }] }]),
    issuer: ca.certificate.subjectName,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(Math.min(now + SERVER_VALIDITY_MS, ca.notAfter)),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }),
    signingKey: ca.signingKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.AuthorityKeyIdentifierExtension(ca.keyId),
      // RFC 5280 §4.2.1.3/§4.2.1.12: an ECDSA TLS server signs; nothing else.
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      // RFC 6125: clients match the host name against the SAN, never the CN.
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
      ]),
    ],
  });
  return {
    certPem: cert.toString('pem'),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
