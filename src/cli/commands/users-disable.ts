import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { withDirectory, writeJson } from '../directory-access.ts';
import { userJson } from '../directory-records.ts';
import { emailArgument, reasonArgument, userByEmail } from '../people.ts';
import { printable } from '../table.ts';

const DEFAULT_REASON = 'disabled by an administrator';

/**
 * `pgkey users disable EMAIL`: the person can no longer sign in, tokens issued to them so far
 * are refused, and a running gateway ends their live sessions within a second (the
 * directory's `user.disabled` change reaches it from this process too). Repeating it
 * re-announces the change, which ends any session that slipped through.
 */
export const usersDisable: Command = {
  name: 'users disable',
  summary: 'disable a person: refuse their tokens and end their live sessions',
  usage: 'pgkey users disable EMAIL [--reason TEXT] [--config FILE] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        config: { type: 'string', short: 'c' },
        reason: { type: 'string' },
        json: { type: 'boolean' },
      },
      { min: 1, max: 1 },
    );
    const email = emailArgument(positionals[0] ?? '');
    const reason = reasonArgument(values.reason, DEFAULT_REASON);
    const user = await withDirectory(values.config, io, async ({ directory, clock, record }) => {
      const found = await userByEmail(directory, email);
      const disabled = await directory.users.setDisabled(found.id, true, reason, clock.now());
      await record({ type: 'user.disabled', user: disabled.email, reason });
      return disabled;
    });
    if (values.json) {
      writeJson(io, { user: userJson(user) });
      return 0;
    }
    io.stdout.write(
      `disabled ${user.email} (${printable(reason)})\n` +
        'their tokens are refused and a running pgkey ends their sessions within a second\n',
    );
    return 0;
  },
};
