import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { withDirectory, writeJson } from '../directory-access.ts';
import { activeKeys, userJson } from '../directory-records.ts';
import { NONE, renderTable } from '../table.ts';

/** `pgkey users list`: everyone in the directory, oldest first. */
export const usersList: Command = {
  name: 'users list',
  summary: 'list the people in the directory, their groups and keys',
  usage: 'pgkey users list [--config FILE] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean' },
    });
    const { users, credentials } = await withDirectory(
      values.config,
      io,
      async ({ directory }) => ({
        users: await directory.users.list(),
        credentials: await directory.credentials.list(),
      }),
    );
    const keysOf = (userId: string) => credentials.filter((c) => c.userId === userId);
    if (values.json) {
      writeJson(io, { users: users.map((user) => userJson(user, keysOf(user.id))) });
      return 0;
    }
    if (users.length === 0) {
      io.stdout.write('no users yet: add one with `pgkey users add EMAIL`\n');
      return 0;
    }
    const rows = users.map((user) => [
      user.email,
      user.displayName,
      user.groups.join(','),
      String(activeKeys(keysOf(user.id))),
      disabledText(user.disabled, user.disabledReason),
    ]);
    io.stdout.write(renderTable(['email', 'name', 'groups', 'keys', 'disabled'], rows));
    return 0;
  },
};

function disabledText(disabled: boolean, reason: string | undefined): string {
  if (!disabled) return NONE;
  return reason === undefined || reason === '' ? 'yes' : `yes: ${reason}`;
}
