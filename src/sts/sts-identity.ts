/**
 * The gateway's reading of the token service's own tokens (token-claims.ts writes them), as
 * the `toIdentity` of the internal issuer `pgkey-sts`:
 *
 * - an agent token becomes the **person** it was exchanged for — the issuer that signed
 *   them in (so `match.issuers`, `fresh_auth` on the original `auth_time`, FIDO2 evidence by
 *   that issuer's profile and the directory's revocations all apply as to the person) — with
 *   kind `delegated` and the agent as actor;
 * - a service token becomes a `workload` named `svc:<name>`, restricted to its grant, with
 *   the person who minted it (gateway/token-grant.ts, gateway/revocation.ts).
 *
 * If the issuer that signed the person in is no longer configured, their agent tokens stop
 * working with it.
 */
import type { IssuerConfig } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { toIdentity } from '../identity/claim-profiles.ts';
import type { Identity, MintedBy } from '../identity/identity.ts';
import {
  AGENT_ACTOR_PREFIX,
  GRANT_CLAIM,
  MINTED_BY_CLAIM,
  SERVICE_SUBJECT_PREFIX,
  SUBJECT_ISSUER_CLAIM,
  type ServiceGrant,
} from './token-claims.ts';

type Claims = Readonly<Record<string, unknown>>;

function invalid(problem: string): PgkeyError {
  return new PgkeyError('ERR_TOKEN_INVALID', {
    message: `token rejected: ${problem}`,
    reason: 'token_claims_invalid',
  });
}

function record(claims: Claims, name: string): Record<string, unknown> | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${name} claim must be an object`);
  }
  return value as Record<string, unknown>;
}

function text(from: Record<string, unknown>, name: string, where: string): string {
  const value = from[name];
  if (typeof value !== 'string' || value === '' || value.length > 1024) {
    throw invalid(`${where}.${name} must be a non-empty string`);
  }
  return value;
}

function optionalText(
  from: Record<string, unknown>,
  name: string,
  where: string,
): string | undefined {
  return from[name] === undefined ? undefined : text(from, name, where);
}

function agentIdentity(claims: Claims, issuers: readonly IssuerConfig[]): Identity {
  const origin = claims[SUBJECT_ISSUER_CLAIM];
  const issuer = issuers.find((i) => i.issuer === origin);
  if (issuer === undefined || issuer.profile === 'workload') {
    throw new PgkeyError('ERR_ISSUER_UNKNOWN', {
      message: 'token rejected: the issuer that signed this person in is no longer trusted',
      hint: 'Log in again and ask for a new agent token.',
      reason: 'issuer_unknown',
    });
  }
  const identity = toIdentity(issuer, { ...claims, iss: issuer.issuer });
  if (identity.kind !== 'delegated' || !identity.actor?.startsWith(AGENT_ACTOR_PREFIX)) {
    throw invalid('an agent token names its agent in act.sub');
  }
  return identity;
}

function serviceIdentity(service: IssuerConfig, claims: Claims): Identity {
  const base = toIdentity(service, claims);
  const grantClaim = record(claims, GRANT_CLAIM) ?? {};
  const grant: ServiceGrant = {
    database: text(grantClaim, 'database', GRANT_CLAIM),
    role: text(grantClaim, 'role', GRANT_CLAIM),
    rule: text(grantClaim, 'rule', GRANT_CLAIM),
  };
  const minter = record(claims, MINTED_BY_CLAIM);
  if (minter === undefined) throw invalid(`${MINTED_BY_CLAIM} claim is missing`);
  const mintedBy: MintedBy = {
    issuer: text(minter, 'issuer', MINTED_BY_CLAIM),
    subject: text(minter, 'sub', MINTED_BY_CLAIM),
    email: optionalText(minter, 'email', MINTED_BY_CLAIM),
    credentialId: optionalText(minter, 'credential_id', MINTED_BY_CLAIM),
  };
  if (!base.subject.startsWith(SERVICE_SUBJECT_PREFIX) || base.tokenId === undefined) {
    throw invalid(`a service token has subject ${SERVICE_SUBJECT_PREFIX}<name> and a jti`);
  }
  return Object.freeze({
    ...base,
    kind: 'workload',
    groups: Object.freeze([]),
    email: undefined,
    authTime: undefined,
    fido2: false,
    credentialId: undefined,
    aaguid: undefined,
    deviceBound: undefined,
    attested: undefined,
    userVerified: undefined,
    actor: undefined,
    restrictedTo: Object.freeze(grant),
    mintedBy: Object.freeze(mintedBy),
  });
}

/**
 * `service` is the token service's own issuer entry; `issuers` the configured ones, where
 * the people behind agent tokens signed in.
 */
export function stsIdentity(
  service: IssuerConfig,
  issuers: readonly IssuerConfig[],
  claims: Claims,
): Identity {
  if (claims[SUBJECT_ISSUER_CLAIM] !== undefined) return agentIdentity(claims, issuers);
  if (claims[GRANT_CLAIM] !== undefined) return serviceIdentity(service, claims);
  throw invalid('not a token the token service issues');
}
