import { createHash, X509Certificate } from 'node:crypto';
import { PgkeyError } from '../errors/pgkey-error.ts';

/**
 * `tls-server-end-point` channel-binding data (RFC 5929 §4.1): the hash of the server's
 * certificate (DER), with the hash function of the certificate's signature algorithm, except
 * that MD5 and SHA-1 are replaced by SHA-256. PostgreSQL computes the same value in
 * be_tls_get_certificate_hash.
 *
 * A signature algorithm without a single hash (Ed25519, Ed448) has no defined binding. That is
 * an error, never an empty binding (pgjdbc CVE-2026-54291 sent an empty one).
 */
export function tlsServerEndPointHash(certificateDer: Buffer): Buffer {
  let oid: string;
  try {
    oid = new X509Certificate(certificateDer).signatureAlgorithmOid;
  } catch (cause) {
    throw unsupported('scram_channel_binding_certificate', cause);
  }
  const hash = SIGNATURE_HASHES[oid] ?? (oid === RSASSA_PSS ? pssHash(certificateDer) : undefined);
  if (hash === undefined) throw unsupported('scram_channel_binding_algorithm', oid);
  return createHash(hash).update(certificateDer).digest();
}

/** Signature algorithm OID → hash for tls-server-end-point (MD5/SHA-1 already upgraded). */
const SIGNATURE_HASHES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha256', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.1': 'sha224', // dsa-with-sha224
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';

/** DER content octets of hash algorithm OIDs, as they appear in RSASSA-PSS-params. */
const HASH_OID_BYTES: Readonly<Record<string, string>> = {
  '2b0e03021a': 'sha256', // sha1, upgraded
  '608648016503040204': 'sha224',
  '608648016503040201': 'sha256',
  '608648016503040202': 'sha384',
  '608648016503040203': 'sha512',
};

/**
 * RSASSA-PSS carries its hash in the parameters (RFC 4055 §3.1): Certificate ::= SEQUENCE
 * { tbsCertificate, signatureAlgorithm SEQUENCE { OID, RSASSA-PSS-params SEQUENCE { [0]
 * hashAlgorithm DEFAULT sha1, … } }, signatureValue }.
 */
function pssHash(der: Buffer): string | undefined {
  const certificate = readTlv(der, 0);
  if (certificate?.tag !== 0x30) return undefined;
  const tbs = readTlv(der, certificate.start);
  const algorithm = tbs && readTlv(der, tbs.end);
  if (algorithm?.tag !== 0x30) return undefined;
  const oid = readTlv(der, algorithm.start);
  const params = oid && oid.end < algorithm.end ? readTlv(der, oid.end) : undefined;
  if (params?.tag !== 0x30) return undefined;
  const first = params.start < params.end ? readTlv(der, params.start) : undefined;
  // hashAlgorithm absent: the default is SHA-1, upgraded to SHA-256.
  if (first?.tag !== 0xa0) return 'sha256';
  const hashAlgorithm = readTlv(der, first.start);
  const hashOid = hashAlgorithm?.tag === 0x30 ? readTlv(der, hashAlgorithm.start) : undefined;
  if (hashOid?.tag !== 0x06) return undefined;
  return HASH_OID_BYTES[der.subarray(hashOid.start, hashOid.end).toString('hex')];
}

/** One DER tag-length-value header; undefined when it does not fit in the buffer. */
function readTlv(
  der: Buffer,
  offset: number,
): { tag: number; start: number; end: number } | undefined {
  if (offset + 2 > der.length) return undefined;
  const tag = der[offset] ?? 0;
  let length = der[offset + 1] ?? 0;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > der.length) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] ?? 0);
    start += count;
  }
  const end = start + length;
  return end <= der.length ? { tag, start, end } : undefined;
}

function unsupported(reason: string, cause: unknown): PgkeyError {
  return new PgkeyError('ERR_UPSTREAM_TLS', {
    reason,
    message: "the database server's certificate does not allow SCRAM channel binding",
    hint: 'RFC 5929 tls-server-end-point needs a certificate signed with a hash-based algorithm.',
    cause,
  });
}
