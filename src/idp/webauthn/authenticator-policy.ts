/**
 * Which authenticators may enrol (WebAuthn L3 §7.1 steps 23–24 "assess the attestation
 * trustworthiness"), and which may keep signing in.
 *
 * SimpleWebAuthn answers "is this attestation statement internally valid" (the signature
 * over authData ‖ clientDataHash by the x5c leaf, the leaf's fields and AAGUID extension).
 * It does not answer "do we trust it": `fmt: none` always verifies, self attestation proves
 * nothing about the model, and with no anchors configured a packed x5c chain is not checked
 * at all (fido-oidc.md §4.1). So trust is decided here, per instance, with our own anchors:
 * an attestation is *attested* only when its x5c chains, at the ceremony's time, to the
 * roots in the MDS statement for its AAGUID or to the configured roots. A zero AAGUID never
 * counts (reliability.md D26), nor does `none` or self attestation.
 *
 * MDS status reports are checked here too: SimpleWebAuthn's MetadataService rejects the
 * compromise statuses but not REVOKED (fido-oidc.md §4.1).
 */
import { decodeAttestationObject } from '@simplewebauthn/server/helpers';
import type { X509Certificate } from '../../pki/x509.ts';
import { ZERO_AAGUID } from './aaguid-names.ts';
import { chainsToAnchor, parseBase64Certificates, parseCertificate } from './cert-chain.ts';
import type { MdsEntry } from './mds-blob.ts';
import { refuse } from './refusal.ts';
import type { CheckedSettings } from './settings.ts';

export type AttestationTrust = 'none' | 'self' | 'untrusted' | 'trusted';

export interface AttestationAssessment {
  readonly format: string;
  readonly trust: AttestationTrust;
}

/** Statuses after which an authenticator model must not be used (FIDO MDS3 §3.1.4). */
export const COMPROMISED_STATUSES: ReadonlySet<string> = new Set([
  'REVOKED',
  'USER_VERIFICATION_BYPASS',
  'ATTESTATION_KEY_COMPROMISE',
  'USER_KEY_REMOTE_COMPROMISE',
  'USER_KEY_PHYSICAL_COMPROMISE',
]);

/** The first compromise status in force at `now`, if any. */
export function compromisedStatus(entry: MdsEntry | undefined, now: number): string | undefined {
  for (const report of entry?.statusReports ?? []) {
    if (!COMPROMISED_STATUSES.has(report.status)) continue;
    const effective = report.effectiveDate === undefined ? NaN : Date.parse(report.effectiveDate);
    if (Number.isNaN(effective) || effective <= now) return report.status;
  }
  return undefined;
}

/**
 * Run only after the library verified the statement itself. `attestationObject` has
 * already passed the CBOR guard.
 */
export async function assessAttestation(
  attestationObject: Uint8Array<ArrayBuffer>,
  aaguid: string,
  settings: CheckedSettings,
  now: number,
): Promise<AttestationAssessment> {
  const decoded = decodeAttestationObject(attestationObject);
  const format = decoded.get('fmt');
  if (format === 'none') return { format, trust: 'none' };
  const x5c = decoded.get('attStmt').get('x5c');
  if (x5c === undefined || x5c.length === 0) return { format, trust: 'self' };
  if (aaguid === ZERO_AAGUID) return { format, trust: 'untrusted' };

  let chain: X509Certificate[];
  try {
    chain = x5c.map((der) => parseCertificate(der));
  } catch {
    return { format, trust: 'untrusted' };
  }
  const statementRoots = settings.policy.mds?.entries.get(aaguid)?.attestationRootCertificates;
  const anchors = [...settings.rootCertificates, ...parseBase64Certificates(statementRoots ?? [])];
  const trusted = await chainsToAnchor(chain, anchors, new Date(now));
  return { format, trust: trusted ? 'trusted' : 'untrusted' };
}

/** Refuses an enrolment the policy does not allow. */
export function enforceRegistrationPolicy(
  settings: CheckedSettings,
  aaguid: string,
  assessment: AttestationAssessment,
  now: number,
): void {
  if (compromisedStatus(settings.policy.mds?.entries.get(aaguid), now) !== undefined) {
    refuse('authenticator_status');
  }
  if (settings.policy.requireAttested && assessment.trust !== 'trusted') {
    refuse('attestation_untrusted');
  }
  if (settings.aaguidAllowlist !== undefined && !settings.aaguidAllowlist.has(aaguid)) {
    refuse('aaguid_not_allowed');
  }
}

/** At sign-in: a model whose MDS status turned bad after enrolment stops working. */
export function enforceAuthenticationPolicy(
  settings: CheckedSettings,
  aaguid: string,
  now: number,
): void {
  if (compromisedStatus(settings.policy.mds?.entries.get(aaguid), now) !== undefined) {
    refuse('authenticator_status');
  }
}
