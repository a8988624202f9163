/**
 * What the catalogs say about a person's role, read over the admin connection. Every view
 * used here is readable by an ordinary role: pg_roles, pg_auth_members, pg_shdepend,
 * pg_database, pg_stat_activity (whose `usename` and `pid` are visible for every backend).
 */
import type { Sql } from './admin-connection.ts';
import { parseOwnerMarker, type RoleOwner } from './owner-marker.ts';

export interface RoleRow {
  readonly oid: number;
  readonly canLogin: boolean;
  readonly superuser: boolean;
  /** From the role's comment; undefined: pgkey did not make this role. */
  readonly owner: RoleOwner | undefined;
}

export async function readRole(sql: Sql, name: string): Promise<RoleRow | undefined> {
  const [row] = await sql(
    `SELECT oid::int8::text AS oid, rolcanlogin, rolsuper,
            shobj_description(oid, 'pg_authid') AS comment
       FROM pg_roles WHERE rolname = $1`,
    [name],
  );
  if (row === undefined) return undefined;
  return {
    oid: Number(row.oid),
    canLogin: row.rolcanlogin === true,
    superuser: row.rolsuper === true,
    owner: parseOwnerMarker(typeof row.comment === 'string' ? row.comment : undefined),
  };
}

export interface Memberships {
  /** Every role the person's role is a direct member of, whoever granted it. */
  readonly all: ReadonlySet<string>;
  /** Those the admin role granted: the ones pgkey manages (and may revoke). */
  readonly managed: ReadonlySet<string>;
}

export async function readMemberships(sql: Sql, oid: number): Promise<Memberships> {
  const rows = await sql(
    `SELECT g.rolname, m.grantor = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS ours
       FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
      WHERE m.member = $1::oid`,
    [oid],
  );
  const all = new Set<string>();
  const managed = new Set<string>();
  for (const row of rows) {
    const name = String(row.rolname);
    all.add(name);
    if (row.ours === true) managed.add(name);
  }
  return { all, managed };
}

/** Backend pids logged in as the role, on this server, from any pgkey node. */
export async function liveBackends(sql: Sql, name: string): Promise<number[]> {
  const rows = await sql('SELECT pid FROM pg_stat_activity WHERE usename = $1', [name]);
  return rows.map((row) => Number(row.pid));
}

/**
 * Databases holding objects the role owns or privileges granted to it (pg_shdepend). Shared
 * objects (databases, tablespaces: dbid 0) are handled from any database: the current one.
 */
export async function dependentDatabases(sql: Sql, oid: number): Promise<string[]> {
  const rows = await sql(
    `SELECT DISTINCT coalesce(d.datname, current_database()) AS datname
       FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid
      WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1::oid
      ORDER BY 1`,
    [oid],
  );
  return rows.map((row) => String(row.datname));
}
