import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { withDirectory, writeJson } from '../directory-access.ts';
import { userJson } from '../directory-records.ts';
import { emailArgument, groupArgument, userByEmail } from '../people.ts';

/**
 * `pgkey groups remove EMAIL GROUP`: takes effect at once. Tokens issued before now are
 * refused (they still name the group) and a running gateway ends the person's live
 * sessions within a second (`user.groups_changed`); they sign in again for a new token.
 */
export const groupsRemove: Command = {
  name: 'groups remove',
  summary: 'remove a person from a group, ending sessions that relied on it',
  usage: 'pgkey groups remove EMAIL GROUP [--config FILE] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
      { min: 2, max: 2 },
    );
    const email = emailArgument(positionals[0] ?? '');
    const group = groupArgument(positionals[1] ?? '');
    const { user, changed } = await withDirectory(
      values.config,
      io,
      async ({ directory, clock, record }) => {
        const found = await userByEmail(directory, email);
        const updated = await directory.users.removeGroup(found.id, group, clock.now());
        if (found.groups.includes(group)) {
          await record({ type: 'group.removed', user: updated.email, group });
        }
        return { user: updated, changed: found.groups.includes(group) };
      },
    );
    if (values.json) {
      writeJson(io, { user: userJson(user), changed });
      return 0;
    }
    io.stdout.write(
      changed
        ? `removed ${user.email} from ${group}\n` +
            'their current tokens are refused and a running pgkey ends their sessions within a second\n'
        : `${user.email} is not in ${group}: nothing changed\n`,
    );
    return 0;
  },
};
