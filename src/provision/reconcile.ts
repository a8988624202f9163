/**
 * The connect half of provisioning, in one transaction under the person's lock: create the
 * role (or check that an existing one is the person's, made by pgkey), let it log in, grant
 * what the plan says and revoke what pgkey granted earlier that the plan no longer has.
 * Idempotent: a second connect of the same person changes nothing and records nothing.
 */
import pg from 'pg';
import { PgkeyError, isPgkeyError } from '../errors/pgkey-error.ts';
import type { Sql } from './admin-connection.ts';
import { ownerMarker, sameOwner } from './owner-marker.ts';
import type { ProvisionPlan } from './plan.ts';
import { liveBackends, readMemberships, readRole } from './role-catalog.ts';
import { lockRole } from './role-lock.ts';
import { quoteIdent, quoteLiteral } from './role-name.ts';

export interface ReconcileOutcome {
  readonly created: boolean;
  /** The role existed with NOLOGIN (kept from an earlier session) and may log in again. */
  readonly enabled: boolean;
  readonly granted: readonly string[];
  readonly revoked: readonly string[];
}

const CONFLICT_HINT =
  'ask whoever runs pgkey: the role must be renamed or dropped, or provisioning.name_claim changed';

export async function reconcileRole(
  sql: Sql,
  plan: ProvisionPlan,
  /** Other sessions of this person on this pgkey node, live or connecting. */
  othersHere: () => boolean,
): Promise<ReconcileOutcome> {
  const name = quoteIdent(plan.role);
  await lockRole(sql, plan.role);
  const existing = await readRole(sql, plan.role);
  let created = false;
  let enabled = false;
  if (existing === undefined) {
    // Under the lock no pgkey node races this; anyone else doing so gets 42710, retried once.
    await sql(`CREATE ROLE ${name} LOGIN`);
    await sql(`COMMENT ON ROLE ${name} IS ${quoteLiteral(ownerMarker(plan.owner))}`);
    created = true;
  } else {
    refuseForeign(plan, existing.owner, existing.superuser);
    if (!existing.canLogin) {
      await sql(`ALTER ROLE ${name} LOGIN`);
      enabled = true;
    }
  }
  const role = existing ?? (await readRole(sql, plan.role));
  if (role === undefined) throw new TypeError('the role just created is not in pg_roles');
  const members = await readMemberships(sql, role.oid);
  const wanted = new Set(plan.grants);
  const revoked = [...members.managed].filter((g) => !wanted.has(g)).sort();
  const granted = plan.grants.filter((g) => !members.all.has(g));
  if (revoked.length > 0) {
    // Role membership is cluster-wide: revoking now would take the roles away from sessions
    // that are using them; keeping them would hand them to this login, which the policy does
    // not give them to. Refuse until those sessions end (docs/decisions/0012).
    if (othersHere() || (await liveBackends(sql, plan.role)).length > 0) {
      throw new PgkeyError('ERR_ROLE_IN_USE', {
        message: `your other open sessions are members of ${revoked.map(quoteIdent).join(', ')}, which this login does not grant`,
        hint: 'close your other sessions and reconnect, or log in again (pgkey login --fresh) if a rule needs a fresher login or another key',
        reason: 'role_in_use',
      });
    }
    for (const group of revoked)
      await grantStatement(sql, `REVOKE ${quoteIdent(group)} FROM ${name}`, group);
  }
  for (const group of granted)
    await grantStatement(sql, `GRANT ${quoteIdent(group)} TO ${name}`, group);
  return { created, enabled, granted, revoked };
}

function refuseForeign(
  plan: ProvisionPlan,
  owner: ProvisionPlan['owner'] | undefined,
  superuser: boolean,
): void {
  const name = quoteIdent(plan.role);
  if (owner === undefined) {
    throw new PgkeyError('ERR_ROLE_CONFLICT', {
      message: `database role ${name} already exists and was not created by pgkey`,
      detail: 'pgkey never takes over a role it did not make.',
      hint: CONFLICT_HINT,
      reason: 'role_not_pgkeys',
    });
  }
  if (!sameOwner(owner, plan.owner)) {
    throw new PgkeyError('ERR_ROLE_CONFLICT', {
      message: `database role ${name} belongs to another identity`,
      detail: 'pgkey made this role for a person with another issuer or subject.',
      hint: CONFLICT_HINT,
      reason: 'role_owned_by_other',
    });
  }
  if (superuser) {
    throw new PgkeyError('ERR_ROLE_CONFLICT', {
      message: `database role ${name} was made a superuser since pgkey created it`,
      hint: 'pgkey does not log people in as superusers it did not create; ask whoever runs pgkey',
      reason: 'role_superuser',
    });
  }
}

/** GRANT or REVOKE of one group role; PostgreSQL's refusals in an operator's words. */
async function grantStatement(sql: Sql, statement: string, group: string): Promise<void> {
  try {
    await sql(statement);
  } catch (error) {
    if (error instanceof pg.DatabaseError && error.code === '42704') {
      throw new PgkeyError('ERR_PROVISION_FAILED', {
        message: `role ${quoteIdent(group)}, which a provisioning rule grants, does not exist`,
        hint: 'ask whoever runs pgkey to create it or change the policy',
        reason: 'provision_role_missing',
        cause: error,
      });
    }
    if (error instanceof pg.DatabaseError && error.code === '42501') {
      throw new PgkeyError('ERR_PROVISION_FAILED', {
        message: `pgkey's provisioning role may not grant ${quoteIdent(group)}`,
        hint: 'ask whoever runs pgkey to grant it as docs/provisioning.md shows',
        reason: 'provision_not_permitted',
        cause: error,
      });
    }
    throw error;
  }
}

/** Anything else the admin connection raised, as the one error family. */
export function provisionError(error: unknown): PgkeyError {
  if (isPgkeyError(error)) return error;
  if (error instanceof pg.DatabaseError && error.code === '55P03') {
    return new PgkeyError('ERR_PROVISION_FAILED', {
      message: 'timed out waiting to prepare your database role',
      hint: 'try again; if it persists, ask whoever runs pgkey',
      reason: 'provision_lock_timeout',
      cause: error,
    });
  }
  if (error instanceof pg.DatabaseError && error.code === '42501') {
    return new PgkeyError('ERR_PROVISION_FAILED', {
      hint: 'ask whoever runs pgkey: its provisioning role lacks a privilege (docs/provisioning.md)',
      reason: 'provision_not_permitted',
      cause: error,
    });
  }
  return new PgkeyError('ERR_PROVISION_FAILED', { reason: 'provision_failed', cause: error });
}

/** CREATE ROLE lost a race with something that is not pgkey (pgkey nodes hold the lock). */
export function isDuplicateRole(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.code === '42710';
}
