/**
 * Relying-party settings for the WebAuthn ceremonies, checked once at construction (fail
 * fast, STYLE.md 7): every error names the setting. The checks are the ones WebAuthn makes
 * the RP responsible for: the RP ID is a registrable suffix of every origin's host (L3
 * §5.1.4.1 "rp.id", §13.4.9 "Validating the origin of a credential"), origins are exact
 * strings compared byte for byte, and an attestation policy that could only ever be
 * satisfied by self-asserted data is refused.
 */
import { PgkeyError } from '../../errors/pgkey-error.ts';
import type { X509Certificate } from '../../pki/x509.ts';
import { normalizeAaguid, ZERO_AAGUID } from './aaguid-names.ts';
import { parseCertificate } from './cert-chain.ts';
import type { MdsMetadata } from './mds-blob.ts';

export interface AuthenticatorPolicy {
  /** Attestation conveyance asked of the browser; `none` (the default) is always accepted. */
  readonly attestation: 'none' | 'direct';
  /** Refuse keys whose attestation does not chain to MDS roots or `trustedRoots`. */
  readonly requireAttested: boolean;
  /** Allowed authenticator models; needs `requireAttested` (an unattested AAGUID is a claim). */
  readonly aaguids: readonly string[] | undefined;
  /** Extra attestation roots, PEM (enterprise CAs, tests). */
  readonly trustedRoots: readonly string[];
  /** Statements and status reports from a verified FIDO MDS3 blob (loadMdsBlob). */
  readonly mds?: MdsMetadata | undefined;
}

export interface WebAuthnSettings {
  readonly rpId: string;
  readonly rpName: string;
  /** Exact origins accepted, e.g. `https://login.example.com` (no wildcards, no paths). */
  readonly origins: readonly string[];
  readonly userVerification: 'required' | 'preferred';
  readonly challengeTtlMs: number;
  readonly policy: AuthenticatorPolicy;
}

export const DEFAULT_CHALLENGE_TTL_MS = 5 * 60 * 1000;

export const DEFAULT_AUTHENTICATOR_POLICY: AuthenticatorPolicy = {
  attestation: 'none',
  requireAttested: false,
  aaguids: undefined,
  trustedRoots: [],
};

/** Settings after checking: normalized values plus the parsed attestation roots. */
export interface CheckedSettings extends WebAuthnSettings {
  readonly aaguidAllowlist: ReadonlySet<string> | undefined;
  readonly rootCertificates: readonly X509Certificate[];
}

const DOMAIN =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

function configError(key: string, problem: string): PgkeyError {
  return new PgkeyError('ERR_CONFIG', {
    message: `webauthn.${key}: ${problem}`,
    reason: 'webauthn_settings',
  });
}

/** Browsers treat http://localhost and *.localhost as secure contexts; nothing else over http. */
function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

function checkOrigin(origin: string, rpId: string, key: string): void {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw configError(key, `${JSON.stringify(origin)} is not a URL`);
  }
  if (url.origin !== origin) {
    throw configError(key, `${JSON.stringify(origin)} must be exactly scheme://host[:port]`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackName(url.hostname))) {
    throw configError(key, `${origin} must use https (http only for localhost)`);
  }
  if (!DOMAIN.test(url.hostname)) {
    throw configError(key, `${origin} must name a host by a domain name (no wildcards)`);
  }
  if (url.hostname !== rpId && !url.hostname.endsWith(`.${rpId}`)) {
    throw configError(key, `${origin} is not within the RP ID ${rpId}`);
  }
}

export function checkWebAuthnSettings(settings: WebAuthnSettings): CheckedSettings {
  const { rpId, rpName, origins, userVerification, challengeTtlMs, policy } = settings;
  if (!DOMAIN.test(rpId)) throw configError('rpId', 'must be a lower-case domain name');
  if (rpName.trim() === '') throw configError('rpName', 'must not be empty');
  if (origins.length === 0) throw configError('origins', 'at least one origin is required');
  origins.forEach((origin, i) => checkOrigin(origin, rpId, `origins[${i}]`));
  if (userVerification !== 'required' && userVerification !== 'preferred') {
    throw configError('userVerification', 'must be required or preferred');
  }
  if (!Number.isInteger(challengeTtlMs) || challengeTtlMs < 10_000 || challengeTtlMs > 3_600_000) {
    throw configError('challengeTtlMs', 'must be between 10 s and 1 h');
  }
  if (policy.requireAttested && policy.attestation !== 'direct') {
    throw configError('policy.requireAttested', 'needs policy.attestation: direct');
  }

  let aaguidAllowlist: Set<string> | undefined;
  if (policy.aaguids !== undefined) {
    if (!policy.requireAttested) {
      throw configError(
        'policy.aaguids',
        'needs policy.requireAttested (an AAGUID is self-asserted otherwise)',
      );
    }
    if (policy.aaguids.length === 0) throw configError('policy.aaguids', 'must not be empty');
    aaguidAllowlist = new Set();
    policy.aaguids.forEach((value, i) => {
      const id = normalizeAaguid(value);
      if (id === undefined || id === ZERO_AAGUID) {
        throw configError(`policy.aaguids[${i}]`, 'must be a non-zero AAGUID');
      }
      aaguidAllowlist?.add(id);
    });
  }

  const rootCertificates = policy.trustedRoots.map((pem, i) => {
    try {
      return parseCertificate(pem);
    } catch {
      throw configError(`policy.trustedRoots[${i}]`, 'is not a PEM certificate');
    }
  });
  return { ...settings, aaguidAllowlist, rootCertificates };
}
