import { isIP } from 'node:net';

/**
 * Whether a URL host names this machine: `localhost`, 127.0.0.0/8 or ::1 (with or without
 * the brackets URL.hostname keeps). Such hosts may use plain http for issuers and JWKS
 * (nothing crosses a network) — every other host must use https.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && host === '::1';
}
