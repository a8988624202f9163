import { PgkeyError } from '../../errors/pgkey-error.ts';
import { parseCommandArgs } from '../args.ts';
import { describeExpiry } from '../client-access.ts';
import type { Command } from '../command.ts';
import { printable } from '../table.ts';
import { SERVICE_OPTIONS, serviceAccess } from '../token-service-access.ts';

/**
 * `pgkey token mint`: a service token for one database and role (a CI job, a cron script),
 * minted by the person at the token service. Needs a recent security-key login
 * (`token_service.mint.fresh_auth`, 5 minutes by default: `pgkey login --fresh` first) and a
 * policy rule that grants the person that role. The token goes to stdout alone, for a
 * secret store; what it is and how to revoke it go to stderr. It is shown once.
 */
export const tokenMint: Command = {
  name: 'token mint',
  summary: 'mint a short-lived service token for one database and role (CI, scripts)',
  usage:
    'pgkey token mint --name NAME --db DATABASE --role ROLE [--ttl 15m] [--profile NAME] [--service URL] [--token-file FILE] [--cacert FILE] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      ...SERVICE_OPTIONS,
      name: { type: 'string' },
      db: { type: 'string' },
      role: { type: 'string' },
      ttl: { type: 'string' },
    });
    if (values.name === undefined || values.db === undefined || values.role === undefined) {
      throw new PgkeyError('ERR_USAGE', { message: '--name, --db and --role are required' });
    }
    const { client, token } = await serviceAccess(io, values);
    const minted = await client.mint(token, {
      name: values.name,
      database: values.db,
      role: values.role,
      ...(values.ttl === undefined ? {} : { ttl: values.ttl }),
    });
    if (values.json) {
      io.stdout.write(`${JSON.stringify(minted, null, 2)}\n`);
      return 0;
    }
    io.stdout.write(`${minted.access_token}\n`);
    const info = minted.token;
    io.stderr.write(
      [
        `pgkey: minted ${printable(info.subject)} for role ${printable(info.role)} on database ${printable(info.database)}`,
        `  expires  ${describeExpiry(Date.parse(info.expires_at))}`,
        `  id       ${info.jti}`,
        `  revoke   pgkey token revoke ${info.jti}`,
        '',
      ].join('\n'),
    );
    return 0;
  },
};
