import { PgkeyError } from '../../errors/pgkey-error.ts';
import { formatDuration, parseDuration } from '../../runtime/duration.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { cliActor, withIdpDirectory, writeJson } from '../directory-access.ts';
import { displayNameArgument, emailArgument } from '../people.ts';
import { formatTime, jsonTime } from '../table.ts';

/**
 * `pgkey users invite EMAIL`: a single-use, expiring enrollment link. The person opens it
 * and registers a security key or passkey; until then they have no way in. The user is
 * created when missing. The directory keeps only the SHA-256 of the link's secret
 * (idp/pages/invites.ts, shared with the admin page), so this output is the only place the
 * link ever appears.
 */
export const usersInvite: Command = {
  name: 'users invite',
  summary: 'create a single-use enrollment link for a person (adds them when new)',
  usage:
    'pgkey users invite EMAIL [--ttl 72h] [--name NAME (for a new user)] [--config FILE] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        config: { type: 'string', short: 'c' },
        ttl: { type: 'string' },
        name: { type: 'string' },
        json: { type: 'boolean' },
      },
      { min: 1, max: 1 },
    );
    const email = emailArgument(positionals[0] ?? '');
    const displayName = displayNameArgument(values.name, email);
    const ttlFlag = values.ttl === undefined ? undefined : ttlArgument(values.ttl);
    const [{ createInvite }, { cryptoRandom }] = await Promise.all([
      import('../../idp/pages/invites.ts'),
      import('../../runtime/random.ts'),
    ]);
    const why = 'the invite link points at the built-in provider (idp.issuer)';
    const result = await withIdpDirectory(values.config, io, why, async (access) => {
      const { directory, clock, idp } = access;
      const existing = await directory.users.findByEmail(email);
      if (existing?.disabled) {
        throw new PgkeyError('ERR_CONFLICT', {
          message: `${email} is disabled: a new key would not let them in`,
          hint: `enable them first: pgkey users enable ${email}`,
          reason: 'user_disabled',
        });
      }
      const created = await createInvite(directory, {
        email,
        displayName,
        createdBy: cliActor(io),
        ttlMs: ttlFlag ?? idp.invite_ttl,
        now: clock.now(),
        random: cryptoRandom,
        issuer: idp.issuer,
      });
      if (existing === undefined) await access.record({ type: 'user.created', user: email });
      await access.record({ type: 'invite.created', user: email });
      return { ...created, userCreated: existing === undefined };
    });
    const { user, userCreated: created, invite, link } = result;
    if (values.json) {
      writeJson(io, {
        email: user.email,
        userId: user.id,
        userCreated: created,
        inviteId: invite.id,
        link,
        expiresAt: jsonTime(invite.expiresAt),
      });
      return 0;
    }
    io.stdout.write(
      `${created ? 'added and invited' : 'invited'} ${user.email}; ` +
        `single-use link, expires ${formatTime(invite.expiresAt)}` +
        ` (in ${formatDuration(invite.expiresAt - invite.createdAt)}):\n` +
        `  ${link}\n` +
        `whoever opens it can register a key as ${user.email}: send it over a channel you trust\n`,
    );
    return 0;
  },
};

function ttlArgument(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < 60_000) {
    throw new PgkeyError('ERR_USAGE', {
      message: `--ttl: expected a duration of at least a minute such as 30m, 72h or 7d; got ${JSON.stringify(value)}`,
    });
  }
  return ms;
}
