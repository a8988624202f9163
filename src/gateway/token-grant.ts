/**
 * The gateway's half of service tokens (src/sts): a token minted for one database and role
 * opens that pair and nothing else, even where a policy rule would allow more (an empty-match
 * rule, a rule for the service's name). Its authority came from the person who minted it,
 * checked against the policy at mint time; here the rule that granted the mint must still
 * grant the pair, so taking the rule out of the config (SIGHUP) stops the token too, and that
 * rule's `max_session` and query audit apply to its sessions. Revocation is
 * gateway/revocation.ts.
 */
import type { PolicyRuleConfig } from '../config/schema.ts';
import type { Identity } from '../identity/identity.ts';
import { requirementsOf } from '../policy/assurance.ts';
import type { AccessRequest, Decision } from '../policy/decide.ts';
import { quote } from '../policy/format.ts';

/** The decision for a restricted (minted) token; undefined for every other identity. */
export function authorizeRestricted(
  policy: readonly PolicyRuleConfig[],
  identity: Identity,
  request: AccessRequest,
): Decision | undefined {
  const grant = identity.restrictedTo;
  if (grant === undefined) return undefined;
  const pair = `role ${quote(grant.role)} on database ${quote(grant.database)}`;
  const deny = (message: string, hint: string): Decision => ({
    allowed: false,
    code: 'ERR_ACCESS_DENIED',
    reason: 'policy_denied',
    message,
    hint,
    allowedRoles: [grant.role],
    verdicts: [],
  });
  if (request.database !== grant.database || request.role !== grant.role) {
    return deny(
      `access denied: this service token opens only ${pair}`,
      `connect as user ${quote(grant.role)} to database ${quote(grant.database)}, or mint a token for what you need`,
    );
  }
  const rule = policy.find((r) => r.name === grant.rule);
  if (
    rule === undefined ||
    !rule.roles.includes(grant.role) ||
    !(rule.databases.includes('*') || rule.databases.includes(grant.database))
  ) {
    return deny(
      `access denied: policy rule ${quote(grant.rule)}, which allowed minting this token, no longer grants ${pair}`,
      'ask whoever runs pgkey whether the policy change was meant to end this access',
    );
  }
  // The minter met the rule's key and freshness conditions at mint time; the token carries
  // no login of its own, so only the rule's idle limit follows it here.
  const requirements = requirementsOf(rule);
  return {
    allowed: true,
    rule: `minted:${grant.rule}`,
    role: grant.role,
    database: grant.database,
    maxSessionMs: rule.max_session,
    idleTimeoutMs: requirements.idleTimeoutMs,
    reauthenticateAt: undefined,
    assurance: requirements.assurance,
    queryAudit: rule.audit?.queries === true ? rule.audit : undefined,
  };
}
