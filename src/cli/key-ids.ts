/**
 * Credential ids as operators handle them: shortened in tables, and given back in full or
 * as a prefix, the way git takes an abbreviated commit. A prefix must be long enough to be
 * deliberate and match exactly one key: revoking the wrong person's key is not a typo to
 * forgive.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Credential } from '../store/directory.ts';
import { renderTable } from './table.ts';

/** Shortest prefix `keys revoke` accepts. */
export const MIN_PREFIX = 8;
/** What tables show, lengthened until every shown id is unique. */
const SHOWN = 12;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The prefix length at which every id in `ids` differs from every other (at least 12). */
export function shortIdLength(ids: readonly string[]): number {
  const longest = Math.max(SHOWN, ...ids.map((id) => id.length));
  for (let length = SHOWN; length < longest; length++) {
    if (new Set(ids.map((id) => id.slice(0, length))).size === ids.length) return length;
  }
  return longest;
}

/** `KEY_ID` as typed: a base64url credential id or a prefix of one, else ERR_USAGE. */
export function keyIdArgument(value: string): string {
  if (!BASE64URL.test(value) || value.length > 1400) {
    throw new PgkeyError('ERR_USAGE', {
      message: `not a key id: ${JSON.stringify(value)}`,
      hint: '`pgkey keys list` shows key ids',
    });
  }
  return value;
}

/**
 * The key with this id, else the one key whose id starts with it. ERR_NOT_FOUND for none;
 * ERR_USAGE for a prefix shorter than 8 characters or one that several keys share (the
 * candidates are listed in `detail`).
 */
export function findKey(
  credentials: readonly Credential[],
  idOrPrefix: string,
  ownerOf: (credential: Credential) => string,
): Credential {
  const exact = credentials.find((c) => c.id === idOrPrefix);
  if (exact !== undefined) return exact;
  if (idOrPrefix.length < MIN_PREFIX) {
    throw new PgkeyError('ERR_USAGE', {
      message: `give the full key id or at least ${MIN_PREFIX} characters of it`,
      hint: '`pgkey keys list` shows key ids',
    });
  }
  const matches = credentials.filter((c) => c.id.startsWith(idOrPrefix));
  const [only] = matches;
  if (only !== undefined && matches.length === 1) return only;
  if (only === undefined) {
    throw new PgkeyError('ERR_NOT_FOUND', {
      message: `no key with id or prefix ${idOrPrefix}`,
      hint: '`pgkey keys list` shows every key',
      reason: 'key_not_found',
    });
  }
  throw new PgkeyError('ERR_USAGE', {
    message: `${idOrPrefix} matches ${matches.length} keys: give more of the id`,
    detail: renderTable(
      ['id', 'owner', 'name'],
      matches.map((c) => [c.id, ownerOf(c), c.name]),
    ).trimEnd(),
    reason: 'key_prefix_ambiguous',
  });
}
