import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { formatTime, renderTable } from '../table.ts';
import { SERVICE_OPTIONS, serviceAccess } from '../token-service-access.ts';

/**
 * `pgkey token list`: the service tokens you minted (administrators: everyone's), newest
 * first, with their state. Tokens themselves are never shown again; ids are for revoking.
 */
export const tokenList: Command = {
  name: 'token list',
  summary: 'list the service tokens you minted (administrators: all)',
  usage:
    'pgkey token list [--profile NAME] [--service URL] [--token-file FILE] [--cacert FILE] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, SERVICE_OPTIONS);
    const { client, token } = await serviceAccess(io, values);
    const { tokens } = await client.list(token);
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ tokens }, null, 2)}\n`);
      return 0;
    }
    if (tokens.length === 0) {
      io.stdout.write('no service tokens yet: pgkey token mint --name NAME --db DB --role ROLE\n');
      return 0;
    }
    io.stdout.write(
      renderTable(
        ['id', 'name', 'database', 'role', 'minted by', 'expires', 'state'],
        tokens.map((t) => [
          t.jti,
          t.name,
          t.database,
          t.role,
          t.minted_by.email ?? t.minted_by.sub,
          formatTime(Date.parse(t.expires_at)),
          t.state === 'revoked' ? `revoked by ${t.revoked_by ?? '?'}` : t.state,
        ]),
      ),
    );
    return 0;
  },
};
