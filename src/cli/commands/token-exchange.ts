import { PgkeyError } from '../../errors/pgkey-error.ts';
import { parseDuration } from '../../runtime/duration.ts';
import { parseCommandArgs } from '../args.ts';
import { describeExpiry } from '../client-access.ts';
import type { Command } from '../command.ts';
import { SERVICE_OPTIONS, serviceAccess } from '../token-service-access.ts';

/**
 * `pgkey token exchange --agent NAME`: a short token for an AI agent or another program to
 * act for you (OAuth 2.0 Token Exchange, RFC 8693). The gateway sees you, acting through
 * `agent:<name>`: only policy rules that name that actor (or `kind: delegated`) apply, and
 * every audit record shows both. It never outlives your own token.
 */
export const tokenExchange: Command = {
  name: 'token exchange',
  summary: 'hand an agent a short token that acts for you (RFC 8693)',
  usage:
    'pgkey token exchange --agent NAME [--ttl 5m] [--profile NAME] [--service URL] [--token-file FILE] [--cacert FILE] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      ...SERVICE_OPTIONS,
      agent: { type: 'string' },
      ttl: { type: 'string' },
    });
    if (values.agent === undefined) {
      throw new PgkeyError('ERR_USAGE', { message: '--agent is required' });
    }
    const ttlMs = values.ttl === undefined ? undefined : parseDuration(values.ttl);
    if (ttlMs === undefined && values.ttl !== undefined) {
      throw new PgkeyError('ERR_USAGE', {
        message: `--ttl ${values.ttl} is not a duration such as 5m`,
      });
    }
    const { client, token } = await serviceAccess(io, values);
    const issued = await client.exchange(
      token,
      values.agent,
      ttlMs === undefined ? undefined : Math.max(1, Math.floor(ttlMs / 1000)),
    );
    if (values.json) {
      io.stdout.write(`${JSON.stringify(issued, null, 2)}\n`);
      return 0;
    }
    io.stdout.write(`${issued.access_token}\n`);
    io.stderr.write(
      `pgkey: token for agent:${values.agent} acting as you, expires ${describeExpiry(Date.now() + issued.expires_in * 1000)}\n`,
    );
    return 0;
  },
};
