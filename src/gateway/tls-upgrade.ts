import type { Socket } from 'node:net';
import tls from 'node:tls';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { alpnProtocols } from '../runtime/owned-buffer.ts';

/** ALPN protocol id registered for PostgreSQL (RFC 7301; PostgreSQL 17 direct TLS). */
export const ALPN_POSTGRESQL = 'postgresql';

/** The list offered, built once (owned-buffer.ts: a per-socket copy must not pin the pool). */
const ALPN = alpnProtocols(ALPN_POSTGRESQL);

/**
 * Starts server-side TLS on an accepted socket. Bytes already read but belonging to the TLS
 * handshake (direct TLS: the ClientHello we sniffed) are handed back with `unshift` first;
 * Node's TLSSocket feeds data already buffered on the wrapped socket into the TLS engine
 * (lib/_tls_wrap.js initRead).
 *
 * `requireAlpn`: PostgreSQL 17+ refuses a direct TLS connection that did not negotiate ALPN
 * `postgresql` (backend_startup.c ProcessSSLStartup), since only that proves the client meant
 * to speak PostgreSQL inside.
 */
export function upgradeToTls(
  socket: Socket,
  secureContext: tls.SecureContext,
  options: { readonly prefix?: Buffer; readonly requireAlpn: boolean },
): Promise<tls.TLSSocket> {
  if (options.prefix !== undefined && options.prefix.length > 0) socket.unshift(options.prefix);
  const secure = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext,
    ALPNProtocols: ALPN,
  });
  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      cleanup();
      secure.destroy();
      reject(error);
    };
    const onSecure = (): void => {
      cleanup();
      if (options.requireAlpn && secure.alpnProtocol !== ALPN_POSTGRESQL) {
        fail(
          new PgkeyError('ERR_PROTOCOL_VIOLATION', {
            reason: 'direct_tls_without_alpn',
            message:
              'received direct SSL connection request without ALPN protocol negotiation extension',
          }),
        );
        return;
      }
      resolve(secure);
    };
    const onError = (error: Error): void =>
      fail(
        new PgkeyError('ERR_PROTOCOL_VIOLATION', { reason: 'tls_handshake_failed', cause: error }),
      );
    const onClose = (): void =>
      fail(new PgkeyError('ERR_PROTOCOL_VIOLATION', { reason: 'tls_handshake_closed' }));
    const cleanup = (): void => {
      secure.off('secure', onSecure);
      secure.off('error', onError);
      secure.off('close', onClose);
    };
    secure.once('secure', onSecure);
    secure.once('error', onError);
    secure.once('close', onClose);
  });
}
