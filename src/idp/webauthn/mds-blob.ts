/**
 * FIDO Metadata Service v3 blob, loaded from a file that an operator downloads out of band
 * (https://mds3.fidoalliance.org/, air-gapped friendly; fido-oidc.md §3.4).
 *
 * The blob is a JWS whose `x5c` chain must reach GlobalSign Root CA - R3 (MDS3 §3.1.7). We
 * verify it here with jose and our own path check rather than SimpleWebAuthn's
 * verifyMDSBlob(), which (v14) takes its trust root from the process-wide SettingsService,
 * checks validity against the wall clock and fetches CRLs over the network. Here the root
 * and the time are arguments, and nothing leaves the machine.
 *
 * Freshness: a blob past its `nextUpdate` still loads, marked `stale` with a warning for
 * the caller to log. Refusing it would stop every attested enrolment the day an operator is
 * late with a download, while the statements themselves (roots, descriptions) rarely change;
 * the cost is that status reports (REVOKED, compromises) are only as fresh as the file.
 * A blob whose serial `no` is not above `minSerial` is refused (rollback, MDS3 §3.1.8).
 */
import { readFile, stat } from 'node:fs/promises';
import { compactVerify, decodeProtectedHeader, importX509 } from 'jose';
import { JWS_ALGORITHMS } from '../../identity/algorithms.ts';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import type { X509Certificate } from '../../pki/x509.ts';
import {
  chainsToAnchor,
  MAX_CHAIN_LENGTH,
  parseBase64Certificates,
  parseCertificate,
} from './cert-chain.ts';
import { normalizeAaguid } from './aaguid-names.ts';

/** GlobalSign Root CA - R3, SHA-256 CB:B5:22:D7:…:C9:63:C5:3B, valid until 2029-03-18. */
export const GLOBALSIGN_ROOT_R3 = `-----BEGIN CERTIFICATE-----
MIIDXzCCAkegAwIBAgILBAAAAAABIVhTCKIwDQYJKoZIhvcNAQELBQAwTDEgMB4G
A1UECxMXR2xvYmFsU2lnbiBSb290IENBIC0gUjMxEzARBgNVBAoTCkdsb2JhbFNp
Z24xEzARBgNVBAMTCkdsb2JhbFNpZ24wHhcNMDkwMzE4MTAwMDAwWhcNMjkwMzE4
MTAwMDAwWjBMMSAwHgYDVQQLExdHbG9iYWxTaWduIFJvb3QgQ0EgLSBSMzETMBEG
A1UEChMKR2xvYmFsU2lnbjETMBEGA1UEAxMKR2xvYmFsU2lnbjCCASIwDQYJKoZI
hvcNAQEBBQADggEPADCCAQoCggEBAMwldpB5BngiFvXAg7aEyiie/QV2EcWtiHL8
RgJDx7KKnQRfJMsuS+FggkbhUqsMgUdwbN1k0ev1LKMPgj0MK66X17YUhhB5uzsT
gHeMCOFJ0mpiLx9e+pZo34knlTifBtc+ycsmWQ1z3rDI6SYOgxXG71uL0gRgykmm
KPZpO/bLyCiR5Z2KYVc3rHQU3HTgOu5yLy6c+9C7v/U9AOEGM+iCK65TpjoWc4zd
QQ4gOsC0p6Hpsk+QLjJg6VfLuQSSaGjlOCZgdbKfd/+RFO+uIEn8rUAVSNECMWEZ
XriX7613t2Saer9fwRPvm2L7DWzgVGkWqQPabumDk3F2xmmFghcCAwEAAaNCMEAw
DgYDVR0PAQH/BAQDAgEGMA8GA1UdEwEB/wQFMAMBAf8wHQYDVR0OBBYEFI/wS3+o
LkUkrk1Q+mOai97i3Ru8MA0GCSqGSIb3DQEBCwUAA4IBAQBLQNvAUKr+yAzv95ZU
RUm7lgAJQayzE4aGKAczymvmdLm6AC2upArT9fHxD4q/c2dKg8dEe3jgr25sbwMp
jjM5RcOO5LlXbKr8EpbsU8Yt5CRsuZRj+9xTaGdWPoO4zzUhw8lo/s7awlOqzJCK
6fBdRoyV3XpYKBovHd7NADdBj+1EbddTKJd+82cEHhXXipa0095MJ6RMG3NzdvQX
mcIfeg7jLQitChws/zyrVQ4PkX4268NXSb7hLi18YIvDQVETI53O9zJrlAGomecs
Mx86OyXShkDOOyyGeMlhLxS67ttVb9+E7gUJTb0o2HLO02JQZR7rkpeDMdmztcpH
WD9f
-----END CERTIFICATE-----`;

/** The real blob is a few MB; anything far larger is not one. */
export const MAX_MDS_BLOB_BYTES = 64 * 1024 * 1024;
/** The FIDO MDS3 blob is signed with RSA or ECDSA (MDS3 §3.1.7); no EdDSA, no HMAC. */
const ALGORITHMS: readonly string[] = JWS_ALGORITHMS.filter((alg) => alg !== 'EdDSA');

export interface MdsStatusReport {
  readonly status: string;
  readonly effectiveDate: string | undefined;
}

export interface MdsEntry {
  readonly aaguid: string;
  readonly description: string | undefined;
  /** Base64 DER roots from the metadata statement. */
  readonly attestationRootCertificates: readonly string[];
  readonly statusReports: readonly MdsStatusReport[];
}

export interface MdsMetadata {
  /** The blob's serial number `no`. */
  readonly serial: number;
  /** `nextUpdate`, YYYY-MM-DD. */
  readonly nextUpdate: string;
  readonly stale: boolean;
  /** Human-readable notes for the operator's log (e.g. staleness). */
  readonly warnings: readonly string[];
  /** FIDO2 entries by lower-case AAGUID (U2F/UAF entries, which have none, are skipped). */
  readonly entries: ReadonlyMap<string, MdsEntry>;
}

export interface MdsLoadOptions {
  readonly now: number;
  /** Trust root instead of GlobalSign R3 (tests, private metadata services). */
  readonly trustRootPem?: string;
  /** Serial of the blob loaded before; a blob not newer than this is refused. */
  readonly minSerial?: number;
}

function invalid(detail: string, cause?: unknown): PgkeyError {
  return new PgkeyError('ERR_CONFIG', {
    message: 'the FIDO metadata blob could not be verified',
    detail,
    reason: 'mds_blob_invalid',
    cause,
  });
}

export async function loadMdsBlob(file: string, options: MdsLoadOptions): Promise<MdsMetadata> {
  let text: string;
  try {
    if ((await stat(file)).size > MAX_MDS_BLOB_BYTES) throw invalid(`${file} is too large`);
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof PgkeyError) throw error;
    throw new PgkeyError('ERR_FILE', { detail: `cannot read ${file}`, cause: error });
  }
  return parseMdsBlob(text.trim(), options);
}

/** Verifies a blob (compact JWS text) and returns its FIDO2 entries. */
export async function parseMdsBlob(jws: string, options: MdsLoadOptions): Promise<MdsMetadata> {
  if (jws.length > MAX_MDS_BLOB_BYTES) throw invalid('the blob is too large');
  let header;
  try {
    header = decodeProtectedHeader(jws);
  } catch (error) {
    throw invalid('the blob is not a JWS', error);
  }
  const { alg, x5c } = header;
  if (typeof alg !== 'string' || !ALGORITHMS.includes(alg)) throw invalid('unexpected algorithm');
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN_LENGTH) {
    throw invalid('the blob has no usable x5c chain');
  }
  const chain = parseBase64Certificates(x5c);
  const leaf = chain[0];
  if (leaf === undefined || chain.length !== x5c.length) throw invalid('unparsable x5c');

  let root: X509Certificate;
  try {
    root = parseCertificate(options.trustRootPem ?? GLOBALSIGN_ROOT_R3);
  } catch (error) {
    throw invalid('the trust root is not a certificate', error);
  }
  if (!(await chainsToAnchor(chain, [root], new Date(options.now)))) {
    throw invalid('the signing chain does not reach the trust root');
  }

  let payloadBytes: Uint8Array;
  try {
    const key = await importX509(leaf.toString('pem'), alg);
    ({ payload: payloadBytes } = await compactVerify(jws, key, { algorithms: [alg] }));
  } catch (error) {
    throw invalid('bad signature', error);
  }
  return readPayload(payloadBytes, options);
}

function readPayload(bytes: Uint8Array, options: MdsLoadOptions): MdsMetadata {
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw invalid('the payload is not JSON', error);
  }
  if (typeof payload !== 'object' || payload === null)
    throw invalid('the payload is not an object');
  const { no, nextUpdate, entries } = payload as Record<string, unknown>;
  if (typeof no !== 'number' || !Number.isSafeInteger(no) || no < 0) throw invalid('bad `no`');
  if (typeof nextUpdate !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(nextUpdate)) {
    throw invalid('bad `nextUpdate`');
  }
  if (!Array.isArray(entries)) throw invalid('`entries` is not a list');
  if (options.minSerial !== undefined && no <= options.minSerial) {
    throw invalid(`serial ${no} is not newer than ${options.minSerial} (rollback?)`);
  }

  const byAaguid = new Map<string, MdsEntry>();
  for (const raw of entries as unknown[]) {
    const entry = readEntry(raw);
    if (entry !== undefined) byAaguid.set(entry.aaguid, entry);
  }
  // nextUpdate is a date; the blob is due by the end of that day (UTC).
  const stale = Date.parse(`${nextUpdate}T23:59:59.999Z`) < options.now;
  return {
    serial: no,
    nextUpdate,
    stale,
    warnings: stale
      ? [
          `FIDO metadata blob ${no} was due for an update on ${nextUpdate}; status reports may be out of date`,
        ]
      : [],
    entries: byAaguid,
  };
}

function readEntry(raw: unknown): MdsEntry | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { aaguid, metadataStatement, statusReports } = raw as Record<string, unknown>;
  const id = typeof aaguid === 'string' ? normalizeAaguid(aaguid) : undefined;
  if (id === undefined) return undefined;
  const statement =
    typeof metadataStatement === 'object' && metadataStatement !== null
      ? (metadataStatement as Record<string, unknown>)
      : {};
  const roots = Array.isArray(statement['attestationRootCertificates'])
    ? statement['attestationRootCertificates'].filter((r): r is string => typeof r === 'string')
    : [];
  const reports = Array.isArray(statusReports) ? (statusReports as unknown[]) : [];
  return {
    aaguid: id,
    description:
      typeof statement['description'] === 'string' ? statement['description'] : undefined,
    attestationRootCertificates: roots,
    statusReports: reports.flatMap((r) => {
      if (typeof r !== 'object' || r === null) return [];
      const { status, effectiveDate } = r as Record<string, unknown>;
      if (typeof status !== 'string') return [];
      return [
        { status, effectiveDate: typeof effectiveDate === 'string' ? effectiveDate : undefined },
      ];
    }),
  };
}
