/**
 * The name of a person's own PostgreSQL role, and how it is written into SQL. The name is the
 * value of one token claim (`provisioning.name_claim`), exactly: PostgreSQL keeps at most
 * NAMEDATALEN-1 = 63 bytes of an identifier and silently truncates longer ones (scan.l
 * `truncate_identifier`), so two long e-mail addresses could become one role. pgkey refuses
 * such a name instead, with SQLSTATE 42622 as PostgreSQL's own name_too_long. Pure.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import { MAX_ROLE_BYTES } from '../pki/client-cert-issuer.ts';

export const MAX_ROLE_NAME_BYTES = MAX_ROLE_BYTES;

const HINT = 'ask whoever runs pgkey to check provisioning.name_claim (docs/provisioning.md)';

/**
 * The role name for a token's claims. Unicode is normalized to NFC, so the same address typed
 * with a combining accent and with a precomposed one is the same role (and the same bytes in
 * the certificate CN PostgreSQL compares with the user name).
 */
export function roleNameFromClaims(
  claims: Readonly<Record<string, unknown>>,
  claim: string,
): string {
  const value = Object.hasOwn(claims, claim) ? claims[claim] : undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new PgkeyError('ERR_ROLE_NAME_INVALID', {
      message: `your token has no ${JSON.stringify(claim)} claim to name your database role`,
      hint: HINT,
      reason: 'role_name_missing',
    });
  }
  return checkRoleName(value.normalize('NFC'));
}

/**
 * Control characters (C0, DEL, C1: newlines, tabs, escapes) and bidirectional formatting
 * marks. PostgreSQL takes them in a quoted name, but the name is what its log lines
 * (`%u`), pg_stat_activity and pgkey's audit trail show as the person: a newline would
 * forge log lines, a right-to-left override would make one address read as another.
 */
const UNPRINTABLE = /[\p{Cc}\p{Bidi_Control}]/u;

/** The name itself, unchanged, when PostgreSQL would store it byte for byte and let it log in. */
export function checkRoleName(name: string): string {
  if (UNPRINTABLE.test(name) || !name.isWellFormed()) {
    throw new PgkeyError('ERR_ROLE_NAME_INVALID', {
      message: 'your database role name holds a control character or broken Unicode',
      hint: HINT,
      reason: 'role_name_invalid',
    });
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_ROLE_NAME_BYTES) {
    throw new PgkeyError('ERR_ROLE_NAME_TOO_LONG', {
      message: `your database role name ${JSON.stringify(clipBytes(name, 40))} is ${bytes} bytes; PostgreSQL allows ${MAX_ROLE_NAME_BYTES}`,
      detail: 'pgkey never truncates a role name: two people could end up with one role.',
      hint: HINT,
      reason: 'role_name_too_long',
    });
  }
  // user.c CreateRole: "role name \"%s\" is reserved" for these and the pg_ prefix
  // (IsReservedName), quoted or not.
  if (name.startsWith('pg_') || name === 'public' || name === 'none') {
    throw new PgkeyError('ERR_ROLE_NAME_RESERVED', {
      message: `your database role name ${quoteIdent(name)} is reserved by PostgreSQL`,
      hint: HINT,
      reason: 'role_name_reserved',
    });
  }
  return name;
}

/**
 * An identifier as SQL text: always double-quoted, inner quotes doubled. Equivalent to
 * PostgreSQL's quote_ident / format('%I') for every name checkRoleName accepts (which only
 * leaves out quotes that are not needed).
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A string constant in the escape syntax (E'…'), which means the same whatever
 * standard_conforming_strings says: backslashes and single quotes doubled.
 */
export function quoteLiteral(text: string): string {
  if (text.includes('\0')) throw new TypeError('a SQL string cannot hold NUL');
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/** The first characters of `text` whose UTF-8 fits `max` bytes, with … when cut. */
function clipBytes(text: string, max: number): string {
  let out = '';
  for (const char of text) {
    if (Buffer.byteLength(out + char, 'utf8') > max) return `${out}…`;
    out += char;
  }
  return out;
}
