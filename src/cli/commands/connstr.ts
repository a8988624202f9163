import { parseCommandArgs } from '../args.ts';
import { connection, TARGET_OPTIONS, warnExpiry } from '../client-access.ts';
import type { Command } from '../command.ts';
import { jsonTime } from '../table.ts';

/**
 * `pgkey connstr [DATABASE]`: a `postgresql://` URI for drivers (node-postgres, JDBC via
 * pgjdbc's URL, SQLAlchemy, …): the role as user, the token percent-encoded as password,
 * `sslmode=verify-full` and the gateway CA as `sslrootcert`. The token expires; stderr says when.
 */
export const connstr: Command = {
  name: 'connstr',
  summary: 'print a postgresql:// URI (token as password) for drivers',
  usage: 'pgkey connstr [DATABASE] [--role ROLE] [--profile NAME] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      { ...TARGET_OPTIONS, json: { type: 'boolean' } },
      { max: 1 },
    );
    const { connectionUri } = await import('../../client/connection.ts');
    const { profile, fresh, target } = await connection(io, values, positionals[0]);
    const uri = connectionUri(profile, target, fresh.token);
    io.stdout.write(
      values.json
        ? `${JSON.stringify({ uri, expires_at: jsonTime(fresh.expiresAt) }, null, 2)}\n`
        : `${uri}\n`,
    );
    warnExpiry(io, 'this URI', fresh.expiresAt);
    return 0;
  },
};
