import { parseCommandArgs } from '../args.ts';
import { CONNECT_MIN_VALIDITY_MS, PROFILE_OPTION } from '../client-access.ts';
import type { Command } from '../command.ts';

/**
 * `pgkey token`: the bare access token on stdout, refreshed first when it has less than two
 * minutes left — for scripts (`PGPASSWORD="$(pgkey token)"`). The only command that prints
 * a token on its own; `pgkey token mint|list|revoke` are the token service's commands.
 */
export const token: Command = {
  name: 'token',
  summary: 'print your access token (refreshed if needed), for scripts',
  usage: 'pgkey token [--profile NAME]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, PROFILE_OPTION);
    const [{ loadProfile }, { freshAccessToken }] = await Promise.all([
      import('../../client/profiles.ts'),
      import('../../client/session-tokens.ts'),
    ]);
    const profile = await loadProfile(io.env, values.profile);
    const fresh = await freshAccessToken(profile, { minValidityMs: CONNECT_MIN_VALIDITY_MS });
    io.stdout.write(`${fresh.token}\n`);
    return 0;
  },
};
