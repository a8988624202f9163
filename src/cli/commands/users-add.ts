import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { withDirectory, writeJson } from '../directory-access.ts';
import { userJson } from '../directory-records.ts';
import { addUser, displayNameArgument, emailArgument, groupArgument } from '../people.ts';
import { printable } from '../table.ts';

/**
 * `pgkey users add EMAIL`: a person in the built-in provider's directory, with no key yet
 * (`pgkey users invite` gives them the enrollment link) and a random id (people.ts).
 */
export const usersAdd: Command = {
  name: 'users add',
  summary: 'add a person to the directory (then invite them to register a key)',
  usage: 'pgkey users add EMAIL [--name NAME] [--group GROUP]... [--config FILE] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        config: { type: 'string', short: 'c' },
        name: { type: 'string' },
        group: { type: 'string', multiple: true },
        json: { type: 'boolean' },
      },
      { min: 1, max: 1 },
    );
    const email = emailArgument(positionals[0] ?? '');
    const displayName = displayNameArgument(values.name, email);
    const groups = (values.group ?? []).map(groupArgument);
    const user = await withDirectory(values.config, io, async (access) => {
      let created = await addUser(access, email, displayName);
      for (const group of groups)
        created = await access.directory.users.addGroup(created.id, group);
      await access.record({ type: 'user.created', user: created.email });
      return created;
    });
    if (values.json) {
      writeJson(io, { user: userJson(user, []) });
      return 0;
    }
    const groupText = user.groups.length === 0 ? 'no groups' : `groups ${user.groups.join(',')}`;
    io.stdout.write(
      `added ${user.email} (${printable(user.displayName)}), ${groupText}\n` +
        `next: pgkey users invite ${user.email}\n`,
    );
    return 0;
  },
};
