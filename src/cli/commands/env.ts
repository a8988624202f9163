import { parseCommandArgs } from '../args.ts';
import { connection, TARGET_OPTIONS, warnExpiry } from '../client-access.ts';
import type { Command } from '../command.ts';

/**
 * `pgkey env [DATABASE]`: the libpq environment for the gateway, as shell exports
 * (`eval "$(pgkey env warehouse)"`) or `--json`. It includes PGPASSWORD — the token — because
 * that is what was asked for; the expiry goes to stderr.
 */
export const env: Command = {
  name: 'env',
  summary: 'print PG* environment variables (token included) for libpq clients',
  usage: 'pgkey env [DATABASE] [--role ROLE] [--profile NAME] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      { ...TARGET_OPTIONS, json: { type: 'boolean' } },
      { max: 1 },
    );
    const { libpqEnv, shellExports, OVERRIDDEN_LIBPQ_VARIABLES } =
      await import('../../client/connection.ts');
    const { profile, fresh, target } = await connection(io, values, positionals[0]);
    const variables = libpqEnv(profile, target, fresh.token);
    if (values.json) {
      io.stdout.write(`${JSON.stringify(variables, null, 2)}\n`);
    } else {
      io.stdout.write(`unset ${OVERRIDDEN_LIBPQ_VARIABLES.join(' ')}\n${shellExports(variables)}`);
    }
    warnExpiry(io, 'PGPASSWORD', fresh.expiresAt);
    return 0;
  },
};
