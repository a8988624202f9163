import { resolve } from 'node:path';
import type { Profile } from '../../client/profiles.ts';
import type { Tunnel } from '../../tunnel/tunnel.ts';
import type { TunnelEvent } from '../../tunnel/tunnel-events.ts';
import { formatSpan } from '../../policy/format.ts';
import { parseCommandArgs } from '../args.ts';
import { describeExpiry, PROFILE_OPTION } from '../client-access.ts';
import type { Command, CommandIo } from '../command.ts';
import { printable } from '../table.ts';

/**
 * `pgkey tunnel`: a local PostgreSQL port for tools that cannot pass a token — DBeaver,
 * DataGrip, pgAdmin, JDBC applications. They connect to 127.0.0.1 without a password; the
 * tunnel logs each connection in at the profile's gateway with a fresh token (src/tunnel/).
 * Runs until Ctrl+C or SIGTERM, which end live sessions with FATAL 57P01 between statements.
 * The banner goes to stdout, one line per connection to stderr (`--quiet`: refusals only).
 */
export const tunnel: Command = {
  name: 'tunnel',
  summary: 'a local port for GUI tools and JDBC, logged in with a fresh token',
  usage:
    'pgkey tunnel [--profile NAME] [--port 15432] [--bind 127.0.0.1|::1] [--local-password-file FILE] [--quiet]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      ...PROFILE_OPTION,
      port: { type: 'string' },
      bind: { type: 'string' },
      'local-password-file': { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
    });
    const [{ loopbackAddress }, { loadProfile }, { startTunnel }, { loadLocalPassword }] =
      await Promise.all([
        import('../../tunnel/loopback-address.ts'),
        import('../../client/profiles.ts'),
        import('../../tunnel/tunnel.ts'),
        import('../../tunnel/local-password.ts'),
      ]);
    // Before anything else: a non-loopback address is refused whatever the profile says.
    const address = loopbackAddress(values.bind, values.port);
    const profile = await loadProfile(io.env, values.profile);
    const passwordFile =
      values['local-password-file'] === undefined
        ? undefined
        : resolve(io.cwd, values['local-password-file']);
    const local = passwordFile === undefined ? undefined : await loadLocalPassword(passwordFile);
    const log = eventLog(io, values.quiet === true);
    const running = await startTunnel({
      profile,
      address,
      password: local?.password,
      onEvent: log,
    });
    io.stdout.write(await banner(running, profile, passwordFile, local?.created === true));

    await new Promise<void>((done) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        io.stderr.write('pgkey tunnel: stopping\n');
        void running.close().then(done);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  },
};

async function banner(
  running: Tunnel,
  profile: Profile,
  passwordFile: string | undefined,
  created: boolean,
): Promise<string> {
  const { connectHints } = await import('../../tunnel/connect-hints.ts');
  const { formatAddress } = await import('../../tunnel/loopback-address.ts');
  const hints = connectHints(running.address, await exampleTarget(profile));
  const who = running.login.claims.email ?? running.login.claims.sub;
  const gateway = `${profile.gateway.host}:${profile.gateway.port}`;
  const here = formatAddress(running.address);
  const lines = [
    `pgkey tunnel on ${here} → gateway ${gateway}, profile "${profile.name}"${typeof who === 'string' ? ` (${printable(who)})` : ''}`,
    `token valid until ${describeExpiry(running.login.expiresAt)}, refreshed automatically for new connections`,
    '',
    passwordFile === undefined
      ? 'Connect without a password:'
      : `Connect with the password in ${passwordFile}${created ? ' (new, random)' : ''}:`,
    `  ${hints.psql}`,
    `  ${hints.jdbc}`,
    `  ${hints.uri}`,
    '',
    passwordFile === undefined
      ? `Any program on this machine, of any user, can connect to ${here} as you while the tunnel runs;\non a shared machine, use --local-password-file FILE. Ctrl+C stops the tunnel.`
      : 'Ctrl+C stops the tunnel.',
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The database and role for the printed examples: the profile's, else the only ones the
 * gateway's policy gives (when a token service can say), else placeholders.
 */
async function exampleTarget(
  profile: Profile,
): Promise<{ database?: string | undefined; role?: string | undefined }> {
  const known = { database: profile.database, role: profile.role };
  if ((known.database !== undefined && known.role !== undefined) || !profile.token_service) {
    return known;
  }
  const [{ freshAccessToken }, { resolveTarget }] = await Promise.all([
    import('../../client/session-tokens.ts'),
    import('../../client/connection.ts'),
  ]);
  try {
    const { token } = await freshAccessToken(profile, { minValidityMs: 60_000 });
    return await resolveTarget(profile, token, known);
  } catch {
    return known;
  }
}

/** One short human line per event on stderr, e.g. `12:00:01Z #3 analyst@warehouse connected (psql)`. */
function eventLog(io: CommandIo, quiet: boolean): (event: TunnelEvent) => void {
  const write = (text: string): void => {
    io.stderr.write(`${new Date().toISOString().slice(11, 19)}Z ${text}\n`);
  };
  const who = (user: string | undefined, database: string | undefined): string =>
    user === undefined ? '' : ` ${printable(user)}@${printable(database ?? user)}`;
  return (event) => {
    switch (event.kind) {
      case 'refused': {
        const { error } = event;
        const by = event.by === 'gateway' ? 'the gateway' : 'the tunnel';
        write(
          `#${event.id}${who(event.user, event.database)} refused by ${by}: ${error.sqlstate} ${printable(error.message)}`,
        );
        if (error.hint !== undefined) write(`#${event.id}   hint: ${printable(error.hint)}`);
        return;
      }
      case 'connected':
        if (!quiet) {
          const app = event.application ? ` (${printable(event.application)})` : '';
          write(`#${event.id}${who(event.user, event.database)} connected${app}`);
        }
        return;
      case 'closed':
        if (!quiet) write(`#${event.id} ${ENDINGS[event.reason]} after ${span(event)}`);
        return;
      case 'token':
        if (!quiet) write(`new token, valid until ${describeExpiry(event.expiresAt)}`);
        return;
      case 'cancel':
        if (!quiet) {
          write(
            `#${event.id} cancel request ${event.forwarded ? 'forwarded to the gateway' : 'could not reach the gateway'}`,
          );
        }
        return;
      default:
        throw new TypeError(`unhandled event ${JSON.stringify(event satisfies never)}`);
    }
  };
}

const ENDINGS: Record<Extract<TunnelEvent, { kind: 'closed' }>['reason'], string> = {
  client_closed: 'closed',
  upstream_closed: 'ended by the gateway',
  terminated: 'ended (tunnel stopping)',
  idle_timeout: 'ended (idle)',
  error: 'broke off',
};

function span(event: Extract<TunnelEvent, { kind: 'closed' }>): string {
  const seconds = Math.max(Math.round(event.durationMs / 1000), 0) * 1000;
  const time = seconds === 0 ? '<1s' : formatSpan(seconds, 2);
  return `${time} (client sent ${size(event.bytesFromClient)}, received ${size(event.bytesFromServer)})`;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
