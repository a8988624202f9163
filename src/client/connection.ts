/**
 * From a profile and a token to a PostgreSQL connection through the gateway: which database
 * and role, and how to hand them to libpq (PG* environment variables) or to a driver (a
 * `postgresql://` URI). Always `sslmode=verify-full`: the token is a bearer credential and
 * must only ever reach the real gateway.
 *
 * The role: `--role`, else the profile's `role`, else the one role the gateway's policy
 * gives for that database (from the token service's whoami), else an error listing them.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Profile } from './profiles.ts';
import { fetchWhoami, grantsFor, type GatewayView } from './whoami.ts';

export interface Target {
  readonly database: string;
  readonly role: string;
}

/**
 * Picks the database and role. `view` is fetched only when the choice needs the policy;
 * `lookup` errors (no token service, unreachable) are turned into a request to name it.
 */
export async function resolveTarget(
  profile: Profile,
  token: string,
  wanted: { database?: string | undefined; role?: string | undefined },
  lookup: (profile: Profile, token: string) => Promise<GatewayView> = fetchWhoami,
): Promise<Target> {
  const database = wanted.database ?? profile.database;
  const role = wanted.role ?? profile.role;
  if (database !== undefined && role !== undefined) return { database, role };

  let view: GatewayView;
  try {
    view = await lookup(profile, token);
  } catch (error) {
    const why = error instanceof PgkeyError ? error.message : 'the policy could not be read';
    throw new PgkeyError('ERR_USAGE', {
      message: `name the ${database === undefined ? 'database' : 'role'}: ${why}`,
      hint:
        database === undefined
          ? 'pgkey psql DATABASE --role ROLE, or set database: and role: in the profile'
          : `--role ROLE, or set role: in profile "${profile.name}"`,
      cause: error,
    });
  }
  const databases = [...new Set(view.grants.map((g) => g.database).filter((d) => d !== '*'))];
  const chosenDatabase = database ?? (databases.length === 1 ? databases[0] : undefined);
  if (chosenDatabase === undefined) {
    throw new PgkeyError('ERR_USAGE', {
      message:
        databases.length === 0
          ? "name the database: the gateway's policy lists none for you by name"
          : `name the database: the gateway's policy gives you ${databases.join(', ')}`,
    });
  }
  if (role !== undefined) return { database: chosenDatabase, role };
  const roles = [...new Set(grantsFor(view.grants, chosenDatabase).map((g) => g.role))];
  const [only] = roles;
  if (roles.length === 1 && only !== undefined) return { database: chosenDatabase, role: only };
  if (roles.length === 0) {
    throw new PgkeyError('ERR_USAGE', {
      message: `the gateway's policy gives you no role on database "${chosenDatabase}"`,
      hint:
        databases.length === 0
          ? 'pgkey status shows what you may use'
          : `you may use: ${databases.join(', ')}`,
    });
  }
  throw new PgkeyError('ERR_USAGE', {
    message: `choose a role for database "${chosenDatabase}": ${roles.join(', ')}`,
    hint: `--role ${only ?? 'ROLE'}, or set role: in profile "${profile.name}"`,
    // The hint names the one flag to add: the CLI shows no usage line under it (main.ts).
    reason: 'role_choice_needed',
  });
}

/** The CA for verify-full: the profile's file, else libpq's `system` (libpq ≥ 16). */
export function rootCert(profile: Profile): string {
  return profile.gateway_ca_file ?? 'system';
}

/** libpq environment (PostgreSQL docs §32.15) for psql and `pgkey env`. */
export function libpqEnv(profile: Profile, target: Target, token: string): Record<string, string> {
  return {
    PGHOST: profile.gateway.host,
    PGPORT: String(profile.gateway.port),
    PGUSER: target.role,
    PGDATABASE: target.database,
    PGPASSWORD: token,
    PGSSLMODE: 'verify-full',
    PGSSLROOTCERT: rootCert(profile),
  };
}

/**
 * Variables that would redirect libpq behind our back: a service file entry beats the
 * environment, and PGHOSTADDR skips the name the certificate is checked against.
 */
export const OVERRIDDEN_LIBPQ_VARIABLES = ['PGSERVICE', 'PGHOSTADDR'] as const;

/** `postgresql://role:token@host:port/db?sslmode=verify-full&sslrootcert=…` (RFC 3986). */
export function connectionUri(profile: Profile, target: Target, token: string): string {
  const host = profile.gateway.host.includes(':')
    ? `[${profile.gateway.host}]`
    : profile.gateway.host;
  const query = new URLSearchParams({ sslmode: 'verify-full', sslrootcert: rootCert(profile) });
  return `postgresql://${encodeURIComponent(target.role)}:${encodeURIComponent(token)}@${host}:${profile.gateway.port}/${encodeURIComponent(target.database)}?${query.toString()}`;
}

/** `export NAME='value'` lines, safe for sh, bash and zsh. */
export function shellExports(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([name, value]) => `export ${name}=${shellQuote(value)}\n`)
    .join('');
}

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
