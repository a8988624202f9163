/**
 * CSRF synchronizer tokens (OWASP CSRF Prevention Cheat Sheet, "Synchronizer Token
 * Pattern"): each account session gets one random token at sign-in, kept server-side with
 * the session. Every form carries it in a hidden `csrf` field, every fetch() in an
 * `X-CSRF-Token` header; a request whose token does not match changes nothing.
 *
 * It is one of two layers: the http layer also insists on a same-origin request
 * (Origin / Sec-Fetch-Site, http/form-request.ts and http/json-request.ts), and the session
 * cookie is SameSite=Strict.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Random } from '../../runtime/random.ts';

export const CSRF_FIELD = 'csrf';
export const CSRF_HEADER = 'x-csrf-token';

const CSRF_BYTES = 32;
const MAX_TOKEN_LENGTH = 256;

export function newCsrfToken(random: Random): string {
  return random.bytes(CSRF_BYTES).toString('base64url');
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Constant-time comparison. Both sides are hashed first, so neither the length nor a common
 * prefix of the expected token shows in the timing.
 */
export function csrfMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given === '' || given.length > MAX_TOKEN_LENGTH) return false;
  return timingSafeEqual(digest(expected), digest(given));
}
