import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { withDirectory, writeJson } from '../directory-access.ts';
import { userJson } from '../directory-records.ts';
import { emailArgument, userByEmail } from '../people.ts';

/**
 * `pgkey users enable EMAIL`: lets a disabled person sign in again. Tokens issued before
 * they were disabled stay refused (the directory keeps `tokensValidAfter`): they sign in
 * afresh with their key.
 */
export const usersEnable: Command = {
  name: 'users enable',
  summary: 'let a disabled person sign in again',
  usage: 'pgkey users enable EMAIL [--config FILE] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
      { min: 1, max: 1 },
    );
    const email = emailArgument(positionals[0] ?? '');
    const { user, wasDisabled } = await withDirectory(
      values.config,
      io,
      async ({ directory, clock, record }) => {
        const found = await userByEmail(directory, email);
        const enabled = await directory.users.setDisabled(found.id, false, undefined, clock.now());
        if (found.disabled) await record({ type: 'user.enabled', user: enabled.email });
        return { user: enabled, wasDisabled: found.disabled };
      },
    );
    if (values.json) {
      writeJson(io, { user: userJson(user), changed: wasDisabled });
      return 0;
    }
    io.stdout.write(
      wasDisabled
        ? `enabled ${user.email}: they sign in again with their key (older tokens stay refused)\n`
        : `${user.email} was not disabled: nothing changed\n`,
    );
    return 0;
  },
};
