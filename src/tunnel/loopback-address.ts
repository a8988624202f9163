import { isIP } from 'node:net';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { isLoopbackHost } from '../runtime/loopback.ts';

/** Where `pgkey tunnel` listens unless told otherwise: PostgreSQL's port with a 1 in front. */
export const DEFAULT_TUNNEL_PORT = 15432;
export const DEFAULT_TUNNEL_HOST = '127.0.0.1';

export interface LoopbackAddress {
  /** An IP literal: 127.0.0.0/8 or ::1. */
  readonly host: string;
  /** 0 asks the system for a free port (tests). */
  readonly port: number;
}

/**
 * The tunnel's `--bind` and `--port`. Only a loopback IP is accepted: the tunnel hands the
 * person's identity to whoever connects, without a credential, so it must never listen where
 * another machine can reach it (0.0.0.0, ::, a LAN address, a name that might resolve to
 * one). `localhost` is refused too, as a name: it can resolve to either family, or to
 * anything an /etc/hosts says.
 */
export function loopbackAddress(
  bind: string | undefined,
  port: string | undefined,
): LoopbackAddress {
  const host = unbracket(bind ?? DEFAULT_TUNNEL_HOST);
  if (isIP(host) === 0 || !isLoopbackHost(host)) {
    throw new PgkeyError('ERR_USAGE', {
      message: `--bind ${bind ?? ''}: the tunnel listens on a loopback address only (127.0.0.1 or ::1)`,
      hint: 'the tunnel lets whoever connects use your login; it must not be reachable from another machine',
      reason: 'tunnel_bind_refused',
    });
  }
  return { host, port: parsePort(port) };
}

function parsePort(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TUNNEL_PORT;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65_535)) {
    throw new PgkeyError('ERR_USAGE', { message: `--port ${text}: not a port number` });
  }
  return port;
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** `127.0.0.1:15432`, `[::1]:15432`: how URLs and people write it. */
export function formatAddress(address: LoopbackAddress): string {
  return `${urlHost(address.host)}:${address.port}`;
}

/** The host as it goes into a URL (RFC 3986 §3.2.2: IPv6 in brackets). */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
