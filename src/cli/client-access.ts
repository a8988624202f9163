/**
 * What the person-facing commands (`psql`, `env`, `connstr`, `token`, `status`) share: the
 * `--profile` option, a token fresh enough to connect with, the database and role, and
 * how to say when a token expires.
 */
import type { Profile } from '../client/profiles.ts';
import type { Target } from '../client/connection.ts';
import type { FreshToken } from '../client/session-tokens.ts';
import { formatSpan } from '../policy/format.ts';
import type { CommandIo } from './command.ts';
import { formatTime } from './table.ts';

/**
 * A token handed to psql or a driver must outlive the connection handshake by a margin;
 * two minutes also covers a script that runs `pgkey env` and then connects a few times.
 * Refreshed tokens are used whatever their lifetime.
 */
export const CONNECT_MIN_VALIDITY_MS = 2 * 60_000;

export const PROFILE_OPTION = { profile: { type: 'string', short: 'p' } } as const;
export const TARGET_OPTIONS = {
  ...PROFILE_OPTION,
  role: { type: 'string', short: 'r' },
} as const;

export interface Connection {
  readonly profile: Profile;
  readonly fresh: FreshToken;
  readonly target: Target;
}

/** The profile, a token valid for CONNECT_MIN_VALIDITY_MS, and the database and role. */
export async function connection(
  io: CommandIo,
  options: { profile?: string | undefined; role?: string | undefined },
  database: string | undefined,
): Promise<Connection> {
  const [{ loadProfile }, { freshAccessToken }, { resolveTarget }] = await Promise.all([
    import('../client/profiles.ts'),
    import('../client/session-tokens.ts'),
    import('../client/connection.ts'),
  ]);
  const profile = await loadProfile(io.env, options.profile);
  const fresh = await freshAccessToken(profile, { minValidityMs: CONNECT_MIN_VALIDITY_MS });
  const target = await resolveTarget(profile, fresh.token, {
    database,
    role: options.role,
  });
  return { profile, fresh, target };
}

/** `12:34Z (in 9m)` / `12:34Z (expired 3m ago)`. */
export function describeExpiry(expiresAt: number, now = Date.now()): string {
  // Whole seconds: milliseconds are noise here.
  const left = Math.round((expiresAt - now) / 1000) * 1000;
  return left > 0
    ? `${formatTime(expiresAt)} (in ${formatSpan(left, 2)})`
    : `${formatTime(expiresAt)} (expired ${formatSpan(-left, 2)} ago)`;
}

/** A line on stderr: the token inside this output stops working at … */
export function warnExpiry(io: CommandIo, what: string, expiresAt: number): void {
  io.stderr.write(
    `pgkey: ${what} holds an access token that expires at ${describeExpiry(expiresAt)}; run the command again for a new one\n`,
  );
}
