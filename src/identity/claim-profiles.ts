/**
 * Claim profiles: how one issuer's verified claims become an {@link Identity}. IdPs disagree
 * on where FIDO2 evidence lives (fido-oidc.md §2.2), so each issuer names a profile:
 *
 * | profile  | FIDO2 evidence by default         | also                                        |
 * |----------|-----------------------------------|---------------------------------------------|
 * | builtin  | `acr` phr or phrh                 | credential_id, aaguid, device_bound,        |
 * |          |                                   | attested, user_verified claims; phrh ⇒      |
 * |          |                                   | device-bound and attested, amr mfa ⇒ UV,    |
 * |          |                                   | unless the claims say otherwise             |
 * | okta     | `amr` has pop, or `acr` phr/phrh  |                                             |
 * | keycloak | `amr` has hwk or pop (admin-set)  |                                             |
 * | entra    | none: configure `fido2.acrs`      | email falls back to preferred_username, upn |
 * | generic  | none: configure `fido2`           |                                             |
 * | workload | never (kind `workload`)           | policy matches claim conditions instead     |
 *
 * `phr`/`phrh` are OpenID Connect EAP ACR Values 1.0; `hwk`/`pop` are RFC 8176 / EAP `amr`.
 *
 * An issuer's `fido2` config replaces the profile default: the token proves FIDO2 when it
 * satisfies any configured list (`amr` any-of, `acr` one-of, `acrs` any-of).
 *
 * `toIdentity` is pure and also backs `pgkey policy explain --claims`. Missing FIDO2 evidence
 * is not an error here (fido2: false; the verifier decides); malformed shapes are.
 */
import type { IssuerConfig, Profile } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Identity, IdentityKind } from './identity.ts';

export const MAX_GROUPS = 1000;
export const MAX_GROUP_LENGTH = 256;
/** Cap on other string claims we copy into the identity (subject, email, acr, ids). */
const MAX_STRING_CLAIM = 1024;
const MAX_LIST_CLAIM = 64;

interface Fido2Rule {
  readonly amr?: readonly string[] | undefined;
  readonly acr?: readonly string[] | undefined;
  readonly acrs?: readonly string[] | undefined;
}

/** Profile defaults (fido-oidc.md §2.1–2.2); `undefined` means only config can say. */
const PROFILE_FIDO2: Readonly<Record<Profile, Fido2Rule | undefined>> = {
  builtin: { acr: ['phr', 'phrh'] },
  okta: { amr: ['pop'], acr: ['phr', 'phrh'] },
  keycloak: { amr: ['hwk', 'pop'] },
  entra: undefined,
  generic: undefined,
  workload: undefined,
};

function invalid(claim: string, problem: string): PgkeyError {
  return new PgkeyError('ERR_TOKEN_INVALID', {
    message: `token rejected: ${claim} claim ${problem}`,
    reason: 'token_claims_invalid',
  });
}

function optionalString(
  claims: Readonly<Record<string, unknown>>,
  name: string,
): string | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > MAX_STRING_CLAIM) {
    throw invalid(name, `must be a string of at most ${MAX_STRING_CLAIM} characters`);
  }
  return value;
}

function requiredString(claims: Readonly<Record<string, unknown>>, name: string): string {
  const value = optionalString(claims, name);
  if (value === undefined || value === '') throw invalid(name, 'is missing');
  return value;
}

function optionalBoolean(
  claims: Readonly<Record<string, unknown>>,
  name: string,
): boolean | undefined {
  const value = claims[name];
  if (value === undefined || typeof value === 'boolean') return value;
  throw invalid(name, 'must be a boolean');
}

/** RFC 8176 `amr` and Entra `acrs` are JSON arrays of strings. */
function stringList(claims: Readonly<Record<string, unknown>>, name: string): readonly string[] {
  const value = claims[name];
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    value.length > MAX_LIST_CLAIM ||
    !value.every((v) => typeof v === 'string' && v.length <= MAX_STRING_CLAIM)
  ) {
    throw invalid(name, 'must be an array of strings');
  }
  return Object.freeze([...(value as string[])]);
}

/** Groups: an array of strings, or one string (some IdPs emit a bare string for one group). */
function groupList(claims: Readonly<Record<string, unknown>>, name: string): readonly string[] {
  const value = claims[name];
  if (value === undefined) return Object.freeze([]);
  if (typeof value !== 'string' && !Array.isArray(value)) {
    throw invalid(name, 'must be a string or an array of strings');
  }
  const list: readonly unknown[] = typeof value === 'string' ? [value] : value;
  if (list.length > MAX_GROUPS) throw invalid(name, `holds more than ${MAX_GROUPS} entries`);
  if (!list.every((g) => typeof g === 'string' && g.length <= MAX_GROUP_LENGTH)) {
    throw invalid(name, `must hold strings of at most ${MAX_GROUP_LENGTH} characters`);
  }
  return Object.freeze([...(list as string[])]);
}

/** RFC 7519 §2 NumericDate (seconds) → milliseconds. */
function numericDate(claims: Readonly<Record<string, unknown>>, name: string): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(name, 'must be a NumericDate');
  }
  return value * 1000;
}

function satisfies(
  rule: Fido2Rule,
  acr: string | undefined,
  amr: readonly string[],
  acrs: readonly string[],
): boolean {
  if (rule.amr?.some((value) => amr.includes(value))) return true;
  if (acr !== undefined && rule.acr?.includes(acr)) return true;
  return rule.acrs?.some((value) => acrs.includes(value)) ?? false;
}

/** RFC 8693 §4.1: `act.sub` is the party acting on the subject's behalf right now. */
function actorOf(claims: Readonly<Record<string, unknown>>): string | undefined {
  const act = claims.act;
  if (act === undefined) return undefined;
  if (typeof act !== 'object' || act === null || Array.isArray(act)) {
    throw invalid('act', 'must be an object');
  }
  return requiredString(act as Record<string, unknown>, 'sub');
}

function emailOf(
  issuer: IssuerConfig,
  claims: Readonly<Record<string, unknown>>,
): string | undefined {
  const email = optionalString(claims, issuer.email_claim);
  if (email !== undefined || issuer.profile !== 'entra') return email;
  // Entra v2 access tokens often carry no `email`; the sign-in name is the next best thing.
  return optionalString(claims, 'preferred_username') ?? optionalString(claims, 'upn');
}

export function toIdentity(
  issuer: IssuerConfig,
  claims: Readonly<Record<string, unknown>>,
): Identity {
  const expiresAt = numericDate(claims, 'exp');
  if (expiresAt === undefined) throw invalid('exp', 'is missing');
  const acr = optionalString(claims, 'acr');
  const amr = stringList(claims, 'amr');
  const actor = actorOf(claims);
  const workload = issuer.profile === 'workload';
  const kind: IdentityKind = workload ? 'workload' : actor !== undefined ? 'delegated' : 'human';
  const rule = issuer.fido2 ?? PROFILE_FIDO2[issuer.profile];
  // `acrs` is Entra's; read (and shape-checked) only when a rule consults it.
  const acrs = rule?.acrs !== undefined ? stringList(claims, 'acrs') : [];
  const builtin = issuer.profile === 'builtin';
  // Only the built-in provider's tokens say which key signed in (fido-oidc.md §2.2): for any
  // other profile these stay undefined, and policy treats them as unverifiable.
  const deviceBound = builtin ? optionalBoolean(claims, 'device_bound') : undefined;
  const attested = builtin ? optionalBoolean(claims, 'attested') : undefined;
  const userVerified = builtin ? optionalBoolean(claims, 'user_verified') : undefined;
  return Object.freeze({
    issuerName: issuer.name,
    issuer: requiredString(claims, 'iss'),
    subject: requiredString(claims, 'sub'),
    kind,
    email: emailOf(issuer, claims),
    groups: groupList(claims, issuer.groups_claim),
    authTime: numericDate(claims, 'auth_time'),
    acr,
    amr,
    fido2: !workload && rule !== undefined && satisfies(rule, acr, amr, acrs),
    credentialId: builtin ? optionalString(claims, 'credential_id') : undefined,
    aaguid: builtin ? optionalString(claims, 'aaguid') : undefined,
    // OpenID EAP ACR Values: `phrh` means the key is held in hardware, so device-bound; the
    // built-in provider says `phrh` only for an attested one (idp/webauthn/assurance.ts),
    // and `mfa` in `amr` only when the key verified the user.
    deviceBound: deviceBound ?? (builtin && acr === 'phrh' ? true : undefined),
    attested: attested ?? (builtin && acr === 'phrh' ? true : undefined),
    userVerified: userVerified ?? (builtin && amr.includes('mfa') ? true : undefined),
    actor,
    tokenId: optionalString(claims, 'jti'),
    issuedAt: numericDate(claims, 'iat'),
    expiresAt,
    claims: Object.freeze({ ...claims }),
  });
}
