import { PgkeyError } from '../errors/pgkey-error.ts';
import { MAX_AUTH_MESSAGE_LENGTH } from './constants.ts';

/**
 * The server side of SASL OAUTHBEARER (RFC 7628) as PostgreSQL 18 speaks it
 * (src/backend/libpq/auth-oauth.c): parsing the client's responses and formatting the
 * server's error result. Pure and byte-exact: the checks run in auth-oauth.c's order and
 * fail with its SQLSTATEs, messages and details, so a client sees what PostgreSQL would
 * have sent. Nothing here ever echoes a byte of a bearer token.
 */

/** The mechanism name in AuthenticationSASL and SASLInitialResponse (RFC 7628 §3). */
export const OAUTHBEARER = 'OAUTHBEARER';

/** RFC 7628 §3.1 `kvsep = %x01`; alone, it is also the §3.2.3 dummy client response. */
export const KVSEP = 0x01;

/** What the client's (initial) response asks for. */
export type ClientResponse =
  /** `auth=` with an empty value: a request for the server's OAuth parameters (RFC 7628 §4.3). */
  | { readonly kind: 'discovery' }
  /** `auth=Bearer <b64token>` (RFC 6750 §2.1). */
  | { readonly kind: 'bearer'; readonly token: string }
  /**
   * An `auth` value that is no Bearer credential. PostgreSQL treats it as a failed
   * validation (the error result, then FATAL), not as a protocol violation, and says why
   * only in its own log (validate_token_format).
   */
  | { readonly kind: 'malformed-token'; readonly problem: MalformedToken };

export type MalformedToken = 'not-bearer' | 'empty' | 'invalid-characters';

const COMMA = 0x2c;
const EQUALS = 0x3d;
const SPACE = 0x20;

/**
 * Parses a client initial response, `gs2-header kvsep *kvpair kvsep` (RFC 7628 §3.1), from
 * SASLInitialResponse or, after an empty AuthenticationSASLContinue, from SASLResponse.
 * Throws 08P01 "malformed OAUTHBEARER message" or 0A000 for an authorization identity.
 */
export function parseClientResponse(data: Buffer): ClientResponse {
  checkFraming(data);
  // auth-oauth.c reads a NUL-terminated copy: past the end it sees 0x00, and so do we.
  const at = (i: number): number => data[i] ?? 0;
  let p = 0;

  // RFC 5801 gs2-cbind-flag. OAUTHBEARER defines no channel binding (there is no -PLUS), so
  // `p=` is refused; `y` is accepted so a future client that could bind still gets in.
  const flag = at(p);
  switch (flag) {
    case 0x70: // 'p'
      throw malformed(
        'The server does not support channel binding for OAuth, but the client message includes channel binding data.',
      );
    case 0x79: // 'y'
    case 0x6e: // 'n'
      p++;
      if (at(p) !== COMMA) {
        throw malformed(`Comma expected, but found character "${sanitize(at(p))}".`);
      }
      p++;
      break;
    default:
      throw malformed(`Unexpected channel-binding flag "${sanitize(flag)}".`);
  }

  // RFC 5801 gs2-authzid (`a=…`): pgkey, like PostgreSQL, has no use for one.
  if (at(p) === 0x61) {
    throw new PgkeyError('ERR_FEATURE_NOT_SUPPORTED', {
      message: 'client uses authorization identity, but it is not supported',
      reason: 'oauthbearer_authzid',
    });
  }
  if (at(p) !== COMMA) {
    throw malformed(`Unexpected attribute "${sanitize(at(p))}" in client-first-message.`);
  }
  p++;
  if (at(p) !== KVSEP) {
    throw malformed(`Key-value separator expected, but found character "${sanitize(at(p))}".`);
  }
  p++;

  const { auth, end } = parseKvpairs(data, p);
  if (auth === undefined) throw malformed('Message does not contain an auth value.');
  if (end < data.length) {
    throw malformed('Message contains additional data after the final terminator.');
  }
  return authValue(auth);
}

/**
 * The only response a client may give after the error result: one kvsep byte, the
 * RFC 7628 §3.2.3 dummy that completes the failed exchange. Throws 08P01 otherwise.
 */
export function parseDummyResponse(data: Buffer): void {
  checkFraming(data);
  if (data.length !== 1 || data[0] !== KVSEP) {
    throw malformed('Client did not send a kvsep response.');
  }
}

/**
 * The discovery document the error result points to: the issuer with
 * `/.well-known/openid-configuration` appended, unless it already names a `/.well-known/`
 * URI (auth-oauth.c generate_error_response). libpq 18 derives the issuer back from it and
 * compares it byte for byte with its `oauth_issuer`.
 */
export function discoveryUri(issuer: string): string {
  return issuer.includes('/.well-known/') ? issuer : `${issuer}/.well-known/openid-configuration`;
}

/**
 * The RFC 7628 §3.2.2 error result carried by AuthenticationSASLContinue after a discovery
 * request or a rejected token, laid out byte for byte as auth-oauth.c builds it, spaces
 * included. `status` must be `invalid_token`: it is the only one libpq 18 retries on.
 */
export function errorResult(issuer: string, scope: string): Buffer {
  // JSON.stringify escapes what PostgreSQL's escape_json does: `"`, `\`, and the C0 controls.
  const json =
    `{ "status": "invalid_token", "openid-configuration": ${JSON.stringify(discoveryUri(issuer))}, ` +
    `"scope": ${JSON.stringify(scope)} }`;
  return Buffer.from(json, 'utf8');
}

/**
 * Checks every client response goes through first: the size cap (the cleartext door's,
 * before anything is read), then auth-oauth.c's "empty" and "length does not match" checks
 * (a NUL anywhere would end PostgreSQL's C string early).
 */
function checkFraming(data: Buffer): void {
  if (data.length > MAX_AUTH_MESSAGE_LENGTH) {
    throw new PgkeyError('ERR_PROTOCOL_VIOLATION', {
      message: 'malformed OAUTHBEARER message',
      detail: `The message is longer than ${MAX_AUTH_MESSAGE_LENGTH} bytes.`,
      reason: 'oauthbearer_too_long',
    });
  }
  if (data.length === 0) throw malformed('The message is empty.');
  if (data.includes(0)) throw malformed('Message length does not match input length.');
}

/**
 * RFC 7628 §3.1 `*kvpair kvsep`, from `start` (just after the gs2 header's kvsep) to the
 * empty pair that ends the list. Returns the `auth` value and the offset after the list.
 * Unknown keys (`host`, `port`, anything else) are ignored, as §3.1 requires.
 */
function parseKvpairs(data: Buffer, start: number): { auth: string | undefined; end: number } {
  let auth: string | undefined;
  let pos = start;
  while (pos < data.length) {
    const end = data.indexOf(KVSEP, pos);
    if (end === -1) throw malformed('Message contains an unterminated key/value pair.');
    if (end === pos) return { auth, end: pos + 1 }; // the empty kvpair: end of the list
    const sep = data.indexOf(EQUALS, pos);
    if (sep === -1 || sep > end) throw malformed('Message contains a key without a value.');
    const key = data.subarray(pos, sep);
    const value = data.subarray(sep + 1, end);
    checkKey(key);
    checkValue(value);
    if (key.equals(AUTH_KEY)) {
      if (auth !== undefined) throw malformed('Message contains multiple auth values.');
      auth = value.toString('latin1'); // checked: VCHAR, SP, HTAB, CR and LF only
    }
    pos = end + 1;
  }
  throw malformed('Message did not contain a final terminator.');
}

const AUTH_KEY = Buffer.from('auth', 'latin1');

/** RFC 7628 §3.1 `key = 1*(ALPHA)`. */
function checkKey(key: Buffer): void {
  if (key.length === 0) throw malformed('Message contains an empty key name.');
  for (const byte of key) {
    const alpha = (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
    if (!alpha) throw malformed('Message contains an invalid key name.');
  }
}

/** RFC 7628 §3.1 `value = *(VCHAR / SP / HTAB / CR / LF)`; bytes above 0x7E are not VCHAR. */
function checkValue(value: Buffer): void {
  for (const byte of value) {
    const vchar = byte >= 0x21 && byte <= 0x7e;
    if (!vchar && byte !== SPACE && byte !== 0x09 && byte !== 0x0d && byte !== 0x0a) {
      throw malformed('Message contains an invalid value.');
    }
  }
}

/**
 * RFC 6750 §2.1 `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`,
 * checked as auth-oauth.c does it (strspn, then any '='s): a non-empty run of '=' alone passes.
 */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]*=*$/;

/**
 * The `auth` value (auth-oauth.c validate_token_format): empty is discovery; otherwise the
 * scheme `Bearer ` matched case-insensitively (RFC 7628 §4, RFC 9110 §11.1), any further
 * spaces skipped, then one non-empty b64token.
 */
function authValue(auth: string): ClientResponse {
  if (auth === '') return { kind: 'discovery' };
  if (auth.slice(0, BEARER.length).toLowerCase() !== BEARER) {
    return { kind: 'malformed-token', problem: 'not-bearer' };
  }
  let start = BEARER.length;
  while (auth.charCodeAt(start) === SPACE) start++;
  const token = auth.slice(start);
  if (token === '') return { kind: 'malformed-token', problem: 'empty' };
  if (!B64TOKEN.test(token)) return { kind: 'malformed-token', problem: 'invalid-characters' };
  return { kind: 'bearer', token };
}

const BEARER = 'bearer ';

/** auth-oauth.c sanitize_char: a printable character quoted, anything else as hex. */
function sanitize(byte: number): string {
  return byte >= 0x21 && byte <= 0x7e
    ? `'${String.fromCharCode(byte)}'`
    : `0x${byte.toString(16).padStart(2, '0')}`;
}

function malformed(detail: string): PgkeyError {
  return new PgkeyError('ERR_PROTOCOL_VIOLATION', {
    message: 'malformed OAUTHBEARER message',
    detail,
    reason: 'oauthbearer_malformed',
  });
}
