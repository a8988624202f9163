/**
 * What a provisioned login needs, decided from the policy alone (pure): the person's role
 * name, and the roles it must be a member of. docs/decisions/0012-per-person-roles.md says why:
 *
 * - Only the granting rule decides *whether* the session is provisioned (first grant wins, as
 *   for everything else in policy).
 * - Membership is the union of `roles` over every provisioning rule that grants this identity
 *   now — its match, its freshness and key conditions — on any of the rule's databases.
 *   PostgreSQL role membership is cluster-wide, so it cannot depend on the database a session
 *   asked for without two sessions of one person fighting over it; conditions on the login
 *   (`fresh_auth`, `authenticator`, `assurance`) do count, so a stale login never carries a
 *   role that needs a fresh one.
 * - `keep` wins over `drop` among those rules: a role one rule keeps is never dropped.
 * - Service tokens (a minted grant) are not provisioned: they open the shared role they name.
 */
import type { PolicyRuleConfig, ProvisionMode, ProvisioningConfig } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Identity } from '../identity/identity.ts';
import { decide, type AccessRequest } from '../policy/decide.ts';
import type { RoleOwner } from './owner-marker.ts';
import { quoteIdent, roleNameFromClaims } from './role-name.ts';

export interface ProvisionPlan {
  /** The person's role: the login role of the session. */
  readonly role: string;
  readonly owner: RoleOwner;
  /** Roles the person's role must be a member of, sorted. */
  readonly grants: readonly string[];
  readonly mode: ProvisionMode;
  /** The provisioning rules the grants come from, in policy order. */
  readonly rules: readonly string[];
}

/** The plan for a granted login, or undefined when the granting rule does not provision. */
export function planProvisioning(
  policy: readonly PolicyRuleConfig[],
  settings: ProvisioningConfig | undefined,
  identity: Identity,
  granted: { readonly rule: string; readonly database: string },
  now: number,
): ProvisionPlan | undefined {
  if (identity.restrictedTo !== undefined) return undefined;
  const granting = policy.find((rule) => rule.name === granted.rule);
  if (granting?.provision === undefined || settings === undefined) return undefined;
  const role = roleNameFromClaims(identity.claims, settings.name_claim);
  refuseConfiguredName(role, policy, settings);
  const contributing = policy.filter(
    (rule) =>
      rule === granting ||
      (rule.provision !== undefined &&
        decide([rule], identity, sampleRequest(rule, granted.database), now).allowed),
  );
  const grants = [...new Set(contributing.flatMap((rule) => rule.roles))].sort();
  const mode = contributing.some((rule) => rule.provision?.mode === 'keep') ? 'keep' : 'drop';
  return {
    role,
    owner: { issuer: identity.issuer, subject: identity.subject },
    grants,
    mode,
    rules: contributing.map((rule) => rule.name),
  };
}

/**
 * A person's name must never be one of the roles pgkey's configuration names: a role a rule
 * hands out (as a membership, or as the shared login of rules without `provision`), the admin
 * role, or `reassign_to`. An existing one is refused anyway (pgkey did not make it); this also
 * covers one not created yet, which the person's claim would otherwise take first — every
 * later session of that shared role would then log in as that person.
 */
function refuseConfiguredName(
  role: string,
  policy: readonly PolicyRuleConfig[],
  settings: ProvisioningConfig,
): void {
  const configured =
    role === settings.admin_role ||
    role === settings.reassign_to ||
    policy.some((rule) => rule.roles.includes(role));
  if (!configured) return;
  throw new PgkeyError('ERR_ROLE_CONFLICT', {
    message: `your database role name ${quoteIdent(role)} is a role pgkey's configuration uses`,
    detail:
      'A person cannot have the name of a role the policy grants, or of provisioning.admin_role or reassign_to.',
    hint: 'ask whoever runs pgkey to check provisioning.name_claim (docs/provisioning.md)',
    reason: 'role_name_configured',
  });
}

/** A request the rule would grant if the identity qualifies: its first role, here if it can. */
function sampleRequest(rule: PolicyRuleConfig, database: string): AccessRequest {
  const here = rule.databases.includes('*') || rule.databases.includes(database);
  return { database: here ? database : (rule.databases[0] ?? database), role: rule.roles[0] ?? '' };
}
