import net from 'node:net';
import type { GatewayContext } from './context.ts';
import { ClientSession } from './client-session.ts';
import { DOOR, type Door } from './token-auth.ts';

export interface Listener {
  readonly host: string;
  readonly port: number;
  /** Connections accepted and not yet closed, in any step, on every listener sharing the count. */
  readonly connections: number;
  /** Stops accepting; existing connections are untouched. */
  close(): Promise<void>;
  /** Ends every connection still before its session (shutdown: nothing may log in after). */
  abortHandshakes(): void;
}

/** Open connections, shared by the gateway's listeners so `max_connections` caps them all. */
export interface ConnectionCount {
  open: number;
}

export interface ListenerOptions {
  /** How sessions on this listener ask for the token (token-auth.ts); default: password. */
  readonly door?: Door;
  /** Shared with the other listeners; default: this listener's own. */
  readonly count?: ConnectionCount;
}

/**
 * The TCP front door. Caps are enforced at accept, before a byte is read: the total number
 * of connections, and handshakes per client address (slowloris, reliability.md A7).
 * `noDelay` because the protocol is small request/response messages and Nagle plus delayed
 * ACK costs ~40 ms per round trip (protocol.md §6).
 */
export function startListener(
  ctx: GatewayContext,
  host: string,
  port: number,
  maxConnections: () => number,
  options: ListenerOptions = {},
): Promise<Listener> {
  const count = options.count ?? { open: 0 };
  const door = options.door ?? DOOR.Password;
  const handshaking = new Set<net.Socket>();
  const server = net.createServer({
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: 60_000,
  });
  server.on('connection', (socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    ctx.observer.accepted();
    if (count.open >= maxConnections()) {
      ctx.observer.rejected('max_connections');
      socket.destroy();
      return;
    }
    if (!ctx.handshakes.acquire(address)) {
      ctx.observer.rejected('handshake_slots');
      socket.destroy();
      return;
    }
    count.open++;
    socket.once('close', () => count.open--);
    handshaking.add(socket);
    const session = new ClientSession(ctx, socket, door);
    session
      .run()
      .catch((error: unknown) => ctx.logger.error({ err: error }, 'session crashed'))
      .finally(() => {
        handshaking.delete(socket);
        ctx.handshakes.release(address);
      });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      const bound = server.address() as net.AddressInfo;
      resolve({
        host: bound.address,
        port: bound.port,
        get connections() {
          return count.open;
        },
        // server.close() stops accepting at once; its callback would wait for every open
        // connection to end, which is the drain's job, not the listener's.
        close: () => {
          server.close();
          return Promise.resolve();
        },
        abortHandshakes: () => {
          for (const socket of handshaking) socket.destroy();
        },
      });
    });
  });
}
