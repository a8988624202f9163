/**
 * What the token service asks of the person behind a request, and the request fields every
 * endpoint shares: a person (not a workload, an agent or a service token) who signed in with
 * a security key, recently enough; lifetimes within the configured maximum; names that are
 * safe in a subject and a log line. Texts name the limit and the config key that sets it.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Identity } from '../identity/identity.ts';
import { formatAge, formatSpan } from '../policy/format.ts';
import { parseDuration } from '../runtime/duration.ts';
import { NAME_PATTERN } from './token-claims.ts';

/** A human with FIDO2 evidence, acting for no one else: the only caller that may mint or delegate. */
export function requirePerson(identity: Identity, what: string): void {
  if (identity.kind !== 'human' || !identity.fido2 || identity.restrictedTo !== undefined) {
    const who =
      identity.kind === 'delegated'
        ? `an agent (${identity.actor ?? 'delegated'}) cannot ${what}`
        : identity.kind === 'workload'
          ? `a workload or service token cannot ${what}`
          : `only a security-key login can ${what}`;
    throw new PgkeyError('ERR_ACCESS_DENIED', {
      message: `${who}: use your own token from pgkey login`,
      reason: 'person_required',
    });
  }
}

/** `auth_time` within `maxAgeMs` (RFC 9470: the step-up challenge names the same max_age). */
export function requireFresh(
  identity: Identity,
  maxAgeMs: number,
  now: number,
  what: string,
): void {
  const age = identity.authTime === undefined ? undefined : now - identity.authTime;
  if (age !== undefined && age <= maxAgeMs) return;
  const yours =
    age === undefined
      ? 'your token does not say when you logged in'
      : `yours was ${formatAge(age)} ago`;
  throw new PgkeyError('ERR_STALE_AUTH', {
    message: `${what} needs a security-key login within the last ${formatSpan(maxAgeMs)}; ${yours}`,
    hint: 'log in again with your security key (pgkey login --fresh), then try again',
    reason: 'stale_auth',
  });
}

export function usage(message: string, hint?: string): PgkeyError {
  return new PgkeyError('ERR_USAGE', { message, hint, reason: 'invalid_request' });
}

/**
 * A requested lifetime: a duration string (`15m`) or whole seconds; absent → `fallbackMs`.
 * Longer than `maxMs` is refused, naming the maximum and the key that sets it.
 */
export function lifetime(value: unknown, fallbackMs: number, maxMs: number, key: string): number {
  if (value === undefined || value === null || value === '') return Math.min(fallbackMs, maxMs);
  const ms =
    typeof value === 'number' && Number.isSafeInteger(value)
      ? value * 1000
      : typeof value === 'string'
        ? (parseDuration(value) ?? (/^\d{1,9}$/.test(value) ? Number(value) * 1000 : undefined))
        : undefined;
  if (ms === undefined || ms < 1000) {
    throw usage('ttl must be a duration such as 15m, or whole seconds of at least 1');
  }
  if (ms > maxMs) {
    throw usage(
      `ttl ${formatSpan(ms)} is longer than the maximum ${formatSpan(maxMs)} (${key})`,
      `ask for at most ${formatSpan(maxMs)}`,
    );
  }
  return ms;
}

/** A service or agent name: lower-case letters, digits, `.`, `_`, `-`; at most 63. */
export function name(value: unknown, field: string): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw usage(`${field} must be 1-63 lower-case letters, digits, ".", "_" or "-"`);
  }
  return value;
}

/** A PostgreSQL database or role name, as the gateway would accept it. */
export function pgName(value: unknown, field: string): string {
  if (
    typeof value !== 'string' ||
    value === '' ||
    Buffer.byteLength(value) > 63 ||
    value.includes('\0')
  ) {
    throw usage(`${field} must be a PostgreSQL name (1-63 bytes)`);
  }
  return value;
}

/** Who did it, for audit `actor`: the e-mail, else the subject. */
export function actorOf(identity: Identity): string {
  return identity.email ?? identity.subject;
}
