import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { printable } from '../table.ts';
import { SERVICE_OPTIONS, serviceAccess } from '../token-service-access.ts';

/**
 * `pgkey token revoke ID`: the gateway refuses the token from now on and ends its live
 * sessions within a second. Yours, or anyone's for an administrator; revoking twice is fine.
 */
export const tokenRevoke: Command = {
  name: 'token revoke',
  summary: 'revoke a service token: refused at once, its sessions ended',
  usage:
    'pgkey token revoke ID [--reason TEXT] [--profile NAME] [--service URL] [--token-file FILE] [--cacert FILE] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      { ...SERVICE_OPTIONS, reason: { type: 'string' } },
      { min: 1, max: 1 },
    );
    const { client, token } = await serviceAccess(io, values);
    const revoked = await client.revoke(token, positionals[0] ?? '', values.reason);
    if (values.json) {
      io.stdout.write(`${JSON.stringify(revoked, null, 2)}\n`);
      return 0;
    }
    io.stdout.write(
      `revoked ${printable(revoked.subject)} (${revoked.jti}): role ${printable(revoked.role)} on database ${printable(revoked.database)}\n`,
    );
    return 0;
  },
};
