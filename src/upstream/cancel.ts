import net from 'node:net';
import tls from 'node:tls';
import { cancelRequest, sslRequest } from '../protocol/frontend-serializer.ts';
import type { UpstreamTarget } from './connector.ts';

/**
 * Forwards a cancel to the upstream backend that serves a session: a new connection to the
 * same resolved address, TLS like every upstream connection, then CancelRequest with the
 * server's own key (protocol-flow.html §Canceling Requests in Progress). PostgreSQL never
 * answers a cancel and pg_hba is not consulted, so no client credential is needed. Errors
 * are swallowed into the result: a cancel is best effort by definition.
 */
export function sendUpstreamCancel(
  target: UpstreamTarget,
  remote: { readonly address: string; readonly port: number },
  processId: number,
  secretKey: Buffer,
  timeoutMs = 5000,
): Promise<boolean> {
  return new Promise((resolve) => {
    const raw = net.connect({ host: remote.address, port: remote.port, noDelay: true });
    let socket: net.Socket = raw;
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      raw.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    raw.once('error', () => done(false));
    raw.once('connect', () => raw.write(sslRequest()));
    raw.once('data', (reply: Buffer) => {
      if (reply.length !== 1 || reply[0] !== 0x53) return done(false);
      raw.pause();
      const name = target.servername;
      const secure = tls.connect({
        socket: raw,
        ca: target.ca,
        ...(net.isIP(name) === 0 ? { servername: name } : {}),
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
        minVersion: 'TLSv1.2',
      });
      socket = secure;
      secure.once('error', () => done(false));
      secure.once('secureConnect', () => {
        secure.end(cancelRequest(processId, secretKey));
        // The server closes after reading the request; that close is success.
        secure.once('close', () => done(true));
      });
    });
  });
}
