import net from 'node:net';
import type { Profile } from '../client/profiles.ts';
import { freshAccessToken, type FreshToken } from '../client/session-tokens.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import { gatewayDialer } from './gateway-dialer.ts';
import type { LoopbackAddress } from './loopback-address.ts';
import { TunnelConnection } from './tunnel-connection.ts';
import type { TunnelEvent } from './tunnel-events.ts';

/**
 * Every connection's token has at least this long left (`pgkey psql` asks the same): enough
 * for the gateway's login, and a session opened with it ends, at the earliest, two minutes
 * later — between two statements (session.expiry_grace) — after which the client's
 * reconnect gets the next token.
 */
export const TUNNEL_MIN_VALIDITY_MS = 2 * 60_000;

/** How long live sessions get to reach a message boundary when the tunnel stops. */
const STOP_GRACE_MS = 3000;

export interface TunnelOptions {
  readonly profile: Profile;
  readonly address: LoopbackAddress;
  /** `--local-password-file`'s password; undefined: local clients are not asked for one. */
  readonly password?: string | undefined;
  readonly clock?: Clock;
  readonly onEvent?: (event: TunnelEvent) => void;
  /** Where tokens come from; freshAccessToken (the profile's cache, refreshed) by default. */
  readonly tokens?: (profile: Profile, options: { minValidityMs: number }) => Promise<FreshToken>;
}

export interface Tunnel {
  /** Where it listens (the port the system chose when asked for 0). */
  readonly address: LoopbackAddress;
  /** The token checked at start (a tunnel without a login does not start): who and until when. */
  readonly login: Pick<FreshToken, 'expiresAt' | 'claims'>;
  /** Local connections open right now, sessions and handshakes. */
  readonly connections: number;
  /** Stops listening and ends live sessions with FATAL 57P01 between two messages. */
  close(): Promise<void>;
}

/**
 * `pgkey tunnel`: a PostgreSQL listener on a loopback address for clients that cannot
 * handle tokens themselves — GUI tools, JDBC applications, anything with a password field
 * that holds a value for weeks. Each local connection becomes one connection to the
 * profile's gateway, logged in with the profile's token (tunnel-connection.ts); the client
 * is asked for nothing. Like Teleport's `tsh proxy db --tunnel` and tbot's
 * `database-tunnel` (reference/teleport.md §1.1), the tunnel is the credential: whoever can
 * connect to it acts as the person who runs it (docs/clients.md "pgkey tunnel").
 */
export async function startTunnel(options: TunnelOptions): Promise<Tunnel> {
  const clock = options.clock ?? systemClock;
  const emit = options.onEvent ?? (() => undefined);
  const dialer = await gatewayDialer(options.profile);
  const getToken = options.tokens ?? freshAccessToken;
  const fetchToken = () => getToken(options.profile, { minValidityMs: TUNNEL_MIN_VALIDITY_MS });
  // Before listening: not logged in (or the provider ended the login) fails the command.
  const login = await fetchToken();
  let lastToken = login.token;
  const token = async (): Promise<FreshToken> => {
    const fresh = await fetchToken();
    if (fresh.token !== lastToken) {
      lastToken = fresh.token;
      emit({ kind: 'token', expiresAt: fresh.expiresAt });
    }
    return fresh;
  };

  const live = new Set<TunnelConnection>();
  const ended = new Set<Promise<void>>();
  let nextId = 1;
  const server = net.createServer({ noDelay: true }, (socket) => {
    const connection = new TunnelConnection(nextId++, socket, {
      profile: options.profile,
      dialer,
      password: options.password,
      clock,
      token,
      emit,
    });
    live.add(connection);
    const done = connection.run().finally(() => {
      live.delete(connection);
      ended.delete(done);
    });
    ended.add(done);
  });
  await listen(server, options.address);
  const bound = server.address() as net.AddressInfo;

  return {
    address: { host: options.address.host, port: bound.port },
    login: { expiresAt: login.expiresAt, claims: login.claims },
    get connections() {
      return live.size;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const connection of live) {
        connection.terminate({
          severity: 'FATAL',
          code: '57P01',
          message: 'terminating connection because pgkey tunnel is shutting down',
        });
      }
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, STOP_GRACE_MS);
        timer.unref();
      });
      await Promise.race([Promise.allSettled([...ended]), waited]);
      clearTimeout(timer);
      // Whatever did not reach a boundary in time (a client not reading) is cut.
      for (const connection of live) connection.abort();
      await closed;
    },
  };
}

function listen(server: net.Server, address: LoopbackAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new PgkeyError('ERR_USAGE', {
          message:
            error.code === 'EADDRINUSE'
              ? `${address.host} port ${address.port} is already in use`
              : `cannot listen on ${address.host} port ${address.port} (${error.code ?? 'error'})`,
          hint:
            error.code === 'EADDRINUSE'
              ? 'another pgkey tunnel (or PostgreSQL) runs there: pass --port'
              : undefined,
          reason: 'tunnel_listen_failed',
          cause: error,
        }),
      );
    });
    server.listen({ host: address.host, port: address.port, exclusive: true }, () => resolve());
  });
}
