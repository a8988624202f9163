/**
 * What the token service writes into the tokens it signs, beyond the registered claims the
 * signer adds (`iss`, `aud`, `iat`, `exp`, `jti`, `client_id`; RFC 9068 §2.2):
 *
 * - a **service token** (minted by a person): `sub: svc:<name>`, `pgkey_grant` (the one
 *   database and role it opens and the policy rule that allowed the mint) and `minted_by`
 *   (who minted it, with which key);
 * - an **agent token** (RFC 8693 token exchange): the person's own claims — `sub`, groups,
 *   e-mail, `auth_time`, `acr`/`amr`, credential — plus `act: { sub: "agent:<name>" }`
 *   (RFC 8693 §4.1) and `pgkey_subject_iss`, the issuer that signed the person in, so the
 *   gateway judges the person with that issuer's profile and the directory's revocations.
 *
 * sts-identity.ts reads them back; the two stay in one place with these names.
 */
import type { Identity } from '../identity/identity.ts';

export const SERVICE_SUBJECT_PREFIX = 'svc:';
export const AGENT_ACTOR_PREFIX = 'agent:';
export const GRANT_CLAIM = 'pgkey_grant';
export const MINTED_BY_CLAIM = 'minted_by';
export const SUBJECT_ISSUER_CLAIM = 'pgkey_subject_iss';

/** Service and agent names: what a person types, safe in a subject, a log line and a URL. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * Claims of the person's token that an agent token does not copy: the registered claims the
 * signer sets anew, proof-of-possession and session bindings that belong to the original
 * token (RFC 7800 `cnf`, OIDC `sid`, `nonce`, `at_hash`), delegation claims (RFC 8693 §4.1,
 * §4.4 `act`, `may_act`), the client and scopes it was issued to, and pgkey's own claims.
 */
const NOT_COPIED = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'typ',
  'act',
  'may_act',
  'cnf',
  'sid',
  'nonce',
  'at_hash',
  'c_hash',
  'azp',
  'client_id',
  'scope',
  'scp',
  GRANT_CLAIM,
  MINTED_BY_CLAIM,
  SUBJECT_ISSUER_CLAIM,
]);

export interface ServiceGrant {
  readonly database: string;
  readonly role: string;
  /** The policy rule that granted the minter this database and role. */
  readonly rule: string;
}

export function serviceTokenClaims(
  name: string,
  grant: ServiceGrant,
  minter: Identity,
): Record<string, unknown> {
  return {
    sub: `${SERVICE_SUBJECT_PREFIX}${name}`,
    [GRANT_CLAIM]: { database: grant.database, role: grant.role, rule: grant.rule },
    [MINTED_BY_CLAIM]: {
      issuer: minter.issuer,
      sub: minter.subject,
      ...(minter.email !== undefined && { email: minter.email }),
      ...(minter.credentialId !== undefined && { credential_id: minter.credentialId }),
    },
  };
}

/** The person's claims, acting through `agent` (RFC 8693 §4.1: `act.sub` is the actor). */
export function agentTokenClaims(person: Identity, agent: string): Record<string, unknown> {
  const copied = Object.fromEntries(
    Object.entries(person.claims).filter(([name]) => !NOT_COPIED.has(name)),
  );
  return {
    ...copied,
    sub: person.subject,
    act: { sub: `${AGENT_ACTOR_PREFIX}${agent}` },
    [SUBJECT_ISSUER_CLAIM]: person.issuer,
  };
}
