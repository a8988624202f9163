import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Clock } from '../runtime/clock.ts';
import { cryptoRandom, type Random } from '../runtime/random.ts';
import { CLOCK_SKEW_MS, positiveSerial, type UpstreamCa } from './upstream-ca.ts';
import { x509 } from './x509.ts';

/** What the upstream connector hands to `tls.connect` for one role. */
export interface ClientCredential {
  /** PKCS#8 PEM of the ephemeral P-256 private key. */
  readonly key: string;
  /** PEM of the leaf certificate (CN = role), signed by the upstream CA. */
  readonly cert: string;
  /** The certificate's notAfter, in ms since the epoch (whole seconds, as encoded). */
  readonly notAfter: number;
}

export interface ClientCertIssuerOptions {
  readonly ca: UpstreamCa;
  readonly ttlMs: number;
  readonly clock: Clock;
  readonly random?: Random;
}

/** PostgreSQL NAMEDATALEN is 64: a role name holds at most 63 bytes (longer ones are truncated). */
export const MAX_ROLE_BYTES = 63;
export const MIN_CERT_TTL_MS = 60_000;
export const MAX_CERT_TTL_MS = 24 * 3600 * 1000;
/** A cached credential is replaced once less than this much of its life is left. */
const RENEW_MIN_REMAINING_MS = 60_000;

const generateEcKeyPair = promisify(generateKeyPair);

/**
 * Issues ephemeral client certificates for PostgreSQL's `cert` authentication: the server
 * checks the chain against ssl_ca_file, then compares the certificate's CN with the
 * requested user (PostgreSQL docs, "Certificate Authentication"). One key and certificate
 * per role and TTL window, so signing happens once per window, not once per connection.
 */
export class ClientCertIssuer {
  #ca: UpstreamCa;
  #generation = 0;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #cache = new Map<string, ClientCredential>();
  readonly #inflight = new Map<string, Promise<ClientCredential>>();

  constructor(options: ClientCertIssuerOptions) {
    const ttl = options.ttlMs;
    if (!Number.isSafeInteger(ttl) || ttl < MIN_CERT_TTL_MS || ttl > MAX_CERT_TTL_MS) {
      throw new PgkeyError('ERR_CONFIG', {
        message: `upstream.cert_ttl must be between 1m and 24h (got ${ttl} ms)`,
        hint: 'Client certificates should live minutes: 10m is the default.',
        reason: 'cert_ttl_range',
      });
    }
    this.#ca = options.ca;
    this.#ttlMs = ttl;
    this.#clock = options.clock;
    this.#random = options.random ?? cryptoRandom;
  }

  /** SHA-256 fingerprint of the signing CA, so a reload can tell whether it changed. */
  get caFingerprint(): string {
    return this.#ca.fingerprint;
  }

  /** Replaces the signing CA (SIGHUP, rotation). Cached and in-flight credentials are dropped. */
  setCa(ca: UpstreamCa): void {
    this.#ca = ca;
    this.#generation++;
    this.#cache.clear();
    this.#inflight.clear();
  }

  async credentialFor(role: string): Promise<ClientCredential> {
    assertRoleName(role);
    const now = this.#clock.now();
    const cached = this.#cache.get(role);
    if (cached !== undefined && !this.#needsRenewal(cached, now)) return cached;
    // Single flight: every caller for this role waits on the same issuance.
    const pending = this.#inflight.get(role);
    if (pending !== undefined) return pending;
    const generation = this.#generation;
    const issuing = this.#issue(role, this.#ca, now).then(
      (credential) => {
        if (generation === this.#generation) this.#store(role, credential, now);
        return credential;
      },
      (cause: unknown) => {
        throw new PgkeyError('ERR_INTERNAL', { reason: 'client_cert_issue_failed', cause });
      },
    );
    const settled = issuing.finally(() => {
      if (this.#inflight.get(role) === settled) this.#inflight.delete(role);
    });
    this.#inflight.set(role, settled);
    return settled;
  }

  /** Renew with a third of the TTL (and at least a minute) left, long before expiry. */
  #needsRenewal(credential: ClientCredential, now: number): boolean {
    const remaining = credential.notAfter - now;
    return remaining < this.#ttlMs / 3 || remaining < RENEW_MIN_REMAINING_MS;
  }

  #store(role: string, credential: ClientCredential, now: number): void {
    for (const [name, entry] of this.#cache) {
      if (entry.notAfter <= now) this.#cache.delete(name); // roles no longer in use
    }
    this.#cache.set(role, credential);
  }

  async #issue(role: string, ca: UpstreamCa, now: number): Promise<ClientCredential> {
    const { publicKey, privateKey } = await generateEcKeyPair('ec', {
      namedCurve: 'P-256',
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    // ASN.1 time has whole seconds (RFC 5280 §4.1.2.5); report what is really encoded.
    const notAfter = Math.floor((now + this.#ttlMs) / 1000) * 1000;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: positiveSerial(this.#random),
      // A structured name, never a DN string: role names may hold ',', '+', '=', '"', '#'
      // or any Unicode. UTF8String per RFC 5280 §4.1.2.4; PostgreSQL reads the CN bytes as is.
      subject: new x509.Name([{ CN: [{ utf8String: role }] }]),
      issuer: ca.certificate.subjectName,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(notAfter),
      publicKey,
      signingKey: ca.signingKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true), // RFC 5280 §4.2.1.9
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), // §4.2.1.3
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]), // §4.2.1.12
        // §4.2.1.1: picks the right issuer while old and new CA are both trusted.
        new x509.AuthorityKeyIdentifierExtension(ca.keyId),
      ],
    });
    return { key: privateKey, cert: cert.toString('pem'), notAfter };
  }
}

/**
 * A role must survive the trip into a certificate CN and back out of PostgreSQL unchanged:
 * at most 63 bytes (the server truncates longer user names, so the CN would never match),
 * no NUL (PostgreSQL rejects a CN with an embedded NUL), and well-formed Unicode.
 */
export function assertRoleName(role: string): void {
  const why =
    typeof role !== 'string' || role.length === 0
      ? 'it is empty'
      : role.includes('\0')
        ? 'it contains a NUL character'
        : !role.isWellFormed()
          ? 'it is not well-formed Unicode'
          : Buffer.byteLength(role, 'utf8') > MAX_ROLE_BYTES
            ? `it is longer than ${MAX_ROLE_BYTES} bytes (PostgreSQL NAMEDATALEN)`
            : undefined;
  if (why !== undefined) {
    throw new PgkeyError('ERR_ACCESS_DENIED', {
      message: 'the database role name cannot be used',
      detail: `The role name is unusable for certificate login: ${why}.`,
      reason: 'role_name_invalid',
    });
  }
}
