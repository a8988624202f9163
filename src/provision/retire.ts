/**
 * The last-disconnect half of provisioning. Under the person's lock, and only when no session
 * anywhere uses the role — none connecting or live on this node, no backend of it in
 * pg_stat_activity (other pgkey nodes) — the role loses LOGIN; in `drop` mode its objects then
 * go to `provisioning.reassign_to` in every database that holds any (pg_shdepend), and the
 * role is dropped. A session that was about to log in on another node when this ran fails its
 * login and provisions again (gateway/upstream-login.ts): the lock orders the two.
 */
import pg from 'pg';
import type { ProvisionMode } from '../config/schema.ts';
import type { AdminConnection, Sql } from './admin-connection.ts';
import { sameOwner, type RoleOwner } from './owner-marker.ts';
import { dependentDatabases, liveBackends, readRole, type RoleRow } from './role-catalog.ts';
import { lockRole } from './role-lock.ts';
import { quoteIdent } from './role-name.ts';

export type RetireOutcome =
  | { readonly kind: 'deactivated' }
  | { readonly kind: 'dropped'; readonly databases: readonly string[] }
  /** `drop` left the role NOLOGIN: something PostgreSQL would not let pgkey remove. */
  | { readonly kind: 'drop_blocked'; readonly detail: string }
  /** Nothing to do: the role is in use, already disabled, gone, or not the person's. */
  | { readonly kind: 'skipped'; readonly why: 'in_use' | 'inactive' | 'gone' | 'not_ours' }
  /** Only backends of sessions this node ended are left: they are on their way out. */
  | { readonly kind: 'lingering' };

export interface RetireInput {
  readonly role: string;
  readonly owner: RoleOwner;
  readonly mode: ProvisionMode;
  readonly reassignTo: string | undefined;
  /** Backend pids of this node's sessions that ended: still listed while they exit. */
  readonly endedPids: ReadonlySet<number>;
  /** A session of the person is connecting or live on this node again. */
  readonly activeHere: () => boolean;
}

export async function retireRole(
  admin: AdminConnection,
  input: RetireInput,
): Promise<RetireOutcome> {
  const name = quoteIdent(input.role);
  const first = await admin.transaction(async (sql) => {
    const checked = await check(sql, input);
    if (checked.kind !== 'ready') return checked.outcome;
    if (!checked.role.canLogin) return skipped('inactive');
    await sql(`ALTER ROLE ${name} NOLOGIN`);
    return { kind: 'deactivated' } as const;
  });
  if (input.mode === 'keep') return first;
  // A role left NOLOGIN by an earlier drop that could not finish is tried again.
  const inactive = first.kind === 'skipped' && first.why === 'inactive';
  if (first.kind !== 'deactivated' && !inactive) return first;
  const reassignTo = input.reassignTo;
  if (reassignTo === undefined)
    return { kind: 'drop_blocked', detail: 'no provisioning.reassign_to' };
  // A second step, so nothing above holds the role's catalog row while other connections
  // (one per database) take ownership of its objects. A connect in between re-enables the
  // role, which this step sees and leaves alone.
  const second = await admin
    .transaction((sql) => dropRole(admin, sql, input, reassignTo))
    .catch((error: unknown): RetireOutcome => {
      // The role is NOLOGIN already; what stopped the drop (a database the admin role may
      // not connect to, a missing grant) is for the operator's log.
      const detail = error instanceof Error ? error.message : String(error);
      return { kind: 'drop_blocked', detail };
    });
  // A connect took the role back between the two steps: what happened is the first step.
  return second.kind === 'skipped' && first.kind === 'deactivated' ? first : second;
}

async function dropRole(
  admin: AdminConnection,
  sql: Sql,
  input: RetireInput,
  reassignTo: string,
): Promise<RetireOutcome> {
  const name = quoteIdent(input.role);
  const checked = await check(sql, input);
  if (checked.kind !== 'ready') return checked.outcome;
  if (checked.role.canLogin) return skipped('in_use');
  const databases = await dependentDatabases(sql, checked.role.oid);
  for (const database of databases) {
    await admin.inDatabase(database, async (db) => {
      // REASSIGN and DROP OWNED need the privileges of the role whose objects they move
      // (PostgreSQL docs, REASSIGN OWNED): held for this transaction only.
      await db(`GRANT ${name} TO CURRENT_USER`);
      await db(`REASSIGN OWNED BY ${name} TO ${quoteIdent(reassignTo)}`);
      await db(`DROP OWNED BY ${name}`);
      await db(`REVOKE ${name} FROM CURRENT_USER`);
    });
  }
  await sql('SAVEPOINT drop_role');
  try {
    await sql(`DROP ROLE ${name}`);
  } catch (error) {
    // 2BP01: privileges others granted it, which DROP OWNED run by pgkey cannot revoke.
    if (!(error instanceof pg.DatabaseError) || error.code !== '2BP01') throw error;
    await sql('ROLLBACK TO SAVEPOINT drop_role');
    return { kind: 'drop_blocked', detail: error.detail ?? error.message } as const;
  }
  return { kind: 'dropped', databases } as const;
}

type Checked =
  | { readonly kind: 'ready'; readonly role: RoleRow }
  | { readonly kind: 'stop'; readonly outcome: RetireOutcome };

async function check(sql: Sql, input: RetireInput): Promise<Checked> {
  await lockRole(sql, input.role);
  // Checked once the lock is held: a local connect counts itself before it asks for the lock.
  if (input.activeHere()) return stop(skipped('in_use'));
  const role = await readRole(sql, input.role);
  if (role === undefined) return stop(skipped('gone'));
  if (role.owner === undefined || !sameOwner(role.owner, input.owner))
    return stop(skipped('not_ours'));
  const pids = await liveBackends(sql, input.role);
  if (pids.some((pid) => !input.endedPids.has(pid))) return stop(skipped('in_use'));
  if (pids.length > 0) return stop({ kind: 'lingering' });
  return { kind: 'ready', role };
}

function stop(outcome: RetireOutcome): Checked {
  return { kind: 'stop', outcome };
}

function skipped(why: 'in_use' | 'inactive' | 'gone' | 'not_ours'): RetireOutcome {
  return { kind: 'skipped', why };
}
