/**
 * Listening on and closing the node:http(s) servers pgkey runs next to the gateway (the
 * built-in provider, the token service, the admin endpoint): the same two steps each needs,
 * written once.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on `host:port` and resolves with the bound address, IPv6 hosts in brackets. */
export async function listenOn(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
}

/**
 * Stops accepting, lets requests in flight finish for `graceMs`, then cuts what is left.
 * Idle keep-alive connections are closed at once: they would otherwise hold `close()` open
 * until their own timeout.
 */
export function closeGracefully(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close((error) => {
      clearTimeout(force);
      if (error) reject(error);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
