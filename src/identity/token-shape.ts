/**
 * Checks on the raw token string that run before any key lookup or crypto: the size cap,
 * compact-JWS layout, and a protected header that names no key material, compression or
 * extension we do not implement (RFC 8725 §2 lists the attacks; reliability.md §7 B10–B17).
 *
 * Only the protected header and the unverified `iss` are read here; `iss` merely picks the
 * issuer whose keys then verify the signature (RFC 8725 §3.10: nothing in the token is trusted
 * before that). Everything is bounded: the whole token, the header segment, `kid`.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';

/** Larger tokens are refused before any decoding (reliability.md §7 B17). */
export const MAX_TOKEN_BYTES = 65_536;
/** Real JWS headers are a few hundred bytes; a 16 KiB header is already hostile. */
export const MAX_HEADER_CHARS = 16_384;
/** `kid` is only ever a key into an in-memory map (RFC 8725 §3.10). */
export const MAX_KID_LENGTH = 256;

/**
 * Header parameters that carry or point at key material (RFC 7515 §4.1.3–4.1.6: CVE-2018-0114,
 * and SSRF through `jku`/`x5u`), plus JWE-only parameters (RFC 7516 §4.1, RFC 7518 §4.6–4.8):
 * a JWS carrying them is a confused or hostile token, and `zip`/`p2c` are DoS vectors.
 */
const FORBIDDEN_HEADER_PARAMS = [
  'jwk',
  'jku',
  'x5u',
  'x5c',
  'zip',
  'enc',
  'epk',
  'apu',
  'apv',
  'p2s',
  'p2c',
  'iv',
  'tag',
] as const;

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export interface UnverifiedToken {
  /** The protected header; `alg` passed the issuer-independent checks. */
  readonly header: Readonly<Record<string, unknown>>;
  readonly alg: string;
  readonly kid: string | undefined;
  /** The `iss` claim before verification: used only to choose the issuer config. */
  readonly issuer: string;
}

function malformed(message: string, cause?: unknown): PgkeyError {
  return new PgkeyError('ERR_TOKEN_INVALID', {
    message: `token rejected: ${message}`,
    hint: 'pgkey expects a signed JWT access token: three base64url segments joined by dots.',
    reason: 'token_malformed',
    cause,
  });
}

function rejected(reason: string, message: string): PgkeyError {
  return new PgkeyError('ERR_TOKEN_INVALID', { message: `token rejected: ${message}`, reason });
}

function decodeJsonObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(Buffer.from(segment, 'base64url')));
  } catch (cause) {
    throw malformed(`the ${what} is not base64url-encoded JSON`, cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(`the ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Splits and inspects a token. Throws PgkeyError ERR_TOKEN_INVALID with reason
 * `token_too_large`, `token_malformed`, `token_alg_forbidden`, `token_header_forbidden`,
 * `token_kid_invalid`, `token_signature_invalid` (no signature) or `token_claims_invalid`
 * (no string `iss`). Never does I/O.
 */
export function inspectToken(token: string): UnverifiedToken {
  // String length is a lower bound on the UTF-8 size; the alphabet check below then makes
  // bytes == characters, so this one comparison is the byte cap.
  if (typeof token !== 'string') throw malformed('not a string');
  if (token.length > MAX_TOKEN_BYTES) {
    throw rejected('token_too_large', `longer than ${MAX_TOKEN_BYTES} bytes`);
  }
  const segments = token.split('.', 6);
  // RFC 7515 §7.1: compact JWS is exactly three segments; five is a JWE (RFC 7516 §7.1),
  // which we never decrypt, so it is refused before anything is decoded.
  if (segments.length !== 3) throw malformed('not a compact JWS (expected three segments)');
  const [headerPart = '', payloadPart = '', signaturePart = ''] = segments;
  if (headerPart === '' || payloadPart === '' || !segments.every((s) => BASE64URL.test(s))) {
    throw malformed('a segment is empty or not base64url');
  }
  if (headerPart.length > MAX_HEADER_CHARS) throw malformed('the header is too large');

  const header = decodeJsonObject(headerPart, 'header');
  checkHeader(header);
  const alg = header.alg as string;
  const kid = header.kid as string | undefined;
  if (signaturePart === '') {
    throw rejected('token_signature_invalid', 'it carries no signature');
  }

  const claims = decodeJsonObject(payloadPart, 'payload');
  if (typeof claims.iss !== 'string') {
    throw rejected('token_claims_invalid', 'missing iss claim');
  }
  return { header, alg, kid, issuer: claims.iss };
}

function checkHeader(header: Record<string, unknown>): void {
  const { alg, kid, crit, b64 } = header;
  // RFC 8725 §3.1: the algorithm comes from our allowlist, never from the token. `none` and
  // HMAC are refused outright so a public key can never become an HMAC secret (CVE-2016-10555).
  if (typeof alg !== 'string' || alg === '') {
    throw rejected('token_alg_forbidden', 'the header has no alg');
  }
  if (alg.toLowerCase() === 'none' || /^hs/i.test(alg)) {
    throw rejected('token_alg_forbidden', 'unsigned and HMAC tokens are not accepted');
  }
  for (const name of FORBIDDEN_HEADER_PARAMS) {
    if (Object.hasOwn(header, name)) {
      throw rejected('token_header_forbidden', `header parameter ${name} is not accepted`);
    }
  }
  // RFC 7515 §4.1.11: a recipient MUST reject extensions in `crit` it does not understand;
  // pgkey understands none.
  if (crit !== undefined) {
    throw rejected('token_header_forbidden', 'header parameter crit is not accepted');
  }
  // RFC 7797 §3: an unencoded payload (`b64: false`) is not a JWT (RFC 7797 §7).
  if (b64 !== undefined && b64 !== true) {
    throw rejected('token_header_forbidden', 'header parameter b64 is not accepted');
  }
  if (kid !== undefined && (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH)) {
    throw rejected(
      'token_kid_invalid',
      `kid must be a non-empty string of at most ${MAX_KID_LENGTH} characters`,
    );
  }
}
