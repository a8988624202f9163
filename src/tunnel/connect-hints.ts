import { shellQuote } from '../client/connection.ts';
import { formatAddress, urlHost, type LoopbackAddress } from './loopback-address.ts';

export interface ConnectHints {
  /** A psql command line (libpq conninfo). */
  readonly psql: string;
  /** A pgJDBC URL (DBeaver, DataGrip, any JDBC application). */
  readonly jdbc: string;
  /** A postgresql:// URI (RFC 3986) for other drivers. */
  readonly uri: string;
}

/**
 * How to reach the tunnel, for the banner `pgkey tunnel` prints: no password (the tunnel
 * logs in), no TLS settings (loopback; the tunnel answers SSLRequest with 'N', which libpq's
 * and pgJDBC's default `sslmode=prefer` accept). Unknown names stay as placeholders.
 */
export function connectHints(
  address: LoopbackAddress,
  target: { readonly database?: string | undefined; readonly role?: string | undefined },
): ConnectHints {
  const database = target.database ?? 'DATABASE';
  const role = target.role ?? 'ROLE';
  const host = urlHost(address.host);
  const conninfo = [
    ['host', address.host],
    ['port', String(address.port)],
    ['dbname', database],
    ['user', role],
  ]
    .map(([key, value]) => `${key}=${conninfoValue(value ?? '')}`)
    .join(' ');
  const path = encodeURIComponent(database);
  return {
    psql: `psql ${shellQuote(conninfo)}`,
    jdbc: `jdbc:postgresql://${host}:${address.port}/${path}?user=${encodeURIComponent(role)}`,
    uri: `postgresql://${encodeURIComponent(role)}@${formatAddress(address)}/${path}`,
  };
}

/** libpq conninfo: a value with spaces or quotes goes in single quotes, \ and ' escaped. */
function conninfoValue(value: string): string {
  if (value !== '' && !/[\s'\\]/.test(value)) return value;
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
