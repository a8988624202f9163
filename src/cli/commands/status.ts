import { isPgkeyError } from '../../errors/pgkey-error.ts';
import { formatAge } from '../../policy/format.ts';
import { parseCommandArgs } from '../args.ts';
import { describeExpiry, PROFILE_OPTION } from '../client-access.ts';
import type { Command } from '../command.ts';
import { formatTime, jsonTime, NONE, printable, renderTable } from '../table.ts';

/** A token that has this little left is refreshed before asking the token service. */
const STATUS_MIN_VALIDITY_MS = 30_000;

/**
 * `pgkey status`: who the cached token says I am (subject, e-mail, groups, issuer), when it
 * expires and how long ago I touched my key — and, from the token service's whoami, which
 * databases and roles the gateway's policy would give me. Without a token service (or when
 * it is down) it says so and shows the token part. Exit 1 when not logged in.
 */
export const status: Command = {
  name: 'status',
  summary: "who you are logged in as, token expiry, and what the gateway's policy gives you",
  usage: 'pgkey status [--profile NAME] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { ...PROFILE_OPTION, json: { type: 'boolean' } });
    const [{ loadProfile }, cache, { freshAccessToken }, { fetchWhoami }] = await Promise.all([
      import('../../client/profiles.ts'),
      import('../../client/token-cache.ts'),
      import('../../client/session-tokens.ts'),
      import('../../client/whoami.ts'),
    ]);
    const profile = await loadProfile(io.env, values.profile);
    // Refresh first when the token is (nearly) over, so what is shown is what works now. A
    // provider that cannot be reached leaves the cached token, shown as it is.
    let refreshProblem: string | undefined;
    const fresh = await freshAccessToken(profile, {
      minValidityMs: STATUS_MIN_VALIDITY_MS,
    }).catch((error: unknown) => {
      if (isPgkeyError(error, 'ERR_LOGIN_REQUIRED')) return undefined;
      if (!isPgkeyError(error) || error.code === 'ERR_FILE') throw error;
      refreshProblem = error.message;
      return undefined;
    });
    const cached = await cache.readTokenCache(profile);
    const now = Date.now();
    const gateway = `${profile.gateway.host}:${profile.gateway.port}`;
    const token =
      fresh?.token ??
      (cached !== undefined && cached.expires_at > now ? cached.access_token : undefined);
    const loggedIn = token !== undefined;

    let view: Awaited<ReturnType<typeof fetchWhoami>> | undefined;
    let viewProblem: string | undefined;
    if (token === undefined) viewProblem = refreshProblem ?? 'not logged in';
    else if (profile.token_service === undefined) {
      viewProblem =
        'this profile has no token service (set up with --issuer); ask your administrator, or run pgkey policy explain on the gateway host';
    } else {
      try {
        view = await fetchWhoami(profile, token);
      } catch (error) {
        viewProblem = isPgkeyError(error) ? error.message : 'the token service failed';
      }
    }

    const claims =
      fresh?.claims ?? (cached === undefined ? {} : cache.accessTokenClaims(cached.access_token));
    const groups = Array.isArray(claims.groups) ? claims.groups.map(String) : [];
    const authTime =
      cached?.identity.auth_time === undefined ? undefined : cached.identity.auth_time * 1000;

    if (values.json) {
      const body = {
        profile: profile.name,
        issuer: profile.issuer,
        gateway: profile.gateway,
        logged_in: loggedIn,
        subject: cached?.identity.sub ?? (typeof claims.sub === 'string' ? claims.sub : null),
        email: cached?.identity.email ?? (typeof claims.email === 'string' ? claims.email : null),
        groups,
        auth_time: jsonTime(authTime),
        auth_age_seconds: authTime === undefined ? null : Math.floor((now - authTime) / 1000),
        expires_at: jsonTime(cached?.expires_at),
        refreshable: cached?.refresh_token !== undefined,
        token_service: profile.token_service ?? null,
        policy: view === undefined ? null : { identity: view.identity, grants: view.grants },
        policy_problem: viewProblem ?? null,
        refresh_problem: refreshProblem ?? null,
      };
      io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      return loggedIn ? 0 : 1;
    }

    const lines: [string, string][] = [
      ['profile', profile.name],
      ['issuer', profile.issuer],
      ['gateway', gateway],
    ];
    if (cached !== undefined) {
      lines.push(
        ['subject', cached.identity.sub ?? NONE],
        ['email', cached.identity.email ?? NONE],
        ['groups', groups.length === 0 ? NONE : groups.join(', ')],
        [
          'key used',
          authTime === undefined
            ? NONE
            : `${formatTime(authTime)} (${formatAge(Math.floor((now - authTime) / 1000) * 1000)} ago)`,
        ],
        [
          'token',
          `${loggedIn ? 'valid until' : 'expired'} ${describeExpiry(cached.expires_at, now)}${cached.refresh_token === undefined ? ', not refreshable' : ', refreshed automatically'}`,
        ],
      );
    }
    const width = Math.max(...lines.map(([label]) => label.length));
    io.stdout.write(
      lines.map(([label, value]) => `${label.padEnd(width)}  ${printable(value)}\n`).join(''),
    );
    if (!loggedIn) {
      io.stdout.write(
        `\n${refreshProblem === undefined ? 'Not logged in' : `Not logged in (${printable(refreshProblem)})`}: pgkey login --profile ${profile.name}\n`,
      );
      return 1;
    }
    if (view === undefined) {
      io.stdout.write(`\nWhat the gateway gives you: unknown (${printable(viewProblem ?? '')})\n`);
      return 0;
    }
    io.stdout.write(
      `\nWhat the gateway's policy gives you (${printable(profile.token_service ?? '')}):\n`,
    );
    io.stdout.write(
      view.grants.length === 0
        ? '  nothing: no rule matches you\n'
        : renderTable(
            ['database', 'role', 'rule'],
            view.grants.map((g) => [g.database, g.role, g.rule]),
          ),
    );
    return 0;
  },
};
