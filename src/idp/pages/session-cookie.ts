/**
 * The account session cookie. It holds only a random session id; everything else stays in
 * the directory (account-sessions.ts).
 *
 * - `__Host-` prefix on https (RFC 6265bis §4.1.3.2): the browser then insists on Secure,
 *   Path=/ and no Domain, so no sibling host can plant or overwrite it. On http://localhost
 *   (development, tests) the prefix is not allowed, so the name is plain.
 * - HttpOnly: no script reads it. SameSite=Strict: a link from another site (an e-mail)
 *   arrives without it, and no other site's form or fetch carries it.
 * - Max-Age follows the session's expiry; sign-out sends Max-Age=0.
 */
import type { IncomingMessage } from 'node:http';

export interface SessionCookie {
  readonly name: string;
  readonly secure: boolean;
}

/** 32 random bytes, base64url. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export function sessionCookie(issuer: string): SessionCookie {
  const secure = new URL(issuer).protocol === 'https:';
  return { name: secure ? '__Host-pgkey_session' : 'pgkey_session', secure };
}

/** The session id the request carries, if it has the shape of one. */
export function readSessionId(req: IncomingMessage, cookie: SessionCookie): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== cookie.name) continue;
    const value = pair.slice(eq + 1).trim();
    if (SESSION_ID.test(value)) return value;
  }
  return undefined;
}

function serialize(cookie: SessionCookie, value: string, maxAgeSeconds: number): string {
  return [
    `${cookie.name}=${value}`,
    'Path=/',
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(cookie.secure ? ['Secure'] : []),
  ].join('; ');
}

export function setSessionCookie(cookie: SessionCookie, id: string, maxAgeMs: number): string {
  return serialize(cookie, id, maxAgeMs / 1000);
}

export function clearSessionCookie(cookie: SessionCookie): string {
  return serialize(cookie, '', 0);
}
