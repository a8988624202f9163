import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { withDirectory, writeJson } from '../directory-access.ts';
import { userJson } from '../directory-records.ts';
import { emailArgument, groupArgument, userByEmail } from '../people.ts';

/**
 * `pgkey groups add EMAIL GROUP`: the group appears in the person's next token (policy
 * rules match on it); tokens they hold now keep their old groups until they expire.
 */
export const groupsAdd: Command = {
  name: 'groups add',
  summary: 'add a person to a group (from their next login)',
  usage: 'pgkey groups add EMAIL GROUP [--config FILE] [--json]',
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
      async ({ directory, record }) => {
        const found = await userByEmail(directory, email);
        const updated = await directory.users.addGroup(found.id, group);
        if (!found.groups.includes(group))
          await record({ type: 'group.added', user: updated.email, group });
        return { user: updated, changed: !found.groups.includes(group) };
      },
    );
    if (values.json) {
      writeJson(io, { user: userJson(user), changed });
      return 0;
    }
    io.stdout.write(
      changed
        ? `added ${user.email} to ${group}; it is in their tokens from their next login\n`
        : `${user.email} is already in ${group}: nothing changed\n`,
    );
    return 0;
  },
};
